"""`flashctl rollback ENDPOINT [--to VERSION]`: put an endpoint back on an earlier release.

RunPod keeps no snapshot of a release, only its `diff` (`GET /v2/serverless/{id}/releases`,
newest first). The configuration of release N is rebuilt from the live endpoint by undoing,
newest first, every change the releases after N recorded (each `field` set back to its `old`,
an `old` of null removing the field). A change made in place (workers, scaling, timeout) makes
no release, so it is kept, unless a later release recorded it too. Name, type and the owner env
never change in a rollback.

The rebuilt configuration is planned like a flash.yaml endpoint (`make_plan`), shown in the plan
text, confirmed, and carried out by `carry_out`, so the rules of `apply` hold: only an endpoint
this project owns, a PATCH of the changed fields, a new release on RunPod. flash.yaml is not
touched, so it now differs from the live endpoint: the next `apply` would undo the rollback.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from flashctl.compiler.pipeline import Load
from flashctl.console import Console
from flashctl.deploy.apply import carry_out
from flashctl.deploy.confirm import confirm
from flashctl.deploy.connect import open_client, shown_url
from flashctl.deploy.desired import DesiredEndpoint
from flashctl.deploy.invoke import find_endpoint
from flashctl.deploy.normalize import SERVER_ENV_PREFIX, normalize, owner
from flashctl.deploy.plan import REPLACE, Plan, make_plan
from flashctl.deploy.plan_text import plan_text
from flashctl.errors import DeployError, ExitCode, FlashError
from flashctl.runpod.create_body import PROJECT_ENV

JSONObject = dict[str, Any]

# Fields of an endpoint description that are not its configuration, and those a rollback keeps.
_NOT_CONFIGURATION = ("id", "createdAt", "requestUrls")
_KEPT = ("name", "type")
# The top-level fields a release diff may name that flashctl can set (`normalize`'s fields).
_CONFIGURATION = frozenset(normalize({}))


@dataclass(frozen=True)
class RollbackRequest:
    endpoint: str  # flash.yaml key or RunPod name
    version: int | None  # None: the release before the current one
    assume_yes: bool
    api_url: str | None
    wait: bool = True  # follow the rollout of the new release, as `apply --wait` does
    wait_timeout: float = 600.0


@dataclass(frozen=True)
class Target:
    """The release to go back to, and the endpoint's current one."""

    version: int
    current: int
    undone: tuple[str, ...]  # the fields the releases after `version` changed, in order


def pick_release(answer: Mapping[str, Any], wanted: int | None, name: str) -> Target:
    """The release to roll back to from a `ListEndpointReleasesResponse`.

    >>> answer = {"endpointVersion": 2, "releases": [
    ...     {"version": 2, "diff": [{"field": "image", "old": "a:1", "new": "a:2"}]},
    ...     {"version": 1, "diff": [{"field": "image", "old": None, "new": "a:1"}]}]}
    >>> pick_release(answer, None, "api")
    Target(version=1, current=2, undone=('image',))
    """
    releases = _releases(answer)
    versions = [int(release["version"]) for release in releases]
    if not versions:
        raise DeployError(f"Endpoint '{name}' reports no releases: there is nothing to go back to.")
    reported = answer.get("endpointVersion")
    current = int(reported) if isinstance(reported, int) else max(versions)
    if wanted is None:
        earlier = [version for version in versions if version < current]
        if not earlier:
            raise DeployError(
                f"Endpoint '{name}' has no release before its current one (v{current}): there is"
                " nothing to roll back to."
            )
        wanted = max(earlier)
    elif wanted not in versions:
        listed = ", ".join(f"v{version}" for version in sorted(versions))
        raise DeployError(
            f"Endpoint '{name}' has no release {wanted}; its releases are {listed}"
            " (`flashctl status --releases` shows what each changed)."
        )
    undone = tuple(
        str(entry.get("field"))
        for release in releases
        if int(release["version"]) > wanted
        for entry in release.get("diff") or []
    )
    return Target(wanted, current, undone)


def release_configuration(
    live: Mapping[str, Any], releases: Sequence[Mapping[str, Any]], version: int, project: str
) -> JSONObject:
    """The create-body-shaped configuration of release `version`: `live` with the diffs of
    every later release undone, newest first (see the module docstring).

    >>> live = {"id": "x7", "name": "api", "image": "a:3", "env": {"A": "2", "B": "1"}}
    >>> releases = [
    ...     {"version": 3, "diff": [{"field": "image", "old": "a:2", "new": "a:3"}]},
    ...     {"version": 2, "diff": [{"field": "image", "old": "a:1", "new": "a:2"},
    ...                             {"field": "env.A", "old": "1", "new": "2"},
    ...                             {"field": "env.B", "old": None, "new": "1"}]}]
    >>> release_configuration(live, releases, 1, "shop")
    {'name': 'api', 'image': 'a:1', 'env': {'A': '1', 'FLASHCTL_PROJECT': 'shop'}}
    """
    shape = {k: copy.deepcopy(v) for k, v in live.items() if k not in _NOT_CONFIGURATION}
    for release in _releases({"releases": releases}):
        if int(release["version"]) <= version:
            continue
        for entry in release.get("diff") or []:
            field = str(entry.get("field", ""))
            if field.split(".", 1)[0] not in _CONFIGURATION:
                raise DeployError(
                    f"Release {release['version']} of '{live.get('name')}' changed `{field}`,"
                    " which flashctl cannot set on an endpoint; it cannot rebuild release"
                    f" {version}. Nothing was changed."
                )
            if field.split(".", 1)[0] not in _KEPT:
                _set(shape, field, copy.deepcopy(entry.get("old")))
    env = {
        key: value
        for key, value in (shape.get("env") or {}).items()
        if not key.startswith(SERVER_ENV_PREFIX)  # the server's own; it sets them again
    }
    env[PROJECT_ENV] = project  # a rollback never gives the endpoint away
    shape["env"] = env
    return shape


def _releases(answer: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The releases with a version, newest first."""
    listed = [r for r in answer.get("releases") or [] if isinstance(r.get("version"), int)]
    return sorted(listed, key=lambda release: -int(release["version"]))


def _set(shape: JSONObject, field: str, value: Any) -> None:
    """Set the dotted `field` (`env.LOG_LEVEL`, `workers.max`) to `value`; None removes it.
    A key that itself holds dots is found before the path is split further."""
    node = shape
    parts = field.split(".")
    for index, part in enumerate(parts):
        rest = ".".join(parts[index:])
        if rest in node or index == len(parts) - 1:
            if value is None:
                node.pop(rest, None)
            else:
                node[rest] = value
            return
        child = node.get(part)
        if not isinstance(child, dict):
            if value is None:
                return  # nothing there to remove
            child = node[part] = {}
        node = child


def rollback_plan(
    live: Mapping[str, Any],
    answer: Mapping[str, Any],
    target: Target,
    *,
    key: str,
    project: str,
    api_url: str,
) -> Plan:
    """The plan that puts `live` back on `target`'s configuration (pure)."""
    body = release_configuration(live, list(answer.get("releases") or []), target.version, project)
    name = str(live.get("name"))
    plan = make_plan(
        [DesiredEndpoint(key, name, body)],
        [live],
        project=project,
        environment=None,
        api_url=api_url,
    )
    (planned,) = plan.endpoints
    if planned.action == REPLACE:
        raise DeployError(
            f"Rolling '{name}' back to release {target.version} would replace the endpoint"
            f" ({planned.note}); a rollback only updates one. Nothing was changed."
        )
    note = f"rollback to release {target.version} (now {target.current})"
    return dataclasses.replace(plan, endpoints=(dataclasses.replace(planned, note=note),))


def run_rollback(load: Load, console: Console, request: RollbackRequest) -> ExitCode:
    project = load().project
    endpoint = find_endpoint(project, request.endpoint)
    name = endpoint.runpod_name
    with open_client(request.api_url) as client:
        live = _owned(client.list_endpoints(), name, project.name)
        endpoint_id = str(live["id"])
        answer = client.list_releases(endpoint_id, name=name)
        target = pick_release(answer, request.version, name)
        plan = rollback_plan(
            live, answer, target, key=endpoint.key, project=project.name, api_url=shown_url(client)
        )
        console.err(plan_text(plan, Console.color("stderr")))
        if not plan.pending:
            console.progress(
                f"{name} already has the configuration of release {target.version}; nothing to"
                " roll back."
            )
            return ExitCode.OK
        try:
            agreed = confirm(
                f"Roll {name} back to release {target.version}?",
                assume_yes=request.assume_yes,
                command="rollback",
            )
        except (click.exceptions.Abort, KeyboardInterrupt):
            agreed = False
        if not agreed:
            raise FlashError("Rollback cancelled: nothing was changed.")
        (outcome,) = carry_out(client, plan, console.progress)
        if outcome.error is not None:
            raise DeployError(f"Rollback of {name} failed: {outcome.error}")
        fields = ", ".join(dict.fromkeys(change.path for change in plan.endpoints[0].changes))
        console.progress(
            f"Rolled {name} back to the configuration of release {target.version} ({fields}).\n"
            f"{project.file} still describes the configuration before the rollback, so it now"
            " differs from the live endpoint: the next `flashctl apply` would undo the rollback."
            f" Change {project.file} to match (or fix it and apply) before you apply again."
        )
        if request.wait:
            from flashctl.deploy.flows import rollout_targets
            from flashctl.deploy.wait import wait_for_rollouts

            targets = rollout_targets([outcome])
            wait_for_rollouts(client, targets, request.wait_timeout, console.progress)
    return ExitCode.OK


def _owned(remote: Sequence[Mapping[str, Any]], name: str, project: str) -> Mapping[str, Any]:
    """The endpoint named `name` that `project` owns (the oldest, as `apply` manages it)."""
    named = sorted(
        (e for e in remote if e.get("name") == name),
        key=lambda e: (str(e.get("createdAt", "")), str(e.get("id", ""))),
    )
    for candidate in named:
        if owner(candidate) == project:
            return candidate
    if named:
        holder = owner(named[0])
        whose = f"project '{holder}'" if holder else f"no project (it has no {PROJECT_ENV} env)"
        raise DeployError(
            f"Endpoint '{name}' ({named[0].get('id')}) belongs to {whose}, not to '{project}';"
            " rollback only touches this project's endpoints. Nothing was changed."
        )
    raise DeployError(
        f"Endpoint '{name}' is not deployed: there is nothing to roll back"
        " (`flashctl apply` creates it)."
    )
