"""`flashctl status|destroy --target kubernetes`: status shows each endpoint's Deployment and its
ready replicas (`kubectl get -f` on the rendered Deployments); destroy deletes, with `kubectl
delete -f`, only the rendered objects the cluster has with this project's labels. With a fake
kubectl first on PATH, then with the real kubectl against the stub API server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.kubernetes.stub_apiserver import deployment, stub_apiserver
from tests.kubernetes.test_k8s_cli import kubectl_calls, shop  # noqa: F401 (fixtures)

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
OURS = {"app.kubernetes.io/managed-by": "flashctl", "app.kubernetes.io/part-of": "shop"}
THEIRS = {"app.kubernetes.io/managed-by": "helm", "app.kubernetes.io/part-of": "billing"}
SELECTOR = "--selector=app.kubernetes.io/managed-by=flashctl,app.kubernetes.io/part-of=shop"


def listed(*objects: dict[str, object]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})


def service(name: str, namespace: str, labels: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
    }


def test_status_shows_each_deployments_ready_replicas(run_cli, kubectl_calls, shop):  # noqa: F811
    live = deployment("shop-api", "shop-prod", labels=OURS)
    live["spec"]["replicas"] = 3
    log = kubectl_calls(get_stdout=listed(live))

    result = run_cli("status", "--target", "kubernetes", "-f", shop)

    assert result.exit_code == 0, result
    assert result.stdout.splitlines() == [
        "web  deployment/shop-web  not deployed",
        "api  deployment/shop-api -n shop-prod  ready 1/3",
    ]
    get = next(line for line in log.read_text().splitlines() if line.startswith("get "))
    assert get.startswith("get --ignore-not-found --output=json -f ")


def test_status_json_lists_every_endpoint(run_cli, kubectl_calls, shop):  # noqa: F811
    kubectl_calls(get_stdout=listed(deployment("shop-web", labels=OURS)))

    result = run_cli("status", "--target", "kubernetes", "-f", shop, "--format", "json")

    rows = json.loads(result.stdout)["endpoints"]
    assert [(r["endpoint"], r["exists"], r["ready"]) for r in rows] == [
        ("web", True, 1),
        ("api", False, 0),
    ]


def test_destroy_deletes_only_the_objects_labelled_as_the_projects(
    run_cli,
    kubectl_calls,  # noqa: F811
    shop,  # noqa: F811
):
    live = listed(
        deployment("shop-web", labels=OURS),
        service("shop-web", "default", OURS),
        deployment("shop-api", "shop-prod", labels=THEIRS),
    )
    log = kubectl_calls(get_stdout=live, stdout='deployment.apps "shop-web" deleted\n')

    result = run_cli("destroy", "--target", "kubernetes", "-f", shop, "--yes")

    assert result.exit_code == 0, result
    assert result.stdout == 'deployment.apps "shop-web" deleted\n'
    assert "deployment/shop-api (namespace shop-prod) is not labelled as project shop's" in (
        result.stderr
    )
    calls = log.read_text()
    delete = next(line for line in calls.splitlines() if line.startswith("delete "))
    assert delete.startswith(f"delete --ignore-not-found --wait=false {SELECTOR} -f ")
    given = calls.split(delete, 1)[1]  # the files the fake was given, as it logged them
    assert "kind: Deployment\nmetadata:\n  name: shop-web" in given
    assert "kind: Service\nmetadata:\n  name: shop-web" in given
    assert "shop-api" not in given
    assert "ConfigMap" not in given  # not live: nothing to delete


def test_destroy_with_nothing_live_deletes_nothing(run_cli, kubectl_calls, shop):  # noqa: F811
    log = kubectl_calls(get_stdout=listed())

    result = run_cli("destroy", "--target", "kubernetes", "-f", shop, "--yes")

    assert result.exit_code == 0, result
    assert "Nothing to destroy: no object of project shop exists." in result.stderr
    assert not any(line.startswith("delete") for line in log.read_text().splitlines())


def test_destroy_without_a_terminal_or_yes_is_a_usage_error(
    run_cli,
    kubectl_calls,  # noqa: F811
    shop,  # noqa: F811
):
    log = kubectl_calls(get_stdout=listed(deployment("shop-web", labels=OURS)))

    result = run_cli("destroy", "--target", "kubernetes", "-f", shop)

    assert result.exit_code == 2, result
    assert "pass --yes" in result.stderr
    assert not any(line.startswith("delete") for line in log.read_text().splitlines())


@pytest.fixture
def real_kubectl(monkeypatch, tmp_path):
    """The real kubectl, talking to the stub through KUBECONFIG; HOME keeps the user's
    kubeconfig and cache out."""

    def install(kubeconfig: Path) -> None:
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        monkeypatch.setenv("HOME", str(tmp_path))

    return install


@needs_kubectl
def test_status_and_destroy_with_the_real_kubectl(run_cli, real_kubectl, shop, tmp_path):  # noqa: F811
    live = [
        deployment("shop-web", labels=OURS),
        service("shop-web", "default", OURS),
        deployment("shop-api", "shop-prod", labels=THEIRS),
    ]
    with stub_apiserver(live) as stub:
        real_kubectl(stub.kubeconfig(tmp_path))
        status = run_cli("status", "--target", "kubernetes", "-f", shop)
        destroyed = run_cli("destroy", "--target", "kubernetes", "-f", shop, "--yes")
        after = run_cli("status", "--target", "kubernetes", "-f", shop)

    assert status.exit_code == 0, status
    assert status.stdout.splitlines() == [
        "web  deployment/shop-web -n default  ready 1/1",
        "api  deployment/shop-api -n shop-prod  not this project's (no flashctl labels for it)",
    ]
    assert destroyed.exit_code == 0, destroyed
    deletes = [path for method, path in stub.requests if method == "DELETE"]
    assert sorted(deletes) == [
        "/api/v1/namespaces/default/services/shop-web",
        "/apis/apps/v1/namespaces/default/deployments/shop-web",
    ]
    assert after.stdout.splitlines()[0] == "web  deployment/shop-web  not deployed"
