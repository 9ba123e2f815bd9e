"""Carrying a plan out: the API calls for each endpoint, a few endpoints at a time.

Endpoints are independent, so they are applied concurrently (bounded); one failure does not stop
the others, and every outcome is returned. Re-running after a crash is safe: the next plan lists
by name and sees what the crashed run created, and `RunPodClient.create_endpoint` never sends a
create twice without checking that the first one did not land.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from flashctl.deploy.plan import (
    CREATE,
    DELETE,
    REPLACE,
    UPDATE_IN_PLACE,
    UPDATE_RESTART,
    EndpointPlan,
    Plan,
)
from flashctl.errors import FlashError
from flashctl.runpod.client import RunPodClient

CONCURRENCY = 4  # RunPod rate-limits per account; a handful in flight is plenty
_DOING = {
    CREATE: "creating",
    UPDATE_IN_PLACE: "updating in place",
    UPDATE_RESTART: "updating (workers restart)",
    REPLACE: "replacing (delete, then create)",
    DELETE: "deleting",
}
_DONE = {
    CREATE: "created",
    UPDATE_IN_PLACE: "updated",
    UPDATE_RESTART: "updated",
    REPLACE: "replaced",
    DELETE: "deleted",
}


@dataclass(frozen=True)
class Outcome:
    planned: EndpointPlan
    endpoint: dict[str, Any] | None  # RunPod's description afterwards; None for a delete
    error: FlashError | None = None
    seconds: float = 0.0


def carry_out(
    client: RunPodClient,
    plan: Plan,
    progress: Callable[[str], None],
    concurrency: int = CONCURRENCY,
) -> list[Outcome]:
    """Apply every pending action of `plan`; outcomes in plan order."""
    pending = plan.pending
    if not pending:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(pending)))) as pool:
        futures = [pool.submit(_apply_one, client, planned, progress) for planned in pending]
        return [future.result() for future in futures]


def _apply_one(
    client: RunPodClient, planned: EndpointPlan, progress: Callable[[str], None]
) -> Outcome:
    started = time.perf_counter()
    progress(f"{planned.name}: {_DOING[planned.action]}")
    try:
        endpoint = _call(client, planned)
    except FlashError as err:
        progress(f"{planned.name}: failed")
        return Outcome(planned, None, err, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    ident = (endpoint or {}).get("id") or planned.endpoint_id
    progress(f"{planned.name}: {_DONE[planned.action]} ({ident}) in {seconds:.1f} s")
    return Outcome(planned, endpoint, None, seconds)


def _call(client: RunPodClient, planned: EndpointPlan) -> dict[str, Any] | None:
    name = planned.name
    if planned.action == CREATE:
        return client.create_endpoint(_required(planned.body, planned))
    if planned.action in (UPDATE_IN_PLACE, UPDATE_RESTART):
        return client.update_endpoint(
            _required(planned.endpoint_id, planned), _required(planned.patch, planned), name=name
        )
    if planned.action == REPLACE:
        # RunPod cannot change an endpoint's type in place; names may repeat, so deleting first
        # keeps one endpoint per name (a crash in between leaves none, and the next apply creates).
        client.delete_endpoint(_required(planned.endpoint_id, planned), name=name)
        return client.create_endpoint(_required(planned.body, planned))
    if planned.action == DELETE:
        client.delete_endpoint(_required(planned.endpoint_id, planned), name=name)
        return None
    raise ValueError(f"nothing to do for {planned.action!r}")


def _required(value: Any, planned: EndpointPlan) -> Any:
    if value is None:  # only a hand-edited plan file gets here
        raise FlashError(f"the plan for {planned.name} ({planned.action}) is incomplete")
    return value
