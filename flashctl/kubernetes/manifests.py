"""An endpoint as Kubernetes objects (plain dicts), in the order `kubectl apply` should create them.

Per endpoint, all named `<project>-<endpoint>[-<environment>]` (the RunPod name):

- ConfigMap: the literal env, plus PORT, PORT_HEALTH, FLASHCTL_PROJECT and HOME=/tmp (the root
  filesystem is read-only; /tmp is the writable emptyDir, so caches under ~ work).
- Service: port 80 -> the runtime port (named `http`).
- Deployment: replicas = max(workers.min, 1), the image's own command, env from the ConfigMap,
  secrets as `secretKeyRef`, probes (below), non-root uid 1000 with no privilege escalation and a
  read-only root filesystem, resources from `compute` (see resources.py).
- HorizontalPodAutoscaler (autoscaling/v2): workers.min (at least 1) .. workers.max at 70% CPU;
  scaling down waits `idle_timeout` seconds, as RunPod keeps an idle worker.
- PodDisruptionBudget (maxUnavailable 1) when workers.max > 1.
- Ingress when `kubernetes.ingress.host` is set.

Secrets: `{secret: hf_token}` becomes `secretKeyRef: {name: <secret_name>, key: hf_token}`, where
`<secret_name>` is `kubernetes.secret_name` or `<project>-secrets`: one Secret per project whose
keys are the RunPod secret names, e.g.
`kubectl create secret generic seed-secrets --from-literal=hf_token=...`. No value is rendered.

Probes: the runtime answers `/ping?ready=1` with 503 until the startup hook has finished, so the
startup probe (on it, for `kubernetes.startup_timeout` seconds) covers a slow model load and the
readiness probe (on it) keeps traffic away until then and while draining. Liveness uses `/ping`,
which turns 503 when the service failed or drains. On SIGTERM a preStop pause lets endpoints
controllers stop routing to the pod before the runtime drains (render.DRAIN_SECONDS), all within
terminationGracePeriodSeconds.

Metrics: with `runtime.metrics` the pod template carries the `prometheus.io/scrape`, `/port`
and `/path` annotations that Prometheus's usual `kubernetes_sd` pod relabelling reads.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from flashctl.kubernetes import names
from flashctl.kubernetes.resources import GPU_RESOURCE, container_resources
from flashctl.model import Endpoint, Project
from flashctl.render.contexts import DRAIN_SECONDS
from flashctl.runpod.create_body import managed_env

Manifest = dict[str, Any]

RUNTIME_UID = 1000  # the Dockerfile's `USER 1000`
CONTAINER = "service"
PORT_NAME = "http"
SERVICE_PORT = 80
CPU_UTILIZATION = 70
READY_PATH = "/ping?ready=1"
LIVE_PATH = "/ping"
STARTUP_PERIOD = 5
PRESTOP_SECONDS = 5
# Grace covers the preStop pause, the runtime's drain, and a margin for the process to exit.
TERMINATION_GRACE_SECONDS = PRESTOP_SECONDS + DRAIN_SECONDS + 10
CONFIG_DIGEST = "flashctl.dev.flows/config-sha256"  # a changed ConfigMap rolls the pods
METRICS_PATH = "/metrics"
GPU_NODE_SELECTOR = {"nvidia.com/gpu.present": "true"}  # set by NVIDIA GPU feature discovery
GPU_TOLERATIONS = [{"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]


def object_name(endpoint: Endpoint) -> str:
    return endpoint.runpod_name


def secret_name(project: Project, endpoint: Endpoint) -> str:
    """The Secret that `{secret: name}` env entries read, key `name`."""
    return endpoint.kubernetes.secret_name or f"{project.name}-secrets"


def problems(project: Project, endpoint: Endpoint) -> list[str]:
    """Why `endpoint` cannot be rendered for Kubernetes (empty when it can)."""
    found = []
    where = f"endpoint '{endpoint.key}'"
    if not endpoint.image:
        found.append(
            f"{where} has no `image`: Kubernetes pulls a built image; set"
            f" endpoints.{endpoint.key}.image (built by CI from `flashctl render`),"
            f" e.g. ghcr.io/acme/{endpoint.runpod_name}:${{GIT_SHA}}"
        )
    name = object_name(endpoint)
    reason = names.dns_1035_label(name)
    if reason is not None:
        found.append(
            f"{where}: '{name}' cannot name a Kubernetes Service ({reason});"
            " rename the project, endpoint or environment"
        )
    for label, value in labels(project, endpoint).items():
        reason = names.label_value(value)
        if reason is not None:
            found.append(f"{where}: label {label}='{value}' is not a label value ({reason})")
    return found


def endpoint_manifests(project: Project, endpoint: Endpoint) -> list[Manifest]:
    """Every object of one endpoint; call `problems()` first (this assumes there are none)."""
    config = config_data(project, endpoint)
    objects = [
        _object("v1", "ConfigMap", project, endpoint, data=config),
        _object("v1", "Service", project, endpoint, spec=_service_spec(project, endpoint)),
        _object(
            "apps/v1",
            "Deployment",
            project,
            endpoint,
            spec=_deployment_spec(project, endpoint, config),
        ),
        _object(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            project,
            endpoint,
            spec=_autoscaler_spec(endpoint),
        ),
    ]
    if endpoint.scaling.workers_max > 1:
        spec = {"maxUnavailable": 1, "selector": {"matchLabels": selector(project, endpoint)}}
        objects.append(_object("policy/v1", "PodDisruptionBudget", project, endpoint, spec=spec))
    if endpoint.kubernetes.ingress.host:
        objects.append(
            _object(
                "networking.k8s.io/v1", "Ingress", project, endpoint, spec=_ingress_spec(endpoint)
            )
        )
    return objects


def labels(project: Project, endpoint: Endpoint) -> dict[str, str]:
    """Kubernetes' recommended `app.kubernetes.io/*` labels."""
    result = {
        "app.kubernetes.io/name": endpoint.key,
        "app.kubernetes.io/instance": object_name(endpoint),
        "app.kubernetes.io/component": "api",
        "app.kubernetes.io/part-of": project.name,
        "app.kubernetes.io/managed-by": "flashctl",
    }
    tag = image_tag(endpoint.image or "")
    if tag is not None and names.label_value(tag) is None:
        result["app.kubernetes.io/version"] = tag
    return dict(sorted(result.items()))


def selector(project: Project, endpoint: Endpoint) -> dict[str, str]:
    """The labels that identify the pods; they never change for an endpoint."""
    every = labels(project, endpoint)
    return {k: every[k] for k in ("app.kubernetes.io/instance", "app.kubernetes.io/name")}


def image_tag(image: str) -> str | None:
    """`ghcr.io/acme/api:1.2` -> `1.2`; None without a tag (a digest is not a version).

    >>> image_tag("localhost:5000/api:v2"), image_tag("api@sha256:ab"), image_tag("api")
    ('v2', None, None)
    """
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    return last.partition(":")[2] or None


def config_data(project: Project, endpoint: Endpoint) -> dict[str, str]:
    data = {var.name: var.value or "" for var in endpoint.env if var.secret is None}
    data.setdefault("HOME", "/tmp")
    data.update(managed_env(project, endpoint))
    return dict(sorted(data.items()))


def _object(
    api_version: str,
    kind: str,
    project: Project,
    endpoint: Endpoint,
    **body: Any,
) -> Manifest:
    metadata: dict[str, Any] = {"name": object_name(endpoint)}
    if endpoint.kubernetes.namespace:
        metadata["namespace"] = endpoint.kubernetes.namespace
    metadata["labels"] = labels(project, endpoint)
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def _service_spec(project: Project, endpoint: Endpoint) -> dict[str, Any]:
    return {
        "type": "ClusterIP",
        "selector": selector(project, endpoint),
        "ports": [
            {"name": PORT_NAME, "port": SERVICE_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}
        ],
    }


def _deployment_spec(
    project: Project, endpoint: Endpoint, config: dict[str, str]
) -> dict[str, Any]:
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode("utf-8")).hexdigest()
    return {
        "replicas": max(endpoint.scaling.workers_min, 1),
        "selector": {"matchLabels": selector(project, endpoint)},
        # A new pod must be ready (model loaded) before an old one goes.
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "template": {
            "metadata": {
                "labels": labels(project, endpoint),
                "annotations": {CONFIG_DIGEST: digest, **_scrape_annotations(endpoint)},
            },
            "spec": _pod_spec(project, endpoint),
        },
    }


def _scrape_annotations(endpoint: Endpoint) -> dict[str, str]:
    if not endpoint.runtime.metrics:
        return {}
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(endpoint.runtime.port),
        "prometheus.io/path": METRICS_PATH,
    }


def _pod_spec(project: Project, endpoint: Endpoint) -> dict[str, Any]:
    k8s = endpoint.kubernetes
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,  # handlers do not talk to the Kubernetes API
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNTIME_UID,
            "runAsGroup": RUNTIME_UID,
            "fsGroup": RUNTIME_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
    }
    gpu = endpoint.compute.gpu is not None
    if k8s.node_selector is not None:
        node_selector = dict(k8s.node_selector)
    else:
        node_selector = dict(GPU_NODE_SELECTOR) if gpu else {}
    if node_selector:
        spec["nodeSelector"] = node_selector
    tolerations = _tolerations(endpoint) if k8s.tolerations is not None else []
    if k8s.tolerations is None and gpu:
        tolerations = [dict(t) for t in GPU_TOLERATIONS]
    if tolerations:
        spec["tolerations"] = tolerations
    if k8s.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in k8s.image_pull_secrets]
    spec["containers"] = [_container(project, endpoint)]
    spec["volumes"] = [{"name": "tmp", "emptyDir": {"sizeLimit": f"{endpoint.compute.disk_gb}Gi"}}]
    return spec


def _tolerations(endpoint: Endpoint) -> list[dict[str, Any]]:
    result = []
    for t in endpoint.kubernetes.tolerations or ():
        item: dict[str, Any] = {}
        if t.key is not None:
            item["key"] = t.key
        item["operator"] = t.operator
        if t.value is not None:
            item["value"] = t.value
        if t.effect is not None:
            item["effect"] = t.effect
        if t.seconds is not None:
            item["tolerationSeconds"] = t.seconds
        result.append(item)
    return result


def _container(project: Project, endpoint: Endpoint) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": endpoint.image,
        "ports": [{"name": PORT_NAME, "containerPort": endpoint.runtime.port, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": object_name(endpoint)}}],
    }
    secrets = sorted((v for v in endpoint.env if v.secret is not None), key=lambda v: v.name)
    if secrets:
        container["env"] = [
            {
                "name": var.name,
                "valueFrom": {
                    "secretKeyRef": {"name": secret_name(project, endpoint), "key": var.secret}
                },
            }
            for var in secrets
        ]
    container.update(
        {
            "startupProbe": _probe(
                READY_PATH,
                period=STARTUP_PERIOD,
                timeout=3,
                failures=math.ceil(endpoint.kubernetes.startup_timeout / STARTUP_PERIOD),
            ),
            "readinessProbe": _probe(READY_PATH, period=5, timeout=3, failures=2),
            "livenessProbe": _probe(LIVE_PATH, period=10, timeout=5, failures=3),
            "lifecycle": {
                "preStop": {
                    "exec": {
                        # python is in every image flashctl builds (sleep may not be).
                        "command": ["python", "-c", f"import time; time.sleep({PRESTOP_SECONDS})"]
                    }
                }
            },
            "resources": container_resources(endpoint),
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "runAsNonRoot": True,
                "runAsUser": RUNTIME_UID,
                "capabilities": {"drop": ["ALL"]},
            },
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }
    )
    return container


def _probe(path: str, *, period: int, timeout: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": PORT_NAME},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def _autoscaler_spec(endpoint: Endpoint) -> dict[str, Any]:
    scaling = endpoint.scaling
    return {
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": object_name(endpoint),
        },
        "minReplicas": max(scaling.workers_min, 1),
        "maxReplicas": max(scaling.workers_max, scaling.workers_min, 1),
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": CPU_UTILIZATION},
                },
            }
        ],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": scaling.idle_timeout}},
    }


def _ingress_spec(endpoint: Endpoint) -> dict[str, Any]:
    ingress = endpoint.kubernetes.ingress
    spec: dict[str, Any] = {}
    if ingress.class_name:
        spec["ingressClassName"] = ingress.class_name
    if ingress.tls_secret:
        spec["tls"] = [{"hosts": [ingress.host], "secretName": ingress.tls_secret}]
    backend = {"service": {"name": object_name(endpoint), "port": {"name": PORT_NAME}}}
    spec["rules"] = [
        {
            "host": ingress.host,
            "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
        }
    ]
    return spec
