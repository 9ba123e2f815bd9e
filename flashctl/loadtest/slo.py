"""The `slo:` block of flash.yaml as a gate: each objective met or missed by a load test's summary.

Latency objectives are checked against the latency the client saw (network and queueing
included), since that is what users of the endpoint experience.
"""

from __future__ import annotations

from dataclasses import dataclass

from flashctl.loadtest.stats import Summary
from flashctl.model import Slo


@dataclass(frozen=True)
class Objective:
    name: str  # "p50", "p95", "p99", "success rate"
    target: float
    actual: float | None  # None: nothing to measure (no request got a response)
    met: bool

    def describe(self) -> str:
        """e.g. `p95 12.3 ms <= 5000 ms` or `success rate 90.0% < 99.0%`."""
        if self.name == "success rate":
            actual = "n/a" if self.actual is None else f"{self.actual:.1%}"
            relation = ">=" if self.met else "<"
            return f"success rate {actual} {relation} {self.target:.1%}"
        if self.actual is None:
            return f"{self.name}: no responses to measure (target {self.target:g} ms)"
        relation = "<=" if self.met else ">"
        return f"{self.name} {self.actual:.1f} ms {relation} {self.target:g} ms"


def check(summary: Summary, slo: Slo) -> list[Objective]:
    """Every objective of `slo` against `summary` (p99 only when the file sets one)."""
    targets = [("p50", 50, slo.p50_ms), ("p95", 95, slo.p95_ms)]
    if slo.p99_ms is not None:
        targets.append(("p99", 99, slo.p99_ms))
    objectives = []
    for name, rank, target in targets:
        actual = summary.latency_ms.get(rank) if summary.latency_ms else None
        objectives.append(Objective(name, target, actual, actual is not None and actual <= target))
    rate = summary.success_rate if summary.requests else None
    objectives.append(
        Objective(
            "success rate", slo.success_rate, rate, rate is not None and rate >= slo.success_rate
        )
    )
    return objectives


def missed(objectives: list[Objective]) -> list[Objective]:
    return [o for o in objectives if not o.met]
