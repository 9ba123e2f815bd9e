"""`kubectl apply` on the rendered output: the command flashctl runs, what it says when kubectl is
missing or fails, and kubectl itself accepting the output (`--dry-run=client`).

kubectl's client dry-run still asks a server which kinds exist, so with no cluster here it talks
to a stub API server (tests/kubernetes/stub_apiserver.py) that serves discovery and answers 404
for every object. Schema validation is off for that run (`--validate=false`: the stub has no
OpenAPI document); test_k8s_schemas.py validates every field against Kubernetes' schemas.
"""

from __future__ import annotations

import doctest
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from flashctl.compiler.pipeline import load_valid_project
from flashctl.errors import DeployError
from flashctl.kubernetes import flows as commands
from flashctl.kubernetes import kubectl
from flashctl.kubernetes.render import render_kubernetes
from tests.kubernetes.conftest import EVERY_FIELD, fake_kubectl, load_example
from tests.kubernetes.stub_apiserver import stub_apiserver

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None,
    reason="kubectl is not on PATH (install it to run kubectl's own client dry-run on the output)",
)


@pytest.mark.parametrize("module", [kubectl, commands])
def test_the_examples_in_the_docstrings_hold(module):
    assert doctest.testmod(module).failed == 0


def test_without_kubectl_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DeployError) as caught:
        kubectl.apply_files({"api.yaml": b"---\n"}, dry_run=False)
    message = str(caught.value)
    assert "kubectl is not on PATH" in message and "install" in message
    assert "https://kubernetes.io/docs/tasks/tools/" in message


def test_apply_runs_kubectl_apply_on_every_rendered_file_in_order(monkeypatch, tmp_path):
    log = fake_kubectl(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    files = render_kubernetes(load_example())
    result = kubectl.apply_files(files, dry_run=False)
    assert kubectl.require_success(result) == "deployment.apps/x configured\n"
    calls = log.read_text()
    first = calls.splitlines()[0].split()
    assert first[:2] == ["apply", "-f"] and "--dry-run=client" not in first
    assert [Path(a).name for a in first[2::2]] == ["cpu.yaml", "gpu.yaml", "users.yaml"]
    for data in files.values():
        assert data.decode() in calls
    assert not Path(first[2]).parent.exists()  # the temporary folder is gone


def test_plan_is_a_client_dry_run(monkeypatch, tmp_path):
    log = fake_kubectl(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    kubectl.apply_files({"api.yaml": b"---\n"}, dry_run=True)
    assert log.read_text().splitlines()[0].startswith("apply --dry-run=client -f ")


def test_a_failed_apply_is_an_error_carrying_what_kubectl_said(monkeypatch, tmp_path):
    fake_kubectl(tmp_path, exit_code=1)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    result = kubectl.apply_files({"api.yaml": b"---\n"}, dry_run=False)
    with pytest.raises(DeployError) as caught:
        kubectl.require_success(result)
    assert "kubectl apply failed (exit 1)" in str(caught.value)
    assert "provide credentials" in str(caught.value)


def _dry_run(folder: Path, paths: list[Path], namespace: str = "default", live=()):
    with stub_apiserver(live) as stub:
        config = stub.kubeconfig(folder, namespace)
        command = kubectl.apply_command(paths, dry_run=True, kubectl=str(KUBECTL))
        command += ["--validate=false", "--kubeconfig", str(config)]
        command += ["--cache-dir", str(folder / "cache")]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "HOME": str(folder)},  # no user kubeconfig or cache leaks in
        )
        return result, stub.requests


@needs_kubectl
def test_kubectl_client_dry_run_accepts_every_rendered_object(tmp_path):
    files = render_kubernetes(load_example())
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    result, requests = _dry_run(tmp_path, paths)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for endpoint in ("cpu", "gpu", "users"):
        for kind in (
            "configmap",
            "service",
            "deployment.apps",
            "horizontalpodautoscaler.autoscaling",
            "poddisruptionbudget.policy",
        ):
            assert f"{kind}/seed-{endpoint} created (dry run)" in lines
    assert len(lines) == 15
    assert all(method == "GET" for method, _ in requests)  # a dry run writes nothing


@needs_kubectl
def test_kubectl_client_dry_run_accepts_an_ingress_in_a_namespace(tmp_path):
    project = load_valid_project(EVERY_FIELD, variables={}, environment=None).project
    path = tmp_path / "detect.yaml"
    path.write_bytes(render_kubernetes(project)["detect.yaml"])
    result, requests = _dry_run(tmp_path, [path])
    assert result.returncode == 0, result.stderr
    assert "ingress.networking.k8s.io/vision-detect created (dry run)" in result.stdout
    assert ("GET", "/apis/networking.k8s.io/v1/namespaces/ml-serving/ingresses/vision-detect") in (
        requests
    )


@needs_kubectl
def test_kubectl_dry_run_refuses_a_kind_the_cluster_does_not_know(tmp_path):
    """The control: the stub-backed dry run does reject a bad object."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: apps/v1\nkind: Deploymnt\nmetadata: {name: x}\n")
    result, _ = _dry_run(tmp_path, [bad])
    assert result.returncode != 0
    assert "Deploymnt" in result.stderr


@needs_kubectl
def test_a_client_dry_run_says_configured_even_for_an_object_that_matches(tmp_path):
    """Why `plan --detailed-exitcode` asks `kubectl diff`: a client dry run does not compare an
    existing object with the file, so it cannot tell "nothing to change"."""
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    path = tmp_path / "x.json"
    path.write_text(json.dumps(config_map))
    metadata = {"annotations": {}, "name": "x", "namespace": "default"}
    applied = json.dumps(
        {**config_map, "metadata": metadata}, sort_keys=True, separators=(",", ":")
    )
    annotations = {"kubectl.kubernetes.io/last-applied-configuration": applied + "\n"}
    live = {**config_map, "metadata": {**metadata, "annotations": annotations}}
    result, _ = _dry_run(tmp_path, [path], live=[live])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "configmap/x configured (dry run)\n"
