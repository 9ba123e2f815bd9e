"""What `flashctl render|plan|apply --target kubernetes` do, below the CLI (which only gathers
options): render to a folder atomically or compare with it, kubectl apply, dry run or not, and
wait for the applied Deployments to roll out.

`render_to` replaces OUTPUT entirely (files.write_tree), so its default is a folder of its own
(`.flashctl/kubernetes/`), beside `render`'s `.flashctl/build/`. Beside the manifests it writes
`MARKER` (a JSON file without a .json/.yaml extension, which `kubectl apply -f DIR` skips), so the
next render knows the folder is its own.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from flashctl import __version__, build_files, files, outputs
from flashctl.errors import DeployError, RenderError
from flashctl.kubernetes import kubectl, manifests
from flashctl.kubernetes.render import Files, render_kubernetes
from flashctl.model import Endpoint, Project

MARKER = ".flashctl-manifest"


def default_output(project: Project) -> Path:
    return outputs.default_output(project, outputs.KUBERNETES)


def rendered_files(project: Project) -> Files:
    """The manifests and the marker file, as written to a folder."""
    manifests_ = render_kubernetes(project)
    marker = {
        files.MARKER_FIELD: files.MARKER_VALUE,
        "flashctl": __version__,
        "project": project.name,
        "files": {path: hashlib.sha256(data).hexdigest() for path, data in manifests_.items()},
    }
    text = json.dumps(marker, indent=2, sort_keys=True) + "\n"
    return {**manifests_, MARKER: text.encode("utf-8")}


def render_to(project: Project, output: Path, *, force: bool = False) -> Files:
    """Write `<endpoint>.yaml` per endpoint into `output`, all or nothing; never over the project
    nor over a folder flashctl did not write (unless `force`)."""
    reason = outputs.refusal(project, output)
    if reason is not None:
        raise RenderError(f"Refusing to render: {reason}")
    written = rendered_files(project)
    files.write_tree(output, written, marker=MARKER, force=force)
    return {path: data for path, data in written.items() if path != MARKER}


def check_rendered(project: Project, output: Path) -> list[str]:
    """What differs between a fresh render and `output` (empty when up to date)."""
    return build_files.differences(rendered_files(project), build_files.read_tree(output))


def plan(project: Project) -> str:
    """`kubectl apply --dry-run=client` on a fresh render: what kubectl would create or change
    (it reads the live objects to say so, and writes nothing)."""
    return kubectl.require_success(kubectl.apply_files(render_kubernetes(project), dry_run=True))


def apply(project: Project) -> str:
    """`kubectl apply` on a fresh render; kubectl's report of each object."""
    return kubectl.require_success(kubectl.apply_files(render_kubernetes(project), dry_run=False))


def differences(project: Project) -> str | None:
    """`kubectl diff` on a fresh render: its unified diff of what apply would change, or None
    when the cluster already matches (what `plan --detailed-exitcode` needs; a client dry run
    cannot tell, as it reports every existing object `configured`)."""
    result = kubectl.diff_files(render_kubernetes(project))
    if result.returncode == 0:
        return None
    if result.returncode == 1:
        return result.stdout
    raise kubectl.failure(result, "diff")


def rollouts(
    project: Project, timeout: float, clock: Callable[[], float] = time.monotonic
) -> Iterator[str]:
    """`kubectl rollout status` on each endpoint's Deployment in turn, all within one deadline
    `timeout` seconds from now: yields what kubectl said of each, or raises a DeployError for the
    first that does not roll out (the rest are not waited for)."""
    deadline = clock() + timeout
    for endpoint in project.endpoints:
        name = manifests.object_name(endpoint)
        result = kubectl.rollout_status(name, endpoint.kubernetes.namespace, deadline - clock())
        if result.returncode != 0:
            raise DeployError(_not_rolled_out(project, endpoint, result))
        yield result.stdout


def _not_rolled_out(
    project: Project, endpoint: Endpoint, result: subprocess.CompletedProcess[str]
) -> str:
    """What failed, kubectl's last status line and error, and where to look next."""
    name = manifests.object_name(endpoint)
    namespace = endpoint.kubernetes.namespace
    flag = f" -n {namespace}" if namespace else ""
    pods = ",".join(f"{k}={v}" for k, v in manifests.selector(project, endpoint).items())
    said = [*result.stdout.strip().splitlines()[-1:], result.stderr.strip()]
    return (
        f"endpoint '{endpoint.key}': deployment/{name} did not roll out"
        f" (kubectl rollout status exit {result.returncode}):\n"
        + "\n".join(line for line in said if line)
        + "\nThe objects were applied. See why with"
        f" `kubectl describe deployment/{name}{flag}` and `kubectl get pods{flag} -l {pods}`;"
        " if it is still rolling out, raise --wait-timeout (or pass --no-wait)."
    )
