"""Prometheus metrics at ``GET /metrics`` (``Settings.metrics``), in the text exposition format.

Written by hand rather than with prometheus_client: a request records into plain dicts and lists
in this process's single event-loop thread (no lock), and the text is built only when scraped.
Names follow OpenTelemetry's HTTP semantic conventions as Prometheus exports them
(``http.server.request.duration`` -> ``http_server_request_duration_seconds``), with its
recommended buckets. Every series carries ``worker``: the index of the serving process under
``runtime.workers`` (0 with one), since each process counts its own requests.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Callable

from .tracing import METHODS

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
# OpenTelemetry's recommended boundaries for http.server.request.duration, in seconds
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
WORKER_ENV = "FLASHCTL_WORKER"


def escape(value: str) -> str:
    """A label value as the format quotes it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else f"{int(value)}"


class Metrics:
    """What the service counts. ``observe`` runs once per request, so it only adds to a list;
    ``render`` turns everything into text when Prometheus asks."""

    def __init__(self, worker: str | None = None) -> None:
        self.worker = escape(worker if worker is not None else os.environ.get(WORKER_ENV, "0"))
        # (method, route, status) -> [count per bucket (+Inf last), sum of seconds]
        self.durations: dict[tuple[str, str, int], tuple[list[int], list[float]]] = {}
        self.active = 0
        self.errors: dict[tuple[str, str], int] = {}  # (route, exception type) -> count
        self.rejected: dict[str, int] = {"concurrency": 0, "rate_limit": 0}
        self.startup_seconds: float | None = None
        # extra lines from elsewhere (the trace exporter's counters), called when scraped
        self.sources: list[Callable[[str], list[str]]] = []

    def observe(
        self, method: str, route: str | None, status: int, seconds: float, error: str | None
    ) -> None:
        if method not in METHODS:  # a client picks it: one series per token would never end
            method = "_OTHER"
        key = (method, route or "", status)
        series = self.durations.get(key)
        if series is None:
            series = self.durations[key] = ([0] * (len(BUCKETS) + 1), [0.0])
        series[0][bisect_left(BUCKETS, seconds)] += 1  # le is inclusive: bisect_left
        series[1][0] += seconds
        if error is not None:
            pair = (route or "", error)
            self.errors[pair] = self.errors.get(pair, 0) + 1

    def render(self) -> bytes:
        worker = f'worker="{self.worker}"'
        lines = [
            "# HELP http_server_request_duration_seconds Duration of HTTP server requests.",
            "# TYPE http_server_request_duration_seconds histogram",
        ]
        name = "http_server_request_duration_seconds"
        for (method, route, status), (counts, total) in sorted(self.durations.items()):
            labels = (
                f'http_request_method="{method}",http_route="{escape(route)}",'
                f'http_response_status_code="{status}",{worker}'
            )
            running = 0
            for bound, count in zip((*BUCKETS, None), counts, strict=True):
                running += count
                le = "+Inf" if bound is None else _number(bound)
                lines.append(f'{name}_bucket{{{labels},le="{le}"}} {running}')
            lines.append(f"{name}_sum{{{labels}}} {total[0]!r}")
            lines.append(f"{name}_count{{{labels}}} {running}")
        lines += [
            "# HELP http_server_active_requests Number of HTTP requests being served now.",
            "# TYPE http_server_active_requests gauge",
            f"http_server_active_requests{{{worker}}} {self.active}",
            "# HELP flashctl_errors_total Requests that ended in an exception, by its type.",
            "# TYPE flashctl_errors_total counter",
        ]
        for (route, error), count in sorted(self.errors.items()):
            lines.append(
                f'flashctl_errors_total{{http_route="{escape(route)}",'
                f'error_type="{escape(error)}",{worker}}} {count}'
            )
        lines += [
            "# HELP flashctl_rejected_requests_total Requests refused by max_concurrency (503)"
            " or rate_limit (429).",
            "# TYPE flashctl_rejected_requests_total counter",
        ]
        for reason, count in sorted(self.rejected.items()):
            lines.append(f'flashctl_rejected_requests_total{{reason="{reason}",{worker}}} {count}')
        if self.startup_seconds is not None:
            lines += [
                "# HELP flashctl_startup_duration_seconds Seconds the startup hook took"
                " (0 without one).",
                "# TYPE flashctl_startup_duration_seconds gauge",
                f"flashctl_startup_duration_seconds{{{worker}}} {self.startup_seconds!r}",
            ]
        for source in self.sources:
            lines += source(worker)
        return ("\n".join(lines) + "\n").encode()
