"""`flashctl destroy`: which endpoints may be deleted. Only those the file names AND this
project owns (`FLASHCTL_PROJECT` in their env); an endpoint with a matching name that another
project, or no project, owns is reported and left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flashctl.deploy.normalize import base_url, fingerprint, owner
from flashctl.deploy.plan import DELETE, EndpointPlan, Plan
from flashctl.model import Project
from flashctl.runpod.create_body import PROJECT_ENV


def destroy_plan(
    project: Project, remote: Sequence[Mapping[str, Any]], api_url: str
) -> tuple[Plan, list[str]]:
    """The deletions, and a line for each same-named endpoint that is left alone."""
    keys = {endpoint.runpod_name: endpoint.key for endpoint in project.endpoints}
    deletes, skipped = [], []
    for endpoint in sorted(remote, key=lambda e: (str(e.get("name")), str(e.get("id")))):
        name = str(endpoint.get("name"))
        if name not in keys:
            continue
        holder = owner(endpoint)
        if holder != project.name:
            whose = f"project '{holder}'" if holder else f"no project (no {PROJECT_ENV})"
            skipped.append(f"{name} ({endpoint.get('id')}) belongs to {whose}: left alone")
            continue
        deletes.append(
            EndpointPlan(
                name,
                keys[name],
                DELETE,
                endpoint_id=str(endpoint.get("id")),
                url=base_url(endpoint),
                remote_fingerprint=fingerprint(endpoint),
            )
        )
    plan = Plan(project.name, project.environment, api_url, False, tuple(deletes))
    return plan, skipped
