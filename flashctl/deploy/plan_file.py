"""The JSON form of a plan: `flashctl plan --format json` prints it, `--out FILE` saves it, and
`flashctl apply FILE` carries a saved one out after checking that RunPod has not changed since
and that every endpoint it touches is this project's (`recheck.py`).

    {
      "format": 2,                          # bumped on incompatible changes
      "project": "seed", "environment": null,
      "api_url": "https://api.runpod.io",   # a saved plan is applied only against this API
      "prune": false,
      "changes_pending": true,              # false when every action is "no change"
      "summary": {"create": 1, "update in place": 0, "update, workers restart": 1,
                  "replace": 0, "delete": 0, "no change": 1},
      "endpoints": [
        {"name": "seed-gpu", "key": "gpu", "action": "update, workers restart",
         "id": "x7k2m9q4p1v8z3", "url": "https://x7k2m9q4p1v8z3.api.runpod.ai",
         "remote_fingerprint": "sha256:...",  # of the remote endpoint; null for a create
         "changes": [{"path": "image", "before": "a:1", "after": "a:2"}],
         "body": null,                        # the create body (create, replace)
         "patch": {"image": "a:2"},           # the PATCH body (updates)
         "note": "", "workers_min": 0,
         "same_name": ["x7k2m9q4p1v8z3"]}     # ids of all endpoints RunPod had with this name
      ],
      "kept": ["seed-old"],                 # owned endpoints that left the file (no --prune)
      "warnings": [],
      "registries": [                       # the registry credentials the endpoints use
        {"name": "acme-ghcr", "id": null,    # null: apply creates it, and puts its id where
         "username_env": "GHCR_USER",        # a body says "<registry credential acme-ghcr>"
         "password_env": "GHCR_TOKEN", "endpoints": ["seed-gpu"]}
      ]
    }

`action` is one of "create", "update in place", "update, workers restart", "replace", "delete",
"no change". `before`/`after` are JSON values; null means absent. The API key is never part of
a plan; env values are (secrets only as `{{ RUNPOD_SECRET_name }}` references), and a registry
login only as the names of the variables that hold it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flashctl.deploy.diff import FieldChange
from flashctl.deploy.normalize import fingerprint
from flashctl.deploy.plan import ACTIONS, CREATE, EndpointPlan, Plan, RegistryPlan
from flashctl.errors import InputError
from flashctl.files import write_file

FORMAT = 2  # 2: `same_name`


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "project": plan.project,
        "environment": plan.environment,
        "api_url": plan.api_url,
        "prune": plan.prune,
        "changes_pending": bool(plan.pending),
        "summary": plan.summary(),
        "endpoints": [_endpoint_to_json(e) for e in plan.endpoints],
        "kept": list(plan.kept),
        "warnings": list(plan.warnings),
        "registries": [
            dataclasses.asdict(r) | {"endpoints": list(r.endpoints)} for r in plan.registries
        ],
    }


def dumps(plan: Plan) -> str:
    return json.dumps(plan_to_json(plan), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def _endpoint_to_json(endpoint: EndpointPlan) -> dict[str, Any]:
    return {
        "name": endpoint.name,
        "key": endpoint.key,
        "action": endpoint.action,
        "id": endpoint.endpoint_id,
        "url": endpoint.url,
        "remote_fingerprint": endpoint.remote_fingerprint,
        "changes": [
            {"path": c.path, "before": c.before, "after": c.after} for c in endpoint.changes
        ],
        "body": endpoint.body,
        "patch": endpoint.patch,
        "note": endpoint.note,
        "workers_min": endpoint.workers_min,
        "same_name": list(endpoint.same_name),
    }


def write_plan(path: Path, plan: Plan) -> None:
    """Write the plan atomically (a reader never sees half a file)."""
    write_file(path, dumps(plan).encode("utf-8"))


def read_plan(path: Path) -> Plan:
    """A saved plan, or an InputError saying what is wrong with the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{path}: no such plan file; make one with `flashctl plan --out`"
        ) from None
    except (OSError, ValueError) as err:
        raise InputError(f"{path} is not a plan file from `flashctl plan --out`: {err}") from None
    try:
        return _plan_from_json(data)
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(
            f"{path} is not a plan file from `flashctl plan --out` (format {FORMAT}): {err}"
        ) from None


def _plan_from_json(data: Mapping[str, Any]) -> Plan:
    if data.get("format") != FORMAT:
        raise ValueError(f"format {data.get('format')!r} is not {FORMAT}")
    endpoints = []
    for item in data["endpoints"]:
        if item["action"] not in ACTIONS:
            raise ValueError(f"unknown action {item['action']!r}")
        endpoints.append(
            EndpointPlan(
                name=str(item["name"]),
                key=item["key"],
                action=item["action"],
                endpoint_id=item["id"],
                url=item["url"],
                remote_fingerprint=item["remote_fingerprint"],
                changes=tuple(
                    FieldChange(c["path"], c["before"], c["after"]) for c in item["changes"]
                ),
                body=item["body"],
                patch=item["patch"],
                note=str(item.get("note", "")),
                workers_min=int(item.get("workers_min", 0)),
                same_name=tuple(str(i) for i in item["same_name"]),
            )
        )
    return Plan(
        project=str(data["project"]),
        environment=data["environment"],
        api_url=str(data["api_url"]),
        prune=bool(data["prune"]),
        endpoints=tuple(endpoints),
        kept=tuple(data.get("kept", ())),
        warnings=tuple(data.get("warnings", ())),
        registries=tuple(
            RegistryPlan(
                name=str(r["name"]),
                id=None if r["id"] is None else str(r["id"]),
                username_env=r.get("username_env"),
                password_env=r.get("password_env"),
                endpoints=tuple(str(e) for e in r.get("endpoints", ())),
            )
            for r in data.get("registries", ())
        ),
    )


def stale_reasons(plan: Plan, remote: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why RunPod no longer matches what `plan` was made against (empty: it still does).

    Besides the endpoint acted on, the set of endpoints sharing its name counts: one created
    (by another project, say) or deleted since changes who owns the name and what to manage.
    """
    by_id = {str(e.get("id")): e for e in remote}
    ids_by_name: dict[str, set[str]] = {}
    for endpoint in remote:
        ids_by_name.setdefault(str(endpoint.get("name")), set()).add(str(endpoint.get("id")))
    reasons = []
    for planned in plan.endpoints:
        now = ids_by_name.get(planned.name, set())
        if planned.action == CREATE:
            if now:
                reasons.append(f"{planned.name} has been created since")
            continue
        current = by_id.get(str(planned.endpoint_id))
        if current is None:
            reasons.append(f"{planned.name} ({planned.endpoint_id}) has been deleted since")
        elif fingerprint(current) != planned.remote_fingerprint:
            reasons.append(f"{planned.name} ({planned.endpoint_id}) has changed since")
        elif now != set(planned.same_name):
            added, gone = sorted(now - set(planned.same_name)), sorted(set(planned.same_name) - now)
            what = "; ".join(
                part
                for part in (
                    f"{', '.join(added)} appeared" if added else "",
                    f"{', '.join(gone)} went away" if gone else "",
                )
                if part
            )
            reasons.append(f"the endpoints named {planned.name} changed since ({what})")
    return list(dict.fromkeys(reasons))  # duplicates of one name share their reason
