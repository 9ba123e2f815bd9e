"""`flashctl status`: each endpoint of the file as RunPod sees it, with its workers' health.

Health, from the workers list: `not deployed`; `unhealthy` (a worker fails its health checks);
`updating` (workers still run an older configuration); `starting` (fewer ready workers than
`workers.min`); `healthy` (ready workers serve); `scaled to zero` (none needed, none running).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from flashctl.deploy.normalize import base_url, owner
from flashctl.deploy.wait import ready_count
from flashctl.model import Project
from flashctl.runpod.client import RunPodClient


@dataclass(frozen=True)
class EndpointStatus:
    key: str
    name: str
    id: str | None
    url: str | None
    ready: int
    min: int | None
    max: int | None
    total: int
    health: str


def health(endpoint: Mapping[str, Any] | None, workers: Mapping[str, Any]) -> str:
    """The one-word health of an endpoint (see the module docstring)."""
    if endpoint is None:
        return "not deployed"
    summary = workers.get("summary") or {}
    listed = workers.get("workers") or []
    ready = ready_count(workers)
    wanted = (endpoint.get("workers") or {}).get("min", 0)
    if summary.get("unhealthy"):
        return "unhealthy"
    if any(worker.get("isStale") for worker in listed):
        return "updating"
    if ready < wanted:
        return "starting"
    return "healthy" if ready else "scaled to zero"


def collect_status(client: RunPodClient, project: Project) -> list[EndpointStatus]:
    """One list call, then one workers call per deployed endpoint."""
    remote = client.list_endpoints()
    rows = []
    for endpoint in project.endpoints:
        found = _find(remote, endpoint.runpod_name, project.name)
        workers: Mapping[str, Any] = {}
        if found is not None:
            workers = client.list_workers(str(found["id"]), name=endpoint.runpod_name)
        scale = (found or {}).get("workers") or {}
        rows.append(
            EndpointStatus(
                key=endpoint.key,
                name=endpoint.runpod_name,
                id=str(found["id"]) if found else None,
                url=base_url(found) if found else None,
                ready=ready_count(workers),
                min=scale.get("min"),
                max=scale.get("max"),
                total=int((workers.get("summary") or {}).get("total", 0)),
                health=health(found, workers),
            )
        )
    return rows


def _find(remote: Sequence[Mapping[str, Any]], name: str, project: str) -> Mapping[str, Any] | None:
    named = [e for e in remote if e.get("name") == name]
    named.sort(key=lambda e: (owner(e) != project, str(e.get("createdAt", ""))))
    return named[0] if named else None


def status_json(rows: Sequence[EndpointStatus], project: Project) -> str:
    """`{"project": ..., "environment": ..., "endpoints": [{key, name, id, url, ready, min, max,
    total, health}]}`"""
    data = {
        "project": project.name,
        "environment": project.environment,
        "endpoints": [asdict(row) for row in rows],
    }
    return json.dumps(data, indent=2) + "\n"


def status_text(rows: Sequence[EndpointStatus]) -> str:
    table = [("ENDPOINT", "ID", "URL", "WORKERS", "HEALTH")]
    for row in rows:
        workers = f"{row.ready}/{row.min}/{row.max}" if row.id else "-"
        table.append((row.name, row.id or "-", row.url or "-", workers, row.health))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    return "\n".join(lines) + "\n(workers: ready/min/max)\n"
