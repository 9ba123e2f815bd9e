"""The numbers of a load test: percentiles, counts, Server-Timing, and the SLO gate (pure)."""

from __future__ import annotations

import random

import pytest

from flashctl.loadtest.slo import check, missed
from flashctl.loadtest.stats import Sample, percentile, server_time_ms, summarize
from flashctl.model import Slo


def test_percentiles_are_observed_values_in_order():
    rng = random.Random(7)
    values = sorted(rng.uniform(0.5, 500) for _ in range(1000))
    p50, p95, p99 = (percentile(values, rank) for rank in (50, 95, 99))
    assert p50 <= p95 <= p99
    assert {p50, p95, p99} <= set(values)
    assert percentile([42.0], 99) == 42.0


def test_summary_counts_successes_failures_and_outcomes():
    samples = [Sample(200, 10.0, 2.0)] * 7 + [Sample(503, 5.0, 1.0)] * 2
    samples += [Sample(None, 3.0, error="connection refused")]

    summary = summarize(samples, elapsed_s=2.0)

    assert (summary.requests, summary.succeeded, summary.failed) == (10, 7, 3)
    assert summary.requests == summary.succeeded + summary.failed
    assert summary.outcomes == {"200": 7, "503": 2, "connection refused": 1}
    assert summary.success_rate == pytest.approx(0.7)
    assert summary.throughput == pytest.approx(5.0)
    assert summary.latency_ms is not None and summary.latency_ms.maximum == 10.0
    assert summary.outside_ms is not None and summary.outside_ms.p50 == 8.0


def test_a_run_without_any_response_has_no_latency():
    summary = summarize([Sample(None, 1.0, error="timeout")], elapsed_s=1.0)
    assert summary.latency_ms is None and summary.server_ms is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("app;dur=12.5", 12.5),
        ("db;dur=3, app;dur=7", 7.0),
        ("cache;desc=hit;dur=0.5", 0.5),
        ("app", None),
        ("app;dur=abc", None),
        ("", None),
    ],
)
def test_server_time_is_read_from_server_timing(header: str, expected: float | None):
    assert server_time_ms(header) == expected


def test_generous_slo_is_met_and_impossible_one_lists_each_missed_objective():
    summary = summarize([Sample(200, float(ms), 1.0) for ms in range(1, 101)], 1.0)

    generous = check(summary, Slo(p50_ms=1000, p95_ms=1000, p99_ms=1000, success_rate=0.5))
    impossible = check(summary, Slo(p50_ms=0.5, p95_ms=0.5, p99_ms=None, success_rate=1.0))

    assert missed(generous) == []
    assert [o.name for o in missed(impossible)] == ["p50", "p95"]
    assert [o.name for o in impossible] == ["p50", "p95", "success rate"]  # no p99 target
    assert missed(impossible)[0].describe() == "p50 50.0 ms > 0.5 ms"


def test_failed_requests_miss_the_success_rate():
    summary = summarize([Sample(200, 1.0)] * 9 + [Sample(500, 1.0)], 1.0)
    (objective,) = missed(check(summary, Slo(3000, 5000, None, 0.99)))
    assert objective.describe() == "success rate 90.0% < 99.0%"
