"""`apply --wait`: follow each new release's rollout until it has reached the workers.

A change that makes a release (a create, a replace, an update that restarts workers) is followed
through `GET /v2/serverless/{id}/releases` (the endpoint's version and the rollout summary) and
`/workers` (each worker's status, version and `isStale`), until no worker runs an older version
and `workers.min` workers are ready on the new one. A worker is ready when RunPod reports it IDLE
or RUNNING on the current version; a stale worker never counts. An in-place change makes no
release, and nothing is waited for. The wait is bounded by a deadline and polls with a growing
interval; progress is printed per endpoint whenever it changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flashctl.errors import DeployError
from flashctl.runpod.client import RunPodClient

READY_STATUSES = frozenset({"IDLE", "RUNNING"})
FIRST_POLL = 0.25  # seconds; then 1.5x per round
LONGEST_POLL = 5.0
_SHOWN_IDS = 3  # worker ids named per kind in a timeout message


@dataclass(frozen=True)
class WaitTarget:
    name: str
    endpoint_id: str
    workers_min: int


def is_stale(worker: Mapping[str, Any], version: Any = None) -> bool:
    """RunPod's `isStale`, or a `version` other than the endpoint's when that is known."""
    if worker.get("isStale"):
        return True
    own = worker.get("version")
    return version is not None and own is not None and own != version


def ready_count(workers: Mapping[str, Any]) -> int:
    """Ready workers in a `ListEndpointWorkersResponse`: IDLE or RUNNING, and not stale.

    >>> ready_count({"endpointVersion": 2, "workers": [
    ...     {"status": "IDLE", "isStale": False, "version": 2},
    ...     {"status": "INITIALIZING", "isStale": False, "version": 2},
    ...     {"status": "RUNNING", "isStale": True, "version": 1},
    ...     {"status": "IDLE", "isStale": False, "version": 1}]})
    1
    """
    version = workers.get("endpointVersion")
    return sum(
        1
        for worker in workers.get("workers") or []
        if worker.get("status") in READY_STATUSES and not is_stale(worker, version)
    )


@dataclass(frozen=True)
class Rollout:
    """Where one endpoint's rollout stands, from one `/releases` and one `/workers` answer."""

    version: int | None
    on_latest: int
    total: int
    stale: tuple[str, ...]  # ids of workers on an older version
    starting: tuple[str, ...]  # ids of workers on the new version, not ready yet
    ready: int
    workers_min: int

    @property
    def done(self) -> bool:
        return not self.stale and self.ready >= self.workers_min

    def __str__(self) -> str:
        version = "?" if self.version is None else self.version
        return (
            f"version {version}, {self.on_latest}/{self.total} workers on latest, "
            f"{len(self.stale)} stale, {self.ready} of {self.workers_min} ready"
        )

    def stuck(self) -> str:
        """What keeps the rollout from finishing, for a timeout message."""
        parts = [str(self)]
        for kind, ids in (("stale", self.stale), ("not ready", self.starting)):
            if ids:
                more = f" and {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else ""
                parts.append(f"{kind}: {', '.join(ids[:_SHOWN_IDS])}{more}")
        return "; ".join(parts)


def rollout_of(
    releases: Mapping[str, Any], workers: Mapping[str, Any], workers_min: int
) -> Rollout:
    """The rollout of one endpoint (see `Rollout`).

    >>> str(rollout_of({"endpointVersion": 2, "rollout": {"workersOnLatest": 1,
    ...     "workersTotal": 2}}, {"workers": [{"id": "a", "status": "IDLE", "version": 1,
    ...     "isStale": True}, {"id": "b", "status": "IDLE", "version": 2, "isStale": False}]}, 2))
    'version 2, 1/2 workers on latest, 1 stale, 1 of 2 ready'
    """
    version = releases.get("endpointVersion", workers.get("endpointVersion"))
    listed = workers.get("workers") or []
    stale = tuple(str(w.get("id")) for w in listed if is_stale(w, version))
    starting = tuple(
        str(w.get("id"))
        for w in listed
        if not is_stale(w, version) and w.get("status") not in READY_STATUSES
    )
    summary = releases.get("rollout") or {}
    ready = ready_count({**workers, "endpointVersion": version})
    return Rollout(
        version=version,
        on_latest=int(summary.get("workersOnLatest", len(listed) - len(stale))),
        total=int(summary.get("workersTotal", len(listed))),
        stale=stale,
        starting=starting,
        ready=ready,
        workers_min=workers_min,
    )


def wait_for_rollouts(
    client: RunPodClient,
    targets: Sequence[WaitTarget],
    timeout: float,
    progress: Callable[[str], None],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return when every target's rollout is done; DeployError when `timeout` passes."""
    waiting = {t.name: t for t in targets}
    if not waiting:
        return
    progress(f"waiting up to {timeout:g} s for the rollout of {', '.join(sorted(waiting))}")
    deadline = clock() + timeout
    interval = FIRST_POLL
    seen: dict[str, Rollout] = {}
    while True:
        for name, target in sorted(waiting.items()):
            releases = client.list_releases(target.endpoint_id, name=name)
            workers = client.list_workers(target.endpoint_id, name=name)
            rollout = rollout_of(releases, workers, target.workers_min)
            if rollout != seen.get(name):
                progress(f"{name}: {rollout}")
                seen[name] = rollout
            if rollout.done:
                del waiting[name]
        remaining = deadline - clock()
        if not waiting:
            return
        if remaining <= 0:
            late = "\n".join(f"  {name}: {seen[name].stuck()}" for name in sorted(waiting))
            raise DeployError(
                f"Timed out after {timeout:g} s waiting for the rollout of {len(waiting)} "
                f"endpoint(s):\n{late}\nThe changes were applied; `flashctl status` shows the "
                "workers. Raise --wait-timeout, or pass --no-wait."
            )
        sleep(min(interval, remaining))
        interval = min(interval * 1.5, LONGEST_POLL)
