"""Carrying a plan out: the API calls for each endpoint, a few endpoints at a time.

Endpoints are independent, so they are applied concurrently (bounded); one failure does not stop
the others, and every outcome is returned. Ctrl-C starts no more, lets the calls in flight finish
and says, endpoint by endpoint, what was changed. Re-running after a crash is safe: the next plan
lists by name and sees what the crashed run created, and `RunPodClient.create_endpoint` never
sends a create twice without checking that the first one did not land.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from flashctl.deploy.pending import PendingCreates
from flashctl.deploy.plan import (
    CREATE,
    DELETE,
    REPLACE,
    UPDATE_IN_PLACE,
    UPDATE_RESTART,
    EndpointPlan,
    Plan,
)
from flashctl.errors import ExitCode, FlashError
from flashctl.runpod.client import RunPodClient
from flashctl.runpod.errors import RunPodAPIError

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
    journal: PendingCreates | None = None,
) -> list[Outcome]:
    """Apply every pending action of `plan`; outcomes in plan order. Each create is noted in
    `journal` while its landing is unknown (see `pending.py`)."""
    pending = plan.pending
    if not pending:
        return []
    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(pending))))
    futures = [pool.submit(_apply_one, client, planned, progress, journal) for planned in pending]
    try:
        return [future.result() for future in futures]
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()  # those not started yet never will be
        progress("interrupted: letting the calls in flight finish (Ctrl-C again: stop waiting)")
        with contextlib.suppress(KeyboardInterrupt):
            wait(futures)
        raise ApplyInterrupted(interrupted_report(pending, futures)) from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class ApplyInterrupted(FlashError):
    """Ctrl-C while a plan was being carried out; the message says what was changed."""

    exit_code = ExitCode.INTERRUPTED


RERUN_IS_SAFE = (
    "Running `flashctl apply` again is safe: it plans from what RunPod has now, so it does what"
    " is left and never creates a name twice."
)


def interrupted_report(pending: Sequence[EndpointPlan], futures: Sequence[Future[Outcome]]) -> str:
    """What an interrupted apply changed, did not change, and may have changed, endpoint by
    endpoint."""
    lines = ["Apply interrupted:"]
    for planned, future in zip(pending, futures, strict=True):
        doing = _DOING[planned.action]
        if future.cancelled():
            lines.append(f"  {planned.name}: not changed ({doing} was not started)")
        elif not future.done():
            lines.append(
                f"  {planned.name}: unknown ({doing} was in flight; `flashctl plan` shows it)"
            )
        elif (outcome := future.result()).error is not None:
            lines.append(f"  {planned.name}: not changed ({doing} failed: {outcome.error})")
        else:
            ident = (outcome.endpoint or {}).get("id") or planned.endpoint_id
            lines.append(f"  {planned.name}: {_DONE[planned.action]} ({ident})")
    return "\n".join([*lines, RERUN_IS_SAFE])


def _apply_one(
    client: RunPodClient,
    planned: EndpointPlan,
    progress: Callable[[str], None],
    journal: PendingCreates | None = None,
) -> Outcome:
    started = time.perf_counter()
    progress(f"{planned.name}: {_DOING[planned.action]}")
    try:
        endpoint = _call(client, planned, journal)
    except FlashError as err:
        progress(f"{planned.name}: failed")
        return Outcome(planned, None, err, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    ident = (endpoint or {}).get("id") or planned.endpoint_id
    progress(f"{planned.name}: {_DONE[planned.action]} ({ident}) in {seconds:.1f} s")
    return Outcome(planned, endpoint, None, seconds)


def _call(
    client: RunPodClient, planned: EndpointPlan, journal: PendingCreates | None
) -> dict[str, Any] | None:
    name = planned.name
    if planned.action == CREATE:
        return _create(client, planned, journal)
    if planned.action in (UPDATE_IN_PLACE, UPDATE_RESTART):
        return client.update_endpoint(
            _required(planned.endpoint_id, planned), _required(planned.patch, planned), name=name
        )
    if planned.action == REPLACE:
        # RunPod cannot change an endpoint's type in place; names may repeat, so deleting first
        # keeps one endpoint per name (a crash in between leaves none, and the next apply creates).
        client.delete_endpoint(_required(planned.endpoint_id, planned), name=name)
        return _create(client, planned, journal)
    if planned.action == DELETE:
        client.delete_endpoint(_required(planned.endpoint_id, planned), name=name)
        return None
    raise ValueError(f"nothing to do for {planned.action!r}")


def _create(
    client: RunPodClient, planned: EndpointPlan, journal: PendingCreates | None
) -> dict[str, Any]:
    """The create, noted in `journal` until its answer (or RunPod's refusal) is read."""
    body = _required(planned.body, planned)
    if journal is None:
        return client.create_endpoint(body)
    journal.sending(planned.name)
    try:
        created = client.create_endpoint(body)
    except RunPodAPIError as err:
        if 400 <= err.status < 500 and err.status != 429:
            journal.forget([planned.name])  # refused: it did not land
        raise
    journal.forget([planned.name])
    return created


def _required(value: Any, planned: EndpointPlan) -> Any:
    if value is None:  # only a hand-edited plan file gets here
        raise FlashError(f"the plan for {planned.name} ({planned.action}) is incomplete")
    return value
