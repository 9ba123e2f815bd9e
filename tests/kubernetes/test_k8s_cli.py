"""`flashctl plan|apply --target kubernetes` through the CLI: apply waits for each Deployment to
roll out (`kubectl rollout status`, --wait/--no-wait, --wait-timeout) and plan's
--detailed-exitcode (`kubectl diff`), with a fake kubectl first on PATH; then the wait and the
diff with the real kubectl against the stub API server (tests/kubernetes/stub_apiserver.py).
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from flashctl.kubernetes.render import render_kubernetes
from tests.conftest import EXAMPLE
from tests.kubernetes.conftest import EVERY_FIELD, HANDLERS, documents, fake_kubectl, load_example
from tests.kubernetes.stub_apiserver import deployment, stub_apiserver

KUBECTL = shutil.which("kubectl")
APPLY = ("apply", "--target", "kubernetes", "--yes")
PLAN = ("plan", "--target", "kubernetes")

# Two endpoints, the second in a namespace of its own.
SHOP = """
    version: 1
    project: shop
    endpoints:
      web:
        image: registry.example.com/shop/web:1
        compute: {cpu: [{flavor: cpu3g, vcpus: 2}]}
        routes: [{method: GET, path: /hello, handler: "app:hello"}]
      api:
        image: registry.example.com/shop/api:1
        compute: {cpu: [{flavor: cpu3g, vcpus: 2}]}
        kubernetes: {namespace: shop-prod}
        routes: [{method: GET, path: /hello, handler: "app:hello"}]
"""


@pytest.fixture
def shop(tmp_path: Path) -> str:
    (tmp_path / "app.py").write_text(HANDLERS)
    path = tmp_path / "flash.yaml"
    path.write_text(textwrap.dedent(SHOP))
    return str(path)


@pytest.fixture
def kubectl_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Path]:
    """`kubectl_calls(**fake_kubectl options)`: a fake kubectl first on PATH; its call log."""

    def install(**options: object) -> Path:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        log = fake_kubectl(bin_dir, **options)  # type: ignore[arg-type]
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        return log

    return install


def calls(log: Path) -> list[str]:
    """The kubectl command lines, without the file contents the fake also logs."""
    return [
        line
        for line in log.read_text().splitlines()
        if line.startswith(("apply ", "rollout ", "diff "))
    ]


def test_apply_waits_for_every_deployment_in_turn_with_its_namespace_and_the_timeout(
    run_cli, kubectl_calls, shop
):
    log = kubectl_calls()
    result = run_cli(*APPLY, "-f", shop, "--wait-timeout", "90")
    assert result.exit_code == 0, result
    assert calls(log)[0].startswith("apply -f ")
    assert calls(log)[1:] == [
        "rollout status deployment/shop-web --timeout=90s",
        "rollout status deployment/shop-api --namespace shop-prod --timeout=90s",
    ]
    assert result.stdout == (
        "deployment.apps/x configured\n"
        'deployment "shop-web" successfully rolled out\n'
        'deployment "shop-api" successfully rolled out\n'
    )
    assert "waiting up to 90 s" in result.stderr


def test_apply_with_no_wait_runs_no_rollout_check(run_cli, kubectl_calls, shop):
    log = kubectl_calls()
    result = run_cli(*APPLY, "-f", shop, "--no-wait")
    assert result.exit_code == 0, result
    assert [c.split()[0] for c in calls(log)] == ["apply"]
    assert result.stdout == "deployment.apps/x configured\n"


def test_a_rollout_that_times_out_is_exit_1_naming_the_endpoint_with_kubectls_words(
    run_cli, kubectl_calls, shop
):
    kubectl_calls(rollout_fails="shop-api")
    result = run_cli(*APPLY, "-f", shop)
    assert result.exit_code == 1, result
    assert 'deployment "shop-web" successfully rolled out' in result.stdout  # printed as it went
    error = result.stderr
    assert "error: endpoint 'api': deployment/shop-api did not roll out" in error
    assert "0 of 1 updated replicas are available" in error
    assert "timed out waiting for the condition" in error
    assert "kubectl describe deployment/shop-api -n shop-prod" in error
    assert "kubectl get pods -n shop-prod -l app.kubernetes.io/instance=shop-api," in error
    assert "Traceback" not in error


def test_a_failed_kubectl_apply_waits_for_nothing(run_cli, kubectl_calls, shop):
    log = kubectl_calls(exit_code=1)
    result = run_cli(*APPLY, "-f", shop)
    assert result.exit_code == 1, result
    assert "provide credentials" in result.stderr
    assert [c.split()[0] for c in calls(log)] == ["apply"]


@pytest.mark.parametrize(("diff_exit", "code"), [(0, 0), (1, 2)])
def test_plan_detailed_exitcode_follows_kubectl_diff(run_cli, kubectl_calls, shop, diff_exit, code):
    log = kubectl_calls(stdout="configmap/a configured (dry run)\n", diff_exit=diff_exit)
    result = run_cli(*PLAN, "-f", shop, "--detailed-exitcode")
    assert result.exit_code == code, result
    shown = "configmap/a configured (dry run)\n" + ("+  replicas: 2\n" if diff_exit else "")
    assert result.stdout == shown
    commands = calls(log)
    assert commands[0].startswith("apply --dry-run=client -f ")
    assert re.fullmatch(r"diff -f \S+/api\.yaml -f \S+/web\.yaml", commands[1]), commands


def test_plan_detailed_exitcode_is_1_when_kubectl_diff_fails(run_cli, kubectl_calls, shop):
    kubectl_calls(diff_exit=2)
    result = run_cli(*PLAN, "-f", shop, "--detailed-exitcode")
    assert result.exit_code == 1, result
    assert "kubectl diff failed (exit 2)" in result.stderr
    assert "could not find the requested resource" in result.stderr
    assert "Traceback" not in result.stderr


def test_plan_without_detailed_exitcode_is_0_with_changes_and_runs_no_diff(
    run_cli, kubectl_calls, shop
):
    log = kubectl_calls(stdout="configmap/a created (dry run)\n", diff_exit=1)
    assert run_cli(*PLAN, "-f", shop).exit_code == 0
    assert [c.split()[0] for c in calls(log)] == ["apply"]


def test_plan_detailed_exitcode_is_1_when_kubectl_fails(run_cli, kubectl_calls, shop):
    kubectl_calls(exit_code=1)
    result = run_cli(*PLAN, "-f", shop, "--detailed-exitcode")
    assert result.exit_code == 1, result
    assert "kubectl apply failed (exit 1)" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("option", [["--out", "plan.json"], ["--prune"], ["--format", "json"]])
def test_plan_still_refuses_the_runpod_only_options(run_cli, kubectl_calls, shop, option):
    log = kubectl_calls()
    result = run_cli(*PLAN, "-f", shop, *option)
    assert result.exit_code == 2, result
    assert "--out, --prune and --format json are for RunPod" in result.stderr
    assert not log.exists()  # refused before kubectl ran


# -- the real kubectl against the stub API server ---------------------------------------------

needs_kubectl = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl is not on PATH (install it to wait on the stub API server)"
)


@pytest.fixture
def real_rollout(monkeypatch, tmp_path, kubectl_calls):
    """A fake `kubectl apply` (the stub accepts no writes) and the real `kubectl rollout status`,
    talking to the stub through KUBECONFIG; HOME keeps the user's kubeconfig and cache out."""

    def install(kubeconfig: Path) -> Path:
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        monkeypatch.setenv("HOME", str(tmp_path))
        return kubectl_calls(real_rollout=KUBECTL)

    return install


@needs_kubectl
def test_apply_waits_with_the_real_kubectl_until_every_deployment_has_rolled_out(
    run_cli, real_rollout, tmp_path
):
    live = [deployment(f"seed-{name}") for name in ("gpu", "cpu", "users")]
    with stub_apiserver(live) as stub:
        real_rollout(stub.kubeconfig(tmp_path))
        result = run_cli(*APPLY, "-f", str(EXAMPLE))
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[1:] == [
        f'deployment "seed-{name}" successfully rolled out' for name in ("gpu", "cpu", "users")
    ]
    assert ("GET", "/apis/apps/v1/namespaces/default/deployments/seed-users") in stub.requests


@needs_kubectl
def test_apply_gives_up_with_the_real_kubectl_when_the_rollout_outlasts_the_timeout(
    run_cli, real_rollout, tmp_path
):
    live = [deployment("vision-detect", "ml-serving", rolled_out=False)]
    with stub_apiserver(live) as stub:
        real_rollout(stub.kubeconfig(tmp_path))
        result = run_cli(*APPLY, "-f", str(EVERY_FIELD), "--wait-timeout", "2")
    assert result.exit_code == 1, result
    error = result.stderr
    assert "endpoint 'detect': deployment/vision-detect did not roll out" in error
    assert (
        'Waiting for deployment "vision-detect" rollout to finish:'
        " 0 of 1 updated replicas are available..."
    ) in error
    assert "error: timed out waiting for the condition" in error
    assert "kubectl describe deployment/vision-detect -n ml-serving" in error
    assert ("GET", "/apis/apps/v1/namespaces/ml-serving/deployments/vision-detect") in stub.requests


@pytest.fixture
def real_diff(monkeypatch, tmp_path, kubectl_calls):
    """A fake `kubectl apply --dry-run=client` (the stub serves no OpenAPI document for its
    validation) and the real `kubectl diff`, talking to the stub through KUBECONFIG."""

    def install(kubeconfig: Path) -> Path:
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        monkeypatch.setenv("HOME", str(tmp_path))
        return kubectl_calls(stdout="(dry run output)\n", real_diff=KUBECTL)

    return install


@needs_kubectl
def test_plan_detailed_exitcode_with_the_real_kubectl_is_2_while_the_objects_do_not_exist(
    run_cli, real_diff, tmp_path
):
    with stub_apiserver() as stub:
        real_diff(stub.kubeconfig(tmp_path))
        result = run_cli(*PLAN, "-f", str(EXAMPLE), "--detailed-exitcode")
    assert result.exit_code == 2, result
    assert "+kind: Deployment" in result.stdout and "+  name: seed-users" in result.stdout
    dry_run_create = "/apis/apps/v1/namespaces/default/deployments?dryRun=All"
    assert any(m == "POST" and p.startswith(dry_run_create) for m, p in stub.requests)


@needs_kubectl
def test_plan_detailed_exitcode_with_the_real_kubectl_is_0_when_the_cluster_matches(
    run_cli, real_diff, tmp_path
):
    live = [
        {**o, "metadata": {"namespace": "default", **o["metadata"]}}
        for data in render_kubernetes(load_example()).values()
        for o in documents(data)
    ]
    with stub_apiserver(live) as stub:
        real_diff(stub.kubeconfig(tmp_path))
        result = run_cli(*PLAN, "-f", str(EXAMPLE), "--detailed-exitcode")
    assert result.exit_code == 0, result
    assert result.stdout == "(dry run output)\n"  # no diff
    assert sum(m == "PATCH" for m, _ in stub.requests) == len(live)  # every object compared
