"""`flashctl logs ENDPOINT`: the tail of the endpoint's workers' logs, merged in time order, each
line prefixed with its worker; with `--follow`, new lines as they come, from new workers too.

    flashctl logs api                       # the last 100 lines (of all workers), then exit 0
    flashctl logs api --follow --since 10m  # every line from ten minutes ago on, until Ctrl-C
    flashctl logs api --worker 8g3n5t6r --format json

ENDPOINT is the flash.yaml key (or RunPod name) of an endpoint of this project, found on RunPod
as `invoke` finds it (never another project's endpoint of the same name).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flashctl.compiler.pipeline import Load
from flashctl.console import Console
from flashctl.deploy.connect import open_client
from flashctl.deploy.invoke import deployed_endpoint, find_endpoint
from flashctl.errors import DeployError, ExitCode, UsageError
from flashctl.logs.lines import LogEvent, epoch
from flashctl.logs.streams import Target, Timing, list_workers, read_logs, rfc3339

TIMING = Timing()  # tests make it faster
DEFAULT_TAIL = 100


@dataclass(frozen=True)
class LogsRequest:
    endpoint: str  # key or RunPod name
    follow: bool
    since: str | None  # a duration (`10m`) or an RFC 3339 time
    tail: int | None  # None: 100, or with `since` every line from then on
    worker: str | None
    fmt: str  # text | json
    api_url: str | None


def run_logs(load: Load, console: Console, request: LogsRequest) -> ExitCode:
    """Print the logs; Ctrl-C ends it with exit 0 (following is meant to be stopped so)."""
    since = since_time(request.since, time.time())
    project = load().project
    endpoint = find_endpoint(project, request.endpoint)

    def emit(event: LogEvent) -> None:
        console.out((event.json() if request.fmt == "json" else event.text()) + "\n")

    try:
        with open_client(request.api_url) as client:
            found = deployed_endpoint(
                client.list_endpoints(), endpoint, project, action="reading the logs of"
            )
            if found is None:
                raise DeployError(
                    f"{endpoint.runpod_name} is not deployed: no endpoint of that name; run "
                    "`flashctl apply` first."
                )
            tail = request.tail if request.tail is not None or since else DEFAULT_TAIL
            target = Target(str(found["id"]), endpoint.runpod_name, tail, since, request.worker)
            workers = [str(w.get("id")) for w in list_workers(client, target)]
            label = f"{target.name} ({target.endpoint_id})"
            if request.worker is not None:
                if request.worker not in workers:
                    listed = ", ".join(sorted(workers)) or "none"
                    raise DeployError(
                        f"No worker {request.worker} on {label}; its workers: {listed}."
                    )
                workers = [request.worker]
            if not workers:
                if not request.follow:
                    raise DeployError(
                        f"{label} has no workers running, so there is no log to read; "
                        f"`flashctl logs {endpoint.key} --follow` waits for one."
                    )
                console.progress(f"{label} has no workers yet; waiting for one (Ctrl-C stops)")
            read_logs(
                client,
                target,
                workers,
                emit,
                follow=request.follow,
                progress=console.progress,
                timing=TIMING,
            )
    except KeyboardInterrupt:
        pass
    return ExitCode.OK


def since_time(value: str | None, now: float) -> str | None:
    """`--since` as RFC 3339: a duration back from `now` (`10m`, `1h30m`), or a time as given.

    >>> since_time("10m", 1_780_000_600.0)
    '2026-05-28T20:26:40.000Z'
    """
    from flashctl.compiler.units import parse_duration

    if value is None:
        return None
    if "T" in value.upper() and epoch(value.upper()):
        return value.upper()
    try:
        return rfc3339(now - parse_duration(value))
    except ValueError as err:
        raise UsageError(
            f"--since {value!r}: not a duration (30s, 10m, 1h30m, 2d) nor an RFC 3339 time"
            " (2026-06-01T12:00:00Z)."
        ) from err
