"""What each endpoint becomes on Kubernetes: objects, probes, security, resources, secrets."""

from __future__ import annotations

import pytest

from flashctl.errors import RenderError
from flashctl.kubernetes import manifests
from flashctl.render.contexts import DRAIN_SECONDS
from tests.kubernetes.conftest import (
    CPU,
    GPU,
    by_kind,
    container,
    documents,
    load_example,
    pod_spec,
)

CANARY = "k8s_canary_5d4c3b2a1f0e"


def test_every_endpoint_gets_configmap_service_deployment_autoscaler_and_budget(render):
    files = render(load_example())
    assert sorted(files) == ["cpu.yaml", "gpu.yaml", "users.yaml"]
    kinds = [d["kind"] for d in documents(files["gpu.yaml"])]
    assert kinds == [
        "ConfigMap",
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    ]
    for data in files.values():
        names = {d["metadata"]["name"] for d in documents(data)}
        assert len(names) == 1 and names.pop().startswith("seed-")


def test_a_cpu_endpoint_gets_its_flavors_cpus_and_memory_as_requests_and_limits(
    make_project, render
):
    data = render(make_project(CPU))["api.yaml"]
    sized = {"cpu": "4", "memory": "16Gi"}  # the first configuration: cpu3g has 4 GB per vCPU
    assert container(data)["resources"] == {"requests": sized, "limits": sized}
    spec = pod_spec(data)
    assert "nodeSelector" not in spec and "tolerations" not in spec
    assert spec["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "30Gi"}}]


@pytest.mark.parametrize(
    ("flavor", "memory"), [("cpu3c", "4Gi"), ("cpu5c", "4Gi"), ("cpu5g", "8Gi")]
)
def test_cpu_flavors_map_to_their_ram_per_vcpu(make_project, render, flavor, memory):
    text = CPU.replace(
        "[{flavor: cpu3g, vcpus: 4}, {flavor: cpu5c, vcpus: 8}]",
        f"[{{flavor: {flavor}, vcpus: 2}}]",
    ).replace("disk_gb: 30", "disk_gb: 10")
    resources = container(render(make_project(text))["api.yaml"])["resources"]
    assert resources["limits"] == {"cpu": "2", "memory": memory}


def test_a_gpu_endpoint_asks_for_its_gpus_and_lands_on_gpu_nodes(make_project, render):
    data = render(make_project(GPU))["detect.yaml"]
    resources = container(data)["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == "2"
    assert resources["requests"] == {"cpu": "4", "memory": "16Gi"}
    assert "cpu" not in resources["limits"]  # data loading is never throttled
    spec = pod_spec(data)
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert spec["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_the_gpu_node_selector_and_toleration_can_be_replaced_or_removed(make_project, render):
    text = GPU.replace(
        "        runtime:",
        "        kubernetes:\n"
        "          node_selector: {cloud.google.com/gke-accelerator: nvidia-l4}\n"
        "          tolerations: []\n"
        "        runtime:",
    )
    spec = pod_spec(render(make_project(text))["detect.yaml"])
    assert spec["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert "tolerations" not in spec
    text = GPU.replace(
        "        runtime:", "        kubernetes: {node_selector: {}}\n        runtime:"
    )
    assert "nodeSelector" not in pod_spec(render(make_project(text))["detect.yaml"])


def test_resources_from_the_kubernetes_block_override_per_name(make_project, render):
    text = GPU.replace(
        "        runtime:",
        "        kubernetes:\n"
        "          resources: {requests: {memory: 24Gi}, limits: {memory: 32Gi, cpu: 8}}\n"
        "        runtime:",
    )
    resources = container(render(make_project(text))["detect.yaml"])["resources"]
    assert resources == {
        "requests": {"cpu": "4", "memory": "24Gi"},
        "limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2"},
    }


def test_replicas_and_autoscaler_follow_workers_with_at_least_one_pod(make_project, render):
    cpu = by_kind(render(make_project(CPU))["api.yaml"])
    assert cpu["Deployment"]["spec"]["replicas"] == 1  # workers.min 0: Kubernetes keeps one
    hpa = cpu["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 1)
    assert hpa["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ]
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300  # idle_timeout
    assert "PodDisruptionBudget" not in cpu  # workers.max 1: nothing to keep available
    gpu = by_kind(render(make_project(GPU))["detect.yaml"])
    assert gpu["Deployment"]["spec"]["replicas"] == 2
    hpa = gpu["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert gpu["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1


def test_the_service_maps_port_80_to_the_runtime_port(make_project, render):
    data = render(make_project(CPU))["api.yaml"]
    service = by_kind(data)["Service"]["spec"]
    assert service["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert container(data)["ports"] == [{"name": "http", "containerPort": 9000, "protocol": "TCP"}]
    assert service["selector"] == by_kind(data)["Deployment"]["spec"]["selector"]["matchLabels"]


def test_metrics_on_adds_the_prometheus_scrape_annotations_to_the_pod_template(
    make_project, render
):
    def annotations(text: str) -> dict[str, str]:
        data = render(make_project(text))["api.yaml"]
        template = by_kind(data)["Deployment"]["spec"]["template"]
        return dict(template["metadata"]["annotations"])

    on = annotations(
        CPU.replace("          port: 9000", "          port: 9000\n          metrics: true")
    )
    assert {key: value for key, value in on.items() if key.startswith("prometheus.io/")} == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9000",
        "prometheus.io/path": "/metrics",
    }
    off = annotations(CPU)
    assert not [key for key in off if key.startswith("prometheus.io/")]


def test_probes_use_the_runtime_ping_and_the_startup_probe_covers_a_slow_load(make_project, render):
    text = CPU.replace(
        "        runtime:", "        kubernetes: {startup_timeout: 1200}\n        runtime:"
    )
    c = container(render(make_project(text))["api.yaml"])
    assert c["readinessProbe"]["httpGet"] == {"path": "/ping?ready=1", "port": "http"}
    assert c["startupProbe"]["httpGet"] == {"path": "/ping?ready=1", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/ping", "port": "http"}
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == 1200


def test_the_grace_period_outlasts_the_pre_stop_pause_and_the_runtime_drain(make_project, render):
    data = render(make_project(CPU))["api.yaml"]
    grace = pod_spec(data)["terminationGracePeriodSeconds"]
    assert grace > manifests.PRESTOP_SECONDS + DRAIN_SECONDS
    assert container(data)["lifecycle"]["preStop"]["exec"]["command"][0] == "python"


def test_pods_run_as_uid_1000_without_privileges_on_a_read_only_root(make_project, render):
    data = render(make_project(CPU))["api.yaml"]
    pod = pod_spec(data)["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 1000
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    c = container(data)
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert "command" not in c and "args" not in c  # the image's own CMD, as on RunPod
    assert pod_spec(data)["automountServiceAccountToken"] is False


def test_env_comes_from_the_configmap_with_strings_kubectl_reads_as_strings(make_project, render):
    data = render(make_project(CPU))["api.yaml"]
    config = by_kind(data)["ConfigMap"]["data"]
    assert config == {
        "FLASHCTL_PROJECT": "shop",
        "HOME": "/tmp",
        "MODE": "on",  # YAML 1.1 would read an unquoted on as true
        "PORT": "9000",
        "PORT_HEALTH": "9000",
        "RETRIES": "3",
    }
    assert b"MODE: 'on'" in data
    assert container(data)["envFrom"] == [{"configMapRef": {"name": "shop-api"}}]
    digest = by_kind(data)["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert list(digest) == ["flashctl.dev.flows/config-sha256"]


def test_a_changed_env_value_rolls_the_pods(make_project, render):
    before = by_kind(render(make_project(CPU))["api.yaml"])["Deployment"]
    after = by_kind(render(make_project(CPU.replace('"on"', '"off"')))["api.yaml"])["Deployment"]
    template = ("spec", "template", "metadata", "annotations")

    def annotation(d):
        for key in template:
            d = d[key]
        return d

    assert annotation(before) != annotation(after)


def test_secrets_are_secret_key_refs_to_the_project_secret_keyed_by_secret_name(
    make_project, render
):
    c = container(render(make_project(CPU))["api.yaml"])
    assert c["env"] == [
        {
            "name": "API_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "shop-secrets", "key": "API_TOKEN"}},
        },
        {
            "name": "DB_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "shop-secrets", "key": "db-password"}},
        },
    ]
    text = CPU.replace(
        "        runtime:", "        kubernetes: {secret_name: shop-prod}\n        runtime:"
    )
    c = container(render(make_project(text))["api.yaml"])
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in c["env"]} == {"shop-prod"}


def test_no_secret_value_reaches_the_rendered_yaml(make_project, render, monkeypatch):
    for name in ("DB_PASSWORD", "db-password", "API_TOKEN", "HF_TOKEN", "hf_token"):
        monkeypatch.setenv(name, CANARY)
    variables = {name: CANARY for name in ("DB_PASSWORD", "db-password", "API_TOKEN", "hf_token")}
    files = render(make_project(CPU, variables=variables))
    files.update(render(load_example(variables)))
    for name, data in files.items():
        assert CANARY.encode() not in data, name
    header = files["gpu.yaml"].split(b"---", 1)[0].decode()
    assert "kubectl create secret generic seed-secrets --from-literal=hf_token=..." in header


def test_labels_are_the_recommended_set_and_the_selector_never_changes(make_project, render):
    data = render(make_project(CPU))["api.yaml"]
    labels = by_kind(data)["Deployment"]["metadata"]["labels"]
    assert labels == {
        "app.kubernetes.io/component": "api",
        "app.kubernetes.io/instance": "shop-api",
        "app.kubernetes.io/managed-by": "flashctl",
        "app.kubernetes.io/name": "api",
        "app.kubernetes.io/part-of": "shop",
        "app.kubernetes.io/version": "2.0.1",
    }
    selector = by_kind(data)["Deployment"]["spec"]["selector"]["matchLabels"]
    assert selector == {"app.kubernetes.io/instance": "shop-api", "app.kubernetes.io/name": "api"}
    gpu = by_kind(render(make_project(GPU))["detect.yaml"])["Service"]["metadata"]["labels"]
    assert "app.kubernetes.io/version" not in gpu  # a digest is not a version


def test_environment_overlays_name_objects_and_pick_the_namespace(make_project, render):
    text = (
        CPU
        + """
    environments:
      prod:
        endpoints:
          api:
            kubernetes:
              namespace: shop-prod
              ingress: {host: api.shop.example.com, class_name: nginx, tls_secret: shop-tls}
    """
    )
    objects = documents(render(make_project(text, environment="prod"))["api.yaml"])
    assert {o["metadata"]["name"] for o in objects} == {"shop-api-prod"}
    assert {o["metadata"]["namespace"] for o in objects} == {"shop-prod"}
    ingress = objects[-1]
    assert ingress["kind"] == "Ingress"
    assert ingress["spec"] == {
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["api.shop.example.com"], "secretName": "shop-tls"}],
        "rules": [
            {
                "host": "api.shop.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {"name": "shop-api-prod", "port": {"name": "http"}}
                            },
                        }
                    ]
                },
            }
        ],
    }
    plain = documents(render(make_project(CPU))["api.yaml"])
    assert all("namespace" not in o["metadata"] for o in plain)  # kubectl's namespace
    assert "Ingress" not in {o["kind"] for o in plain}


def test_an_endpoint_without_an_image_is_an_error_naming_it(make_project, render):
    text = CPU.replace("        image: registry.example.com/shop/api:2.0.1\n", "")
    with pytest.raises(RenderError) as caught:
        render(make_project(text))
    assert "endpoint 'api' has no `image`" in str(caught.value)
    assert "endpoints.api.image" in str(caught.value)


def test_a_name_kubernetes_refuses_is_an_error_naming_the_endpoint(make_project, render):
    text = CPU.replace("      api:\n", "      api-:\n")
    with pytest.raises(RenderError) as caught:
        render(make_project(text))
    assert "endpoint 'api-': 'shop-api-' cannot name a Kubernetes Service" in str(caught.value)
