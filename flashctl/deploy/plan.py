"""Planning, a pure function: desired endpoints + the remote list -> one action per endpoint.

    plan = make_plan(desired, remote, project="seed", environment=None, api_url=URL)
    [(e.name, e.action) for e in plan.endpoints]   # [("seed-gpu", "create"), ...]

Identity is the RunPod name. Ownership is the `FLASHCTL_PROJECT` env of a remote endpoint:
a name another project holds (and this project does not) is a conflict, never touched, even when
an endpoint owned by no project shares it; otherwise an endpoint owned by no project is adopted
(its env gains FLASHCTL_PROJECT), but never deleted or replaced. Actions (design section 8):

- `create`: no endpoint has the name.
- `update in place`: only workers, scaling, timeout or name differ.
- `update, workers restart`: image, env, compute, disk, locations, volumes or flashboot differ.
- `replace`: the type (or the GPU/CPU family, which RunPod cannot change in place) differs.
- `delete`: with `prune`, an owned endpoint of this environment that left the file, or an owned
  duplicate of a managed name.
- `no change`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flashctl.deploy.desired import DesiredEndpoint
from flashctl.deploy.diff import (
    REPLACE_FIELDS,
    RESTART_FIELDS,
    FieldChange,
    changed_fields,
    field_changes,
)
from flashctl.deploy.normalize import against, base_url, fingerprint, normalize, owner
from flashctl.deploy.patch import patch_body
from flashctl.errors import DeployError
from flashctl.runpod.create_body import PROJECT_ENV

CREATE = "create"
UPDATE_IN_PLACE = "update in place"
UPDATE_RESTART = "update, workers restart"
REPLACE = "replace"
DELETE = "delete"
NO_CHANGE = "no change"
ACTIONS = (CREATE, UPDATE_IN_PLACE, UPDATE_RESTART, REPLACE, DELETE, NO_CHANGE)

JSONObject = dict[str, Any]


@dataclass(frozen=True)
class EndpointPlan:
    """What happens to one endpoint, with everything needed to carry it out."""

    name: str
    key: str | None  # the flash.yaml key; None for a delete
    action: str
    endpoint_id: str | None = None  # the remote endpoint acted on; None for a create
    url: str | None = None  # its requestUrls.base as planned
    remote_fingerprint: str | None = None  # of the remote endpoint; None when there is none
    changes: tuple[FieldChange, ...] = ()
    body: JSONObject | None = None  # the create body (create, replace)
    patch: JSONObject | None = None  # the PATCH body (updates)
    note: str = ""  # why, when it is not obvious
    workers_min: int = 0  # desired workers.min, for `apply --wait`
    same_name: tuple[str, ...] = ()  # ids of every remote endpoint with this name, sorted


@dataclass(frozen=True)
class RegistryPlan:
    """A registry credential the endpoints use: one RunPod has (`id`), or one apply creates from
    the values of two environment variables (only their names are kept, never the values)."""

    name: str
    id: str | None  # None: apply creates it
    username_env: str | None = None
    password_env: str | None = None
    endpoints: tuple[str, ...] = ()  # the RunPod names of the endpoints that use it


@dataclass(frozen=True)
class Plan:
    project: str
    environment: str | None
    api_url: str
    prune: bool
    endpoints: tuple[EndpointPlan, ...]
    kept: tuple[str, ...] = ()  # owned endpoints that left the file, kept without prune
    warnings: tuple[str, ...] = field(default=())
    registries: tuple[RegistryPlan, ...] = ()  # the credentials the endpoints use

    @property
    def pending(self) -> tuple[EndpointPlan, ...]:
        """The endpoints that need an API write."""
        return tuple(e for e in self.endpoints if e.action != NO_CHANGE)

    def summary(self) -> dict[str, int]:
        counts = Counter(e.action for e in self.endpoints)
        return {action: counts[action] for action in ACTIONS}


class OwnershipConflict(DeployError):
    """An endpoint the project would manage has the name of another project's endpoint."""


def make_plan(
    desired: Sequence[DesiredEndpoint],
    remote: Sequence[Mapping[str, Any]],
    *,
    project: str,
    environment: str | None,
    api_url: str,
    prune: bool = False,
    other_environments: Iterable[str] = (),
) -> Plan:
    """The plan that makes `remote` (RunPod's endpoint list) match `desired`."""
    other_environments = tuple(other_environments)
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for endpoint in remote:
        by_name.setdefault(str(endpoint.get("name", "")), []).append(endpoint)

    endpoints: list[EndpointPlan] = []
    conflicts: list[str] = []
    warnings: list[str] = []
    duplicates: list[Mapping[str, Any]] = []
    for want in desired:
        candidates = by_name.get(want.name, [])
        conflict = name_conflict(want.name, candidates, project)
        if conflict is not None:
            conflicts.append(conflict)
            continue
        managed, others = _managed(candidates, project)
        planned = _endpoint_plan(want, managed, project, same_name=_ids(candidates))
        if managed is not None and planned.action == REPLACE and owner(managed) != project:
            conflicts.append(
                f"  {want.name} ({managed.get('id')}) has no {PROJECT_ENV}: replacing it (the "
                "type or GPU/CPU changed) would delete an endpoint this project does not own; "
                "delete it yourself, or keep its type"
            )
            continue
        endpoints.append(planned)
        if managed is None:
            continue
        # Names may repeat on RunPod. Duplicates this project owns go with --prune; others stay.
        owned_extra = [c for c in others if owner(c) == project]
        if prune:
            duplicates += owned_extra
        untouched = [c for c in others if not (prune and owner(c) == project)]
        if untouched:
            ids = ", ".join(str(c.get("id")) for c in untouched)
            hint = " (apply --prune deletes those it owns)" if owned_extra and not prune else ""
            warnings.append(
                f"{want.name}: {len(untouched)} more endpoint(s) have this name ({ids}); "
                f"flashctl manages {managed.get('id')}{hint}"
            )
    if conflicts:
        raise OwnershipConflict(
            "Some endpoints in the file would take over endpoints this project does not own:\n"
            + "\n".join(conflicts)
        )

    wanted = {want.name for want in desired}
    leaving = [
        r
        for r in remote
        if owner(r) == project
        and r.get("name") not in wanted
        and in_scope(str(r.get("name")), project, environment, other_environments)
    ]
    kept: tuple[str, ...] = ()
    if prune:
        for endpoint in sorted(leaving, key=_age):
            endpoints.append(_delete(endpoint, "left the file", by_name))
        for endpoint in sorted(duplicates, key=_age):
            endpoints.append(_delete(endpoint, "a duplicate of a managed endpoint", by_name))
    else:
        kept = tuple(sorted({str(r.get("name")) for r in leaving}))
    return Plan(project, environment, api_url, prune, tuple(endpoints), kept, tuple(warnings))


def name_conflict(name: str, candidates: Sequence[Mapping[str, Any]], project: str) -> str | None:
    """Why `project` may not manage `name` (a line of the conflict message), or None if it may.

    A name is another project's when an endpoint of it carries that project's FLASHCTL_PROJECT
    and none carries this project's; an endpoint without the env beside it changes nothing.
    """
    if any(owner(c) == project for c in candidates):
        return None
    foreign = sorted((c for c in candidates if owner(c) is not None), key=_age)
    if not foreign:
        return None
    unowned = sum(1 for c in candidates if owner(c) is None)
    beside = f" (and {unowned} endpoint(s) with no {PROJECT_ENV})" if unowned else ""
    return (
        f"  {name} ({foreign[0].get('id')}) belongs to project '{owner(foreign[0])}' (its env "
        f"{PROJECT_ENV}){beside}; rename the endpoint or the project"
    )


def in_scope(name: str, project: str, environment: str | None, others: Iterable[str]) -> bool:
    """Whether an owned endpoint named `name` belongs to this run's environment (for pruning).

    >>> in_scope("seed-api-prod", "seed", None, ["prod"]), in_scope("seed-old", "seed", None, [])
    (False, True)
    """
    if not name.startswith(project + "-"):
        return False
    if environment is not None:
        return name.endswith("-" + environment)
    return not any(name.endswith("-" + other) for other in others)


def _endpoint_plan(
    want: DesiredEndpoint,
    remote: Mapping[str, Any] | None,
    project: str,
    same_name: tuple[str, ...],
) -> EndpointPlan:
    workers_min = int(want.body.get("workers", {}).get("min", 0))
    if remote is None:
        changes = tuple(field_changes(None, want.body))
        return EndpointPlan(
            want.name,
            want.key,
            CREATE,
            changes=changes,
            body=want.body,
            workers_min=workers_min,
            same_name=same_name,
        )
    desired_shape = normalize(want.body)
    remote_shape = against(normalize(remote), desired_shape)
    changes = tuple(field_changes(remote_shape, desired_shape))
    fields = changed_fields(list(changes))
    note = "" if owner(remote) == project else f"adopts an endpoint without env {PROJECT_ENV}"
    common: dict[str, Any] = {
        "endpoint_id": str(remote.get("id")),
        "url": base_url(remote),
        "remote_fingerprint": fingerprint(remote),
        "changes": changes,
        "workers_min": workers_min,
        "same_name": same_name,
    }
    family_changes = (desired_shape["gpu"] is None) != (remote_shape["gpu"] is None)
    if fields & REPLACE_FIELDS or family_changes:
        why = (
            f"type {remote_shape['type']} -> {desired_shape['type']}"
            if "type" in fields
            else "RunPod cannot switch an endpoint between GPU and CPU in place"
        )
        return EndpointPlan(
            want.name, want.key, REPLACE, body=want.body, note=_join(why, note), **common
        )
    if not fields:
        return EndpointPlan(want.name, want.key, NO_CHANGE, **common)
    action = UPDATE_RESTART if fields & RESTART_FIELDS else UPDATE_IN_PLACE
    patch = patch_body(remote_shape, desired_shape, fields)
    return EndpointPlan(want.name, want.key, action, patch=patch, note=note, **common)


def _delete(
    remote: Mapping[str, Any], why: str, by_name: Mapping[str, list[Mapping[str, Any]]]
) -> EndpointPlan:
    name = str(remote.get("name"))
    return EndpointPlan(
        name,
        None,
        DELETE,
        endpoint_id=str(remote.get("id")),
        url=base_url(remote),
        remote_fingerprint=fingerprint(remote),
        note=why,
        same_name=_ids(by_name.get(name, [])),
    )


def _ids(endpoints: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(sorted(str(e.get("id")) for e in endpoints))


def _managed(
    candidates: list[Mapping[str, Any]], project: str
) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]:
    """The endpoint to manage among those with the name (owned first, then unowned; oldest
    first), and the rest. Call it only when `name_conflict` found none."""
    ordered = sorted(candidates, key=_age)
    for wanted_owner in (project, None):
        for candidate in ordered:
            if owner(candidate) == wanted_owner:
                return candidate, [c for c in ordered if c is not candidate]
    return None, ordered


def _age(endpoint: Mapping[str, Any]) -> tuple[str, str]:
    return str(endpoint.get("createdAt", "")), str(endpoint.get("id", ""))


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)
