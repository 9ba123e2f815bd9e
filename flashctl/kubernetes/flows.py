"""What `flashctl render|plan|apply|status|destroy --target kubernetes` do, below the CLI (which
only gathers options): render to a folder atomically or compare with it, kubectl apply, dry run or
not, wait for the applied Deployments to roll out, show their ready replicas, and delete the
objects this project owns.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flashctl import __version__, files, outputs
from flashctl.compiler.pipeline import Load
from flashctl.console import Console
from flashctl.errors import DeployError, ExitCode, FlashError, RenderError, UsageError
from flashctl.kubernetes import kubectl, manifests
from flashctl.kubernetes.render import Files, dump_all, render_kubernetes
from flashctl.model import Endpoint, Project
from flashctl.render import source_copy
from flashctl.targets import (
    ApplyRequest,
    DestroyRequest,
    PlanRequest,
    RenderRequest,
    StatusRequest,
)

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
    return source_copy.differences(rendered_files(project), source_copy.read_tree(output))


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


# -- status and destroy ----------------------------------------------------------------------

MANAGED_BY = "app.kubernetes.io/managed-by"
PART_OF = "app.kubernetes.io/part-of"


def owner_selector(project: Project) -> str:
    """The labels every object flashctl renders for `project` carries, as a label selector."""
    return f"{MANAGED_BY}=flashctl,{PART_OF}={project.name}"


def is_owned(project: Project, live: dict[str, Any]) -> bool:
    labels = (live.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(MANAGED_BY) == "flashctl" and labels.get(PART_OF) == project.name)


def _key(manifest: dict[str, Any]) -> tuple[str, str]:
    return str(manifest.get("kind")), str((manifest.get("metadata") or {}).get("name"))


def _described(live: dict[str, Any]) -> str:
    kind, name = _key(live)
    namespace = (live.get("metadata") or {}).get("namespace")
    return f"{kind.lower()}/{name}" + (f" (namespace {namespace})" if namespace else "")


@dataclass(frozen=True)
class Teardown:
    """What `destroy --target kubernetes` found: the live objects it may delete (this project's
    labels), and those of a rendered name that it leaves alone."""

    owned: list[dict[str, Any]]
    foreign: list[dict[str, Any]]

    def lines(self) -> list[str]:
        return [f"  - {_described(o)}: delete" for o in self.owned]

    def left_alone(self, project: Project) -> list[str]:
        return [
            f"{_described(o)} is not labelled as project {project.name}'s"
            f" ({owner_selector(project)}): left alone"
            for o in self.foreign
        ]


def teardown(project: Project) -> Teardown:
    """The live objects named by a fresh render (`kubectl get -f`), split by owner."""
    live = kubectl.get_files(render_kubernetes(project))
    owned = [o for o in live if is_owned(project, o)]
    return Teardown(owned, [o for o in live if not is_owned(project, o)])


def destroy(project: Project, found: Teardown) -> str:
    """`kubectl delete -f` on the rendered objects that `found` owns (and only if the live ones
    still carry this project's labels: the selector is checked by kubectl too)."""
    keep = {_key(o) for o in found.owned}
    files = {}
    for endpoint in project.endpoints:
        documents = [m for m in manifests.endpoint_manifests(project, endpoint) if _key(m) in keep]
        if documents:
            files[f"{endpoint.key}.yaml"] = dump_all(documents)
    return kubectl.delete_files(files, owner_selector(project))


@dataclass(frozen=True)
class DeploymentStatus:
    endpoint: str
    deployment: str
    namespace: str | None
    exists: bool
    owned: bool
    ready: int
    replicas: int


def status(project: Project) -> list[DeploymentStatus]:
    """Each endpoint's Deployment as the cluster has it (`kubectl get -f` on the rendered
    Deployments): ready replicas of the replicas it wants."""
    deployments = {
        endpoint.key: [
            m for m in manifests.endpoint_manifests(project, endpoint) if m["kind"] == "Deployment"
        ]
        for endpoint in project.endpoints
    }
    files = {f"{key}.yaml": dump_all(found) for key, found in deployments.items()}
    live = {
        (o.get("metadata") or {}).get("name"): o
        for o in kubectl.get_files(files)
        if o.get("kind") == "Deployment"
    }
    rows = []
    for endpoint in project.endpoints:
        name = manifests.object_name(endpoint)
        found = live.get(name)
        state = (found or {}).get("status") or {}
        wanted = ((found or {}).get("spec") or {}).get("replicas")
        rows.append(
            DeploymentStatus(
                endpoint.key,
                name,
                ((found or {}).get("metadata") or {}).get("namespace")
                or endpoint.kubernetes.namespace,
                found is not None,
                found is not None and is_owned(project, found),
                int(state.get("readyReplicas") or 0),
                int(wanted if wanted is not None else state.get("replicas") or 0),
            )
        )
    return rows


def status_text(rows: list[DeploymentStatus]) -> str:
    """One line per endpoint: its Deployment and ready/wanted replicas, or why there are none."""
    lines = []
    for row in rows:
        where = f"deployment/{row.deployment}" + (f" -n {row.namespace}" if row.namespace else "")
        if not row.exists:
            said = "not deployed"
        elif not row.owned:
            said = "not this project's (no flashctl labels for it)"
        else:
            said = f"ready {row.ready}/{row.replicas}"
        lines.append(f"{row.endpoint}  {where}  {said}")
    return "\n".join(lines) + "\n"


def status_json(rows: list[DeploymentStatus]) -> str:
    return json.dumps({"endpoints": [vars(row) for row in rows]}, indent=2) + "\n"


# -- the flows `flashctl COMMAND --target kubernetes` runs (see flashctl/targets.py) --------------


def run_render(load: Load, console: Console, request: RenderRequest) -> ExitCode:
    from flashctl.render.flows import report_check

    project = load().project
    output = request.output or default_output(project)
    if request.check:
        fix = f"flashctl render --target kubernetes -o {output}"
        return report_check(console, output, check_rendered(project, output), fix)
    written = render_to(project, output, force=request.force)
    for name in written:
        console.out(f"{output / name}\n")
    console.progress(f"wrote {len(written)} files to {output}; apply: kubectl apply -f {output}")
    return ExitCode.OK


def run_plan(load: Load, console: Console, request: PlanRequest) -> ExitCode:
    if request.out is not None or request.prune or request.fmt != "text":
        raise UsageError(
            "--out, --prune and --format json are for RunPod; `plan --target kubernetes`"
            " runs `kubectl apply --dry-run=client` (--detailed-exitcode works with it)"
        )
    project = load().project
    console.out(plan(project))
    if not request.detailed_exitcode:
        return ExitCode.OK
    diff = differences(project)
    if diff is None:
        return ExitCode.OK
    console.out(diff)
    return ExitCode.CHANGES


def run_apply(load: Load, console: Console, request: ApplyRequest) -> ExitCode:
    from flashctl.deploy.apply import ApplyInterrupted
    from flashctl.deploy.confirm import confirm

    if request.plan_file is not None or request.prune:
        raise UsageError("a saved PLAN and --prune are for RunPod, not --target kubernetes")
    project = load().project
    if not request.assume_yes:
        console.err(plan(project))
        if not confirm("Apply these objects with kubectl?", assume_yes=False, command="apply"):
            raise FlashError(
                "Apply cancelled: nothing was changed. Running `flashctl apply --target"
                " kubernetes` again is safe: it asks again."
            )
    try:
        console.out(apply(project))
    except KeyboardInterrupt:
        raise ApplyInterrupted(
            "Apply interrupted: kubectl may have applied some of the objects and not others."
            " Running `flashctl apply --target kubernetes` again is safe: kubectl apply makes"
            " the cluster match the files whatever it has now."
        ) from None
    if not request.wait:
        return ExitCode.OK
    console.progress(f"waiting up to {request.wait_timeout:g} s for the Deployments to roll out")
    try:
        for said in rollouts(project, request.wait_timeout):
            console.out(said)
    except KeyboardInterrupt:
        raise ApplyInterrupted(
            "Apply interrupted while waiting for the rollouts: every object was applied;"
            " only the wait was cut short. `flashctl status --target kubernetes` shows"
            " the Deployments."
        ) from None
    return ExitCode.OK


def run_status(load: Load, console: Console, request: StatusRequest) -> ExitCode:
    rows = status(load().project)
    console.out(status_json(rows) if request.fmt == "json" else status_text(rows))
    return ExitCode.OK


def run_destroy(load: Load, console: Console, request: DestroyRequest) -> ExitCode:
    from flashctl.deploy.confirm import confirm

    project = load().project
    found = teardown(project)
    for line in found.left_alone(project):
        console.progress(line)
    if not found.owned:
        console.progress(f"Nothing to destroy: no object of project {project.name} exists.")
        return ExitCode.OK
    console.progress("\n".join(found.lines()))
    question = f"Delete {len(found.owned)} object(s) of project {project.name} with kubectl?"
    if not confirm(question, assume_yes=request.assume_yes, command="destroy"):
        raise FlashError("Destroy cancelled; nothing was deleted.")
    console.out(destroy(project, found))
    return ExitCode.OK
