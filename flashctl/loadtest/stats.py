"""Samples of a load test and what they add up to: counts, throughput, percentiles.

Percentiles use the nearest-rank method, so each is a latency that was actually observed and
p50 <= p95 <= p99 always holds.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

PERCENTILES = (50, 95, 99)


@dataclass(frozen=True)
class Sample:
    """One request: its status (None when no response came), the time until the whole response
    was read, and the server's own time from `Server-Timing` (None when it sent none)."""

    status: int | None
    total_ms: float
    server_ms: float | None = None
    error: str | None = None  # why no response came: "connection refused", "timeout", ...

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def outcome(self) -> str:
        """How the request ended, for the by-status table: "200", "503", "timeout"."""
        return str(self.status) if self.status is not None else (self.error or "no response")


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p95: float
    p99: float
    minimum: float
    mean: float
    maximum: float

    def get(self, rank: int) -> float:
        return {50: self.p50, 95: self.p95, 99: self.p99}[rank]


@dataclass(frozen=True)
class Summary:
    requests: int
    succeeded: int
    failed: int
    elapsed_s: float
    outcomes: dict[str, int]  # "200" -> count, "connection refused" -> count
    latency_ms: Percentiles | None  # over requests that got a response
    server_ms: Percentiles | None  # over responses with Server-Timing
    outside_ms: Percentiles | None  # per request: total minus server time (network, queueing)

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.requests if self.requests else 0.0

    @property
    def throughput(self) -> float:
        """Completed requests per second."""
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0


def percentile(sorted_values: Sequence[float], rank: float) -> float:
    """The nearest-rank percentile of an ascending, non-empty sequence.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.0
    >>> percentile([1.0, 2.0, 3.0, 4.0], 99)
    4.0
    """
    index = max(math.ceil(rank / 100 * len(sorted_values)) - 1, 0)
    return sorted_values[index]


def percentiles(values: Sequence[float]) -> Percentiles | None:
    if not values:
        return None
    ordered = sorted(values)
    p50, p95, p99 = (percentile(ordered, rank) for rank in PERCENTILES)
    return Percentiles(p50, p95, p99, ordered[0], sum(ordered) / len(ordered), ordered[-1])


def summarize(samples: Sequence[Sample], elapsed_s: float) -> Summary:
    answered = [s for s in samples if s.status is not None]
    timed = [s for s in answered if s.server_ms is not None]
    succeeded = sum(1 for s in samples if s.ok)
    outcomes = Counter(s.outcome for s in samples)
    return Summary(
        requests=len(samples),
        succeeded=succeeded,
        failed=len(samples) - succeeded,
        elapsed_s=elapsed_s,
        outcomes=dict(sorted(outcomes.items())),
        latency_ms=percentiles([s.total_ms for s in answered]),
        server_ms=percentiles([s.server_ms for s in timed if s.server_ms is not None]),
        outside_ms=percentiles(
            [max(s.total_ms - s.server_ms, 0.0) for s in timed if s.server_ms is not None]
        ),
    )


def server_time_ms(header: str | None) -> float | None:
    """The `app` duration of a `Server-Timing` header (else its first duration), in ms.

    >>> server_time_ms("app;dur=1.25")
    1.25
    >>> server_time_ms('db;dur=3, app;desc="handler";dur=7.5')
    7.5
    >>> server_time_ms(None) is None
    True
    """
    if not header:
        return None
    durations: dict[str, float] = {}
    for metric in header.split(","):
        name, *params = (part.strip() for part in metric.split(";"))
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "dur":
                with contextlib.suppress(ValueError):  # a malformed dur is ignored
                    durations.setdefault(name, float(value.strip().strip('"')))
    if "app" in durations:
        return durations["app"]
    return next(iter(durations.values()), None)
