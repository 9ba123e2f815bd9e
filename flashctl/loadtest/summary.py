"""Printing a load test: the progress line (stderr), the text report and the JSON document."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flashctl.loadtest.runner import Progress
from flashctl.loadtest.slo import Objective
from flashctl.loadtest.stats import Percentiles, Summary


@dataclass(frozen=True)
class Header:
    endpoint: str
    method: str
    url: str
    concurrency: int
    partial: bool = False  # interrupted (Ctrl-C): the requests done until then


def progress_line(progress: Progress) -> str:
    """e.g. `loadtest: 812/2000 requests, 3 failed, 12.0 s, 67.7 req/s`."""
    done = f"{progress.done}/{progress.planned}" if progress.planned else f"{progress.done}"
    elapsed = f"{progress.elapsed_s:.0f}"
    if progress.duration is not None:
        elapsed += f"/{progress.duration:g}"
    rate = progress.done / progress.elapsed_s if progress.elapsed_s > 0 else 0.0
    return f"loadtest: {done} requests, {progress.failed} failed, {elapsed} s, {rate:.1f} req/s"


def text(header: Header, summary: Summary, objectives: list[Objective]) -> str:
    lines = [
        *(
            ["PARTIAL: interrupted (Ctrl-C); the requests done until then"]
            if header.partial
            else []
        ),
        f"{header.method} {header.url}  (endpoint {header.endpoint}, concurrency "
        f"{header.concurrency})",
        f"requests    {summary.requests} in {summary.elapsed_s:.2f} s: {summary.succeeded} "
        f"succeeded, {summary.failed} failed ({summary.success_rate:.1%} ok), "
        f"{summary.throughput:.1f} req/s",
        "statuses    " + ", ".join(f"{k}: {v}" for k, v in summary.outcomes.items()),
        _percentile_line("latency", summary.latency_ms, "as the client saw it"),
        _percentile_line("server", summary.server_ms, "Server-Timing app"),
        _percentile_line("outside", summary.outside_ms, "latency minus server: network, queueing"),
    ]
    for i, objective in enumerate(objectives):
        label = "slo" if i == 0 else ""
        verdict = "ok" if objective.met else "MISSED"
        lines.append(f"{label:<12}{objective.describe():<40} {verdict}")
    return "\n".join(lines) + "\n"


def _percentile_line(label: str, values: Percentiles | None, note: str) -> str:
    if values is None:
        return f"{label:<12}n/a ({note})"
    return (
        f"{label:<12}p50 {values.p50:.1f} ms  p95 {values.p95:.1f} ms  p99 {values.p99:.1f} ms  "
        f"(min {values.minimum:.1f}, mean {values.mean:.1f}, max {values.maximum:.1f}; {note})"
    )


def document(header: Header, summary: Summary, objectives: list[Objective]) -> dict[str, Any]:
    """The `--format json` document (milliseconds, rates as fractions)."""
    return {
        "endpoint": header.endpoint,
        "method": header.method,
        "url": header.url,
        "concurrency": header.concurrency,
        "partial": header.partial,
        "requests": summary.requests,
        "succeeded": summary.succeeded,
        "failed": summary.failed,
        "success_rate": summary.success_rate,
        "elapsed_s": summary.elapsed_s,
        "throughput_rps": summary.throughput,
        "statuses": summary.outcomes,
        "latency_ms": _percentiles(summary.latency_ms),
        "server_ms": _percentiles(summary.server_ms),
        "outside_ms": _percentiles(summary.outside_ms),
        "slo": {
            "met": all(o.met for o in objectives),
            "objectives": [
                {"name": o.name, "target": o.target, "actual": o.actual, "met": o.met}
                for o in objectives
            ],
        },
    }


def json_text(header: Header, summary: Summary, objectives: list[Objective]) -> str:
    return json.dumps(document(header, summary, objectives), indent=2, sort_keys=True) + "\n"


def _percentiles(values: Percentiles | None) -> dict[str, float] | None:
    if values is None:
        return None
    return {
        "p50": values.p50,
        "p95": values.p95,
        "p99": values.p99,
        "min": values.minimum,
        "mean": values.mean,
        "max": values.maximum,
    }
