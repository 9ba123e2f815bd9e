"""The process edge of the Kubernetes target: `kubectl apply -f` on rendered manifests,
`kubectl rollout status` on the Deployments it applied, and `kubectl get -f` / `kubectl delete -f`
for `status` and `destroy`.

kubectl brings the user's own kubeconfig, context, namespace and credentials, so flashctl holds
none. `--dry-run=client` (what `flashctl plan --target kubernetes` runs) still asks the cluster
for its API groups, so it needs a reachable cluster too, but changes nothing.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from flashctl.errors import DeployError

INSTALL_HINT = (
    "kubectl is not on PATH: install it (https://kubernetes.io/docs/tasks/tools/, e.g."
    " `brew install kubectl`, `sudo snap install kubectl --classic` or"
    " `gcloud components install kubectl`), or apply the output of"
    " `flashctl render --target kubernetes` with your own tooling"
)


def find_kubectl() -> str:
    """kubectl's path, or a DeployError that says what to install."""
    path = shutil.which("kubectl")
    if path is None:
        raise DeployError(INSTALL_HINT)
    return path


def apply_command(paths: Sequence[Path], dry_run: bool, kubectl: str = "kubectl") -> list[str]:
    """The command line, e.g.

    >>> apply_command([Path("k8s/api.yaml")], dry_run=True)
    ['kubectl', 'apply', '--dry-run=client', '-f', 'k8s/api.yaml']
    """
    command = [kubectl, "apply"]
    if dry_run:
        command.append("--dry-run=client")
    for path in paths:
        command += ["-f", str(path)]
    return command


def diff_command(paths: Sequence[Path], kubectl: str = "kubectl") -> list[str]:
    """The command line, e.g.

    >>> diff_command([Path("k8s/api.yaml"), Path("k8s/gpu.yaml")])
    ['kubectl', 'diff', '-f', 'k8s/api.yaml', '-f', 'k8s/gpu.yaml']
    """
    command = [kubectl, "diff"]
    for path in paths:
        command += ["-f", str(path)]
    return command


def get_command(paths: Sequence[Path], kubectl: str = "kubectl") -> list[str]:
    """The command line that prints the live objects `paths` name, as JSON (none for those that
    do not exist), e.g.

    >>> get_command([Path("k8s/api.yaml")])
    ['kubectl', 'get', '--ignore-not-found', '--output=json', '-f', 'k8s/api.yaml']
    """
    command = [kubectl, "get", "--ignore-not-found", "--output=json"]
    for path in paths:
        command += ["-f", str(path)]
    return command


def delete_command(paths: Sequence[Path], selector: str, kubectl: str = "kubectl") -> list[str]:
    """The command line that deletes the objects of `paths` that carry the labels of
    `selector`; it returns once the API has accepted each deletion, e.g.

    >>> delete_command([Path("k8s/api.yaml")], "app.kubernetes.io/part-of=shop")[1:5]
    ['delete', '--ignore-not-found', '--wait=false', '--selector=app.kubernetes.io/part-of=shop']
    """
    command = [kubectl, "delete", "--ignore-not-found", "--wait=false", f"--selector={selector}"]
    for path in paths:
        command += ["-f", str(path)]
    return command


def rollout_status_command(
    deployment: str, namespace: str | None, timeout: float, kubectl: str = "kubectl"
) -> list[str]:
    """The command line, with `timeout` rounded up to whole seconds and at least 1, e.g.

    >>> rollout_status_command("seed-gpu", "ml", timeout=59.2)
    ['kubectl', 'rollout', 'status', 'deployment/seed-gpu', '--namespace', 'ml', '--timeout=60s']
    >>> rollout_status_command("seed-gpu", None, timeout=-3)[-1]
    '--timeout=1s'
    """
    command = [kubectl, "rollout", "status", f"deployment/{deployment}"]
    if namespace:
        command += ["--namespace", namespace]
    # kubectl reads --timeout=0s as "wait forever"; a spent deadline still gets one short look.
    return [*command, f"--timeout={max(1, math.ceil(timeout))}s"]


def apply(paths: Sequence[Path], dry_run: bool) -> subprocess.CompletedProcess[str]:
    """Run `kubectl apply [--dry-run=client] -f PATH...`; its output is captured, its exit code
    is the caller's to judge (see `require_success`)."""
    return _run(apply_command(paths, dry_run, find_kubectl()))


def rollout_status(
    deployment: str, namespace: str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run `kubectl rollout status`: exit 0 once the Deployment's new pods are all available,
    1 when its rollout failed or `timeout` seconds passed first; the output is captured."""
    return _run(rollout_status_command(deployment, namespace, timeout, find_kubectl()))


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as err:
        raise DeployError(f"cannot run {command[0]}: {err.strerror or err}") from err


def apply_files(files: Mapping[str, bytes], dry_run: bool) -> subprocess.CompletedProcess[str]:
    """Write `files` (from `render_kubernetes`) to a temporary folder and apply them in name
    order; the folder is removed afterwards."""
    return _on_files(files, lambda paths: apply(paths, dry_run))


def diff_files(files: Mapping[str, bytes]) -> subprocess.CompletedProcess[str]:
    """`kubectl diff` on `files`: exit 0 when the cluster already matches them, 1 with a unified
    diff when it does not, above 1 on an error. kubectl asks the server for a dry-run apply of
    each object, so this needs a reachable cluster and the rights to patch, and runs `diff`
    (or $KUBECTL_EXTERNAL_DIFF)."""
    return _on_files(files, lambda paths: _run(diff_command(paths, find_kubectl())))


def _on_files(
    files: Mapping[str, bytes], run: Callable[[list[Path]], subprocess.CompletedProcess[str]]
) -> subprocess.CompletedProcess[str]:
    """Write `files` to a temporary folder, run `run` on their paths in name order, and remove
    the folder afterwards."""
    find_kubectl()  # say what to install before writing anything
    with tempfile.TemporaryDirectory(prefix="flashctl-kubernetes-") as folder:
        paths = []
        for name, data in sorted(files.items()):
            path = Path(folder) / name
            path.write_bytes(data)
            paths.append(path)
        return run(paths)


def get_files(files: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """The live objects `files` name (those that exist), as kubectl reads them."""
    result = _on_files(files, lambda paths: _run(get_command(paths, find_kubectl())))
    if result.returncode != 0:
        raise failure(result, "get")
    return objects_of(result.stdout)


def delete_files(files: Mapping[str, bytes], selector: str) -> str:
    """`kubectl delete -f` on `files`, only objects labelled `selector`; what kubectl said."""
    result = _on_files(files, lambda paths: _run(delete_command(paths, selector, find_kubectl())))
    if result.returncode != 0:
        raise failure(result, "delete")
    return result.stdout


def objects_of(output: str) -> list[dict[str, Any]]:
    """The objects in `kubectl get --output=json` output: one object, a List, several of either
    one after the other, or nothing.

    >>> listed = '{"kind": "List", "items": [{"kind": "Service"}]} {"kind": "Deployment"}'
    >>> [o["kind"] for o in objects_of(listed)]
    ['Service', 'Deployment']
    """
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    at = 0
    while True:
        while at < len(output) and output[at].isspace():
            at += 1
        if at == len(output):
            return found
        try:
            value, at = decoder.raw_decode(output, at)
        except ValueError as err:
            raise DeployError(f"kubectl get printed something that is not JSON: {err}") from None
        items = value.get("items") if isinstance(value, dict) else None
        if isinstance(items, list):
            found += [item for item in items if isinstance(item, dict)]
        elif isinstance(value, dict):
            found.append(value)


def require_success(result: subprocess.CompletedProcess[str]) -> str:
    """kubectl apply's stdout, or a DeployError carrying what kubectl said on failure."""
    if result.returncode != 0:
        raise failure(result, "apply")
    return result.stdout


def failure(result: subprocess.CompletedProcess[str], subcommand: str) -> DeployError:
    """The error for a failed `kubectl SUBCOMMAND`: its exit code and what it said."""
    said = (result.stderr or result.stdout).strip()
    return DeployError(f"kubectl {subcommand} failed (exit {result.returncode}):\n{said}")
