"""`apply --wait`: poll each changed endpoint's workers until `workers.min` of them are ready.

A worker is ready when RunPod reports it IDLE or RUNNING on the current configuration (not
`isStale`). The wait is bounded by a deadline and polls with a growing interval.
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


@dataclass(frozen=True)
class WaitTarget:
    name: str
    endpoint_id: str
    workers_min: int


def ready_count(workers: Mapping[str, Any]) -> int:
    """Ready workers in a `ListEndpointWorkersResponse`.

    >>> ready_count({"workers": [{"status": "IDLE", "isStale": False},
    ...                          {"status": "INITIALIZING", "isStale": False},
    ...                          {"status": "RUNNING", "isStale": True}]})
    1
    """
    return sum(
        1
        for worker in workers.get("workers") or []
        if worker.get("status") in READY_STATUSES and not worker.get("isStale")
    )


def wait_for_workers(
    client: RunPodClient,
    targets: Sequence[WaitTarget],
    timeout: float,
    progress: Callable[[str], None],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return when every target has its ready workers; DeployError when `timeout` passes."""
    waiting = {t.name: t for t in targets if t.workers_min > 0}
    if not waiting:
        return
    progress(f"waiting up to {timeout:g} s for ready workers: {', '.join(sorted(waiting))}")
    deadline = clock() + timeout
    interval = FIRST_POLL
    seen: dict[str, int] = {}
    while True:
        for name, target in list(waiting.items()):
            ready = ready_count(client.list_workers(target.endpoint_id, name=name))
            if ready != seen.get(name):
                progress(f"{name}: {ready} of {target.workers_min} workers ready")
                seen[name] = ready
            if ready >= target.workers_min:
                del waiting[name]
        remaining = deadline - clock()
        if not waiting:
            return
        if remaining <= 0:
            late = ", ".join(
                f"{name} ({seen.get(name, 0)} of {t.workers_min} ready)"
                for name, t in sorted(waiting.items())
            )
            raise DeployError(
                f"Timed out after {timeout:g} s waiting for ready workers: {late}. The changes "
                "were applied; `flashctl status` shows the workers. Raise --wait-timeout, or "
                "pass --no-wait."
            )
        sleep(min(interval, remaining))
        interval = min(interval * 1.5, LONGEST_POLL)
