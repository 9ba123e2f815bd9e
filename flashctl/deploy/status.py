"""`flashctl status`: each endpoint of the file as RunPod sees it, with its workers' health.

Health, from the workers list: `not deployed`; `unhealthy` (a worker fails its health checks);
`updating` (workers still run an older configuration); `starting` (fewer ready workers than
`workers.min`); `healthy` (ready workers serve); `scaled to zero` (none needed, none running).

Spend, from `GET /v2/billing/serverless` (one call, the last SPEND_DAYS days, today included):
each deployed endpoint's total in USD. When billing cannot be read, the column says so and the
rest of the status stands (`spend_error`).

With `--releases`, each deployed endpoint's release history follows, one line per release:

    shop-api (x7k2m9q4p1v8z3): version 2, rollout done
      v2  2026-12-01T22:50:00Z  image, env.LOG_LEVEL
      v1  2026-12-01T22:40:00Z  created
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from flashctl.deploy.normalize import base_url, owner
from flashctl.deploy.wait import ready_count
from flashctl.errors import DeployError
from flashctl.model import Project
from flashctl.runpod.client import RunPodClient

SPEND_DAYS = 7


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
    spend: float | None = None  # USD over the last SPEND_DAYS days; None: not deployed or unknown


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


@dataclass(frozen=True)
class Spend:
    """What `/v2/billing/serverless` says each endpoint cost, or why it could not be read."""

    by_id: dict[str, float]
    error: str | None = None


def collect_spend(client: RunPodClient) -> Spend:
    """One billing call; a failure (RunPod down, billing not allowed for the key) is reported,
    never raised: status still shows the endpoints."""
    try:
        answer = client.serverless_billing(bucket_size="day", last=SPEND_DAYS)
        return Spend(spend_by_endpoint(answer))
    except DeployError as err:
        return Spend({}, str(err).splitlines()[0])


def spend_by_endpoint(answer: Mapping[str, Any]) -> dict[str, float]:
    """`ListServerlessBillingResponse` summed per endpoint id.

    >>> spend_by_endpoint({"records": [{"serverlessId": "a", "totalAmount": 1.5},
    ...     {"serverlessId": "a", "totalAmount": 0.25}, {"serverlessId": "b", "totalAmount": 0}]})
    {'a': 1.75, 'b': 0.0}
    """
    records = answer.get("records")
    if not isinstance(records, list):
        raise DeployError("RunPod's billing answer has no `records` list.")
    totals: dict[str, float] = {}
    for record in records:
        ident, amount = record.get("serverlessId"), record.get("totalAmount")
        if isinstance(ident, str) and isinstance(amount, int | float):
            totals[ident] = totals.get(ident, 0.0) + float(amount)
    return totals


def with_spend(rows: Sequence[EndpointStatus], spend: Spend) -> list[EndpointStatus]:
    """`rows` with each deployed endpoint's spend (0 when billing lists nothing for it)."""
    if spend.error is not None:
        return list(rows)
    return [
        replace(row, spend=round(spend.by_id.get(row.id, 0.0), 2)) if row.id else row
        for row in rows
    ]


@dataclass(frozen=True)
class ReleaseLine:
    version: int | None
    created_at: str
    fields: tuple[str, ...]  # the changed fields (dotted), never their values
    created: bool  # the endpoint's first release: its creation


@dataclass(frozen=True)
class ReleaseHistory:
    name: str
    id: str
    version: int | None
    rollout: str  # "rollout done" or "rolling out: 1/2 workers on latest"
    releases: tuple[ReleaseLine, ...]  # newest first


def collect_releases(client: RunPodClient, rows: Sequence[EndpointStatus]) -> list[ReleaseHistory]:
    """One `/releases` call per deployed endpoint of `rows`."""
    histories = []
    for row in rows:
        if row.id is None:
            continue
        answer = client.list_releases(row.id, name=row.name)
        histories.append(release_history(row.name, row.id, answer))
    return histories


def release_history(name: str, endpoint_id: str, answer: Mapping[str, Any]) -> ReleaseHistory:
    """A `ListEndpointReleasesResponse`, read.

    >>> h = release_history("api", "x7k2", {"endpointVersion": 2, "rollout": {"inProgress": True,
    ...     "workersOnLatest": 1, "workersTotal": 2}, "releases": [{"version": 2, "createdAt": "T2",
    ...     "diff": [{"field": "image", "old": "a:1", "new": "a:2"}]}, {"version": 1,
    ...     "createdAt": "T1", "diff": [{"field": "image", "old": None, "new": "a:1"}]}]})
    >>> h.rollout, [(r.version, r.fields, r.created) for r in h.releases]
    ('rolling out: 1/2 workers on latest', [(2, ('image',), False), (1, ('image',), True)])
    """
    rollout = answer.get("rollout") or {}
    progress = (
        f"rolling out: {rollout.get('workersOnLatest', 0)}/{rollout.get('workersTotal', 0)}"
        " workers on latest"
        if rollout.get("inProgress")
        else "rollout done"
    )
    listed = list(answer.get("releases") or [])
    lines = []
    for index, release in enumerate(listed):
        diff = release.get("diff") or []
        first = index == len(listed) - 1 and all(entry.get("old") is None for entry in diff)
        lines.append(
            ReleaseLine(
                version=release.get("version"),
                created_at=str(release.get("createdAt", "")),
                fields=tuple(str(entry.get("field")) for entry in diff),
                created=first,
            )
        )
    return ReleaseHistory(name, endpoint_id, answer.get("endpointVersion"), progress, tuple(lines))


def releases_text(histories: Sequence[ReleaseHistory]) -> str:
    blocks = []
    for history in histories:
        version = "?" if history.version is None else history.version
        lines = [f"{history.name} ({history.id}): version {version}, {history.rollout}"]
        for release in history.releases:
            changed = "created" if release.created else ", ".join(release.fields) or "-"
            tag = "v?" if release.version is None else f"v{release.version}"
            lines.append(f"  {tag:<4} {release.created_at}  {changed}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _find(remote: Sequence[Mapping[str, Any]], name: str, project: str) -> Mapping[str, Any] | None:
    named = [e for e in remote if e.get("name") == name]
    named.sort(key=lambda e: (owner(e) != project, str(e.get("createdAt", ""))))
    return named[0] if named else None


def status_json(
    rows: Sequence[EndpointStatus],
    project: Project,
    histories: Sequence[ReleaseHistory] | None = None,
    spend: Spend | None = None,
) -> str:
    """`{"project": ..., "environment": ..., "spend_days": 7, "spend_error": null, "endpoints":
    [{key, name, id, url, ready, min, max, total, health, spend}]}` (`spend` in USD, null when
    unknown); with `histories`, each deployed endpoint also has `releases`:
    `{version, rollout, releases: [{version, created_at, fields, created}]}`."""
    by_name = {history.name: history for history in histories or ()}
    endpoints = []
    for row in rows:
        entry: dict[str, Any] = asdict(row)
        if row.name in by_name:
            history = asdict(by_name[row.name])
            entry["releases"] = {k: history[k] for k in ("version", "rollout", "releases")}
        endpoints.append(entry)
    data = {
        "project": project.name,
        "environment": project.environment,
        "spend_days": SPEND_DAYS,
        "spend_error": spend.error if spend else None,
        "endpoints": endpoints,
    }
    return json.dumps(data, indent=2) + "\n"


def status_text(rows: Sequence[EndpointStatus], spend: Spend | None = None) -> str:
    error = spend.error if spend is not None else None
    unavailable = error is not None
    table = [("ENDPOINT", "ID", "URL", "WORKERS", "HEALTH", "SPEND")]
    for row in rows:
        workers = f"{row.ready}/{row.min}/{row.max}" if row.id else "-"
        cost = "?" if unavailable and row.id else "-" if row.spend is None else f"${row.spend:.2f}"
        table.append((row.name, row.id or "-", row.url or "-", workers, row.health, cost))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    notes = (
        f"(workers: ready/min/max; spend: USD over the last {SPEND_DAYS} days, from RunPod billing)"
    )
    if error is not None:
        notes += f"\nspend unavailable: {error}"
    return "\n".join(lines) + "\n" + notes + "\n"
