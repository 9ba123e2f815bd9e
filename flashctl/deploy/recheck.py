"""What a saved plan may do, decided again from RunPod's list when `apply PLAN` runs.

A plan file is a request, not a proof: it often travels as a CI artifact and may have been edited
since `plan --out`. So `apply` trusts none of its claims about ownership. The project is the one
flash.yaml names, and each endpoint the plan acts on is looked up again, by id, in the list of
now:

- the plan is this project's and names only `<project>-...` endpoints, each acted on once;
- a delete or a replace acts on an endpoint whose `FLASHCTL_PROJECT` is this project (a delete
  only in a plan made with `--prune`);
- an update acts on an endpoint this project or no project owns, under a name no other project
  holds (`plan.name_conflict`, the rule `make_plan` follows);
- the endpoint with that id has the planned name; create bodies, and the env of a patch, carry
  this project's `FLASHCTL_PROJECT` and the planned name.

    refusals(plan, client.list_endpoints(), "shop")
    # ["shop-api (x7k2m9q4p1v8z3) belongs to project 'billing': ..."] or []
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from flashctl.deploy.normalize import base_url, owner
from flashctl.deploy.plan import (
    CREATE,
    DELETE,
    NO_CHANGE,
    REPLACE,
    UPDATE_IN_PLACE,
    UPDATE_RESTART,
    EndpointPlan,
    Plan,
    name_conflict,
)
from flashctl.runpod.create_body import PROJECT_ENV


def refusals(plan: Plan, remote: Sequence[Mapping[str, Any]], project: str) -> list[str]:
    """Why `project` may not carry out `plan` on RunPod as `remote` lists it (empty: it may)."""
    if plan.project != project:
        return [f"it was made for project '{plan.project}', and the file is project '{project}'"]
    by_id = {str(e.get("id")): e for e in remote}
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for endpoint in remote:
        by_name.setdefault(str(endpoint.get("name", "")), []).append(endpoint)
    found: list[str] = []
    ids = Counter(str(e.endpoint_id) for e in plan.endpoints if e.endpoint_id is not None)
    names = Counter(e.name for e in plan.endpoints if e.action != DELETE)
    found += [f"it acts on {ident} more than once" for ident, n in ids.items() if n > 1]
    found += [f"it plans {name} more than once" for name, n in names.items() if n > 1]
    for planned in plan.endpoints:
        found += _entry_refusals(planned, plan, by_id, by_name.get(planned.name, []), project)
    return found


def with_live_urls(plan: Plan, remote: Sequence[Mapping[str, Any]]) -> Plan:
    """`plan` with each existing endpoint's URL as RunPod lists it, not as the file says."""
    by_id = {str(e.get("id")): e for e in remote}
    endpoints = tuple(
        dataclasses.replace(e, url=base_url(by_id[str(e.endpoint_id)]))
        if str(e.endpoint_id) in by_id
        else e
        for e in plan.endpoints
    )
    return dataclasses.replace(plan, endpoints=endpoints)


def _entry_refusals(
    planned: EndpointPlan,
    plan: Plan,
    by_id: Mapping[str, Mapping[str, Any]],
    named: Sequence[Mapping[str, Any]],
    project: str,
) -> list[str]:
    name, action = planned.name, planned.action
    found = _body_refusals(planned, project)
    if not name.startswith(project + "-"):
        found.append(f"{name} is not an endpoint name of project '{project}' ({project}-...)")
    if action == DELETE and not plan.prune:
        found.append(f"it deletes {name}, but it was not made with --prune")
    if action == CREATE:
        return found
    live = by_id.get(str(planned.endpoint_id))
    if live is None:
        return found  # gone since: stale_reasons says so
    label = f"{name} ({planned.endpoint_id})"
    if live.get("name") != name:
        found.append(f"{planned.endpoint_id} is named '{live.get('name')}' on RunPod, not {name}")
    holder = owner(live)
    whose = f"project '{holder}'" if holder else f"no project (no {PROJECT_ENV})"
    if action in (DELETE, REPLACE) and holder != project:
        found.append(
            f"it would delete {label}, which belongs to {whose}; flashctl deletes only "
            f"endpoints of project '{project}'"
        )
    elif holder not in (project, None):
        doing = "treat as its own" if action == NO_CHANGE else "update"
        found.append(f"it would {doing} {label}, which belongs to {whose}")
    elif action != DELETE and (conflict := name_conflict(name, named, project)):
        found.append(conflict.strip())
    return found


def _body_refusals(planned: EndpointPlan, project: str) -> list[str]:
    """A create body or a patch that would name or mark an endpoint as not this one."""
    found = []
    label = f"the {planned.action} of {planned.name}"
    if planned.action in (CREATE, REPLACE):
        body = planned.body
        if not isinstance(body, dict):
            return [f"{label} has no create body"]
        if body.get("name") != planned.name:
            found.append(f"{label} would create an endpoint named {body.get('name')!r}")
        if owner(body) != project:
            found.append(f"{label} would create an endpoint without {PROJECT_ENV}={project}")
    elif planned.action in (UPDATE_IN_PLACE, UPDATE_RESTART):
        patch = planned.patch
        if not isinstance(patch, dict):
            return [f"{label} has no patch"]
        if "name" in patch and patch["name"] != planned.name:
            found.append(f"{label} would rename it to {patch['name']!r}")
        if "env" in patch and owner(patch) != project:
            found.append(f"{label} would set its env without {PROJECT_ENV}={project}")
    elif planned.action not in (DELETE, NO_CHANGE):
        found.append(f"{label}: unknown action")
    return found
