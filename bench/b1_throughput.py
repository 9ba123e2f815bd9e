"""B1: throughput of the rendered example's POST route against the baselines, side by side.

    python bench/b1_throughput.py [--reps 5] [--seconds 10] [--connections 32] [--check]

B1h: rendered-hypercorn vs starlette-hypercorn (the same hypercorn configuration, one process).
B1u: rendered-uvicorn vs runpod-flash 1.21.0's load-balancer handler on uvicorn (and, for
context, its access log off, and bare Starlette on the same uvicorn configuration).
B1h is also shown against bare Starlette running the function in its thread pool, the guarantee
the runtime gives every sync handler. Besides req/s, each run records the server's CPU time per
request (/proc/PID/stat), steadier than req/s on a shared machine, and the cores it kept busy.
All servers are started first (see contenders.py), then each round runs
`wrk -t2 -c32 -d10s` with a POST JSON script against each in turn, so every contender sees the
same machine noise; medians over the rounds. Targets: B1h >= 0.9x; B1u >= 1.5x the req/s of
runpod-flash with a p99 no worse. Groups `async`, `sync` and `observed` (issue 17), on both
servers: an `async def` handler >= 0.95x bare Starlette; the sync handler >= 1.2x bare Starlette
calling it through `run_in_threadpool`; metrics and span export (every request sampled, or a
tenth of them in `-observed-0.1`, to a local collector) on >= 0.95x off. `--check` exits 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import contenders
from contenders import Load

GROUPS = {
    "b1h": ["rendered-hypercorn", "starlette-hypercorn", "starlette-hypercorn-threadpool"],
    "b1u": ["rendered-uvicorn", "runpod-flash", "runpod-flash-quiet", "starlette-uvicorn"],
    # issue 17: an async handler against bare Starlette, a sync one against Starlette's thread
    # pool, and metrics + span export on against off, on both servers
    "async": [
        "rendered-hypercorn-async",
        "starlette-hypercorn",
        "rendered-uvicorn-async",
        "starlette-uvicorn",
    ],
    "sync": [
        "rendered-hypercorn",
        "starlette-hypercorn-threadpool",
        "rendered-uvicorn",
        "starlette-uvicorn-threadpool",
    ],
    "observed": [
        "rendered-hypercorn",
        "rendered-hypercorn-observed",
        "rendered-uvicorn",
        "rendered-uvicorn-observed",
        "rendered-hypercorn-observed-0.1",
        "rendered-uvicorn-observed-0.1",
    ],
}
RESULTS = Path(__file__).resolve().parent / "results"


def measure(
    names: list[str], reps: int, seconds: int, connections: int, warmup: int
) -> tuple[dict[str, list[Load]], dict[str, list[float]]]:
    """Per contender, the wrk result of each round and the server's CPU microseconds per request
    in it; every contender is served at once and loaded in turn."""
    runs: dict[str, list[Load]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="flashctl-b1-") as tmp, contextlib.ExitStack() as stack:
        otlp_url = ""
        if any(name.endswith("-observed") for name in names):
            otlp_url, received = stack.enter_context(contenders.otlp_sink())
            report = "  OTLP bytes received: {:,}"
            stack.callback(lambda: print(report.format(received[0]), file=sys.stderr))
        servers = contenders.build(names, Path(tmp), otlp_url)
        served = {name: stack.enter_context(contenders.serving(servers[name])) for name in names}
        for name in names:
            contenders.wrk(served[name][1], warmup, connections)
        for round_ in range(reps):
            for name in names:
                process, port = served[name]
                before = contenders.cpu_seconds(process.pid)
                load = contenders.wrk(port, seconds, connections)
                used = contenders.cpu_seconds(process.pid) - before
                runs[name].append(load)
                cpu[name].append(used / max(load.requests, 1) * 1e6)
                print(
                    f"  round {round_ + 1}/{reps} {name:30} {load.rps:8.0f} req/s"
                    f"  p99 {load.p99_ms:6.1f} ms  cpu {cpu[name][-1]:5.0f} us/req"
                    f"  errors {load.non_2xx + load.socket_errors}",
                    file=sys.stderr,
                )
    return runs, cpu


def summary(loads: list[Load], cpu: list[float]) -> dict[str, float]:
    return {
        "cpu_us": statistics.median(cpu),
        "cores": statistics.median(x.rps * c / 1e6 for x, c in zip(loads, cpu, strict=True)),
        "rps": statistics.median(x.rps for x in loads),
        "p50_ms": statistics.median(x.p50_ms for x in loads),
        "p99_ms": statistics.median(x.p99_ms for x in loads),
        "errors": sum(x.non_2xx + x.socket_errors for x in loads),
        "rps_min": min(x.rps for x in loads),
        "rps_max": max(x.rps for x in loads),
    }


def paired(ours: list[Load], theirs: list[Load]) -> tuple[float, float, float]:
    """Median, min and max of the per-round req/s ratios."""
    ratios = [a.rps / b.rps for a, b in zip(ours, theirs, strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


def table(stats: dict[str, dict[str, float]]) -> str:
    rows = [
        "| contender | req/s (median) | min..max | p50 ms | p99 ms | errors"
        " | server CPU us/req | cores busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in stats.items():
        rows.append(
            f"| {name} | {s['rps']:,.0f} | {s['rps_min']:,.0f}..{s['rps_max']:,.0f}"
            f" | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['errors']:.0f}"
            f" | {s['cpu_us']:.0f} | {s['cores']:.2f} |"
        )
    return "\n".join(rows)


def verdicts(runs: dict[str, list[Load]], stats: dict[str, dict[str, float]]) -> list[str]:
    lines: list[str] = []

    def ratio_line(label: str, ours: str, theirs: str, target: float, p99: bool) -> None:
        if ours not in stats or theirs not in stats:
            return
        ratio = stats[ours]["rps"] / stats[theirs]["rps"]
        median, low, high = paired(runs[ours], runs[theirs])
        ok = ratio >= target
        p99_text = ""
        if p99:
            p99_ok = stats[ours]["p99_ms"] <= stats[theirs]["p99_ms"]
            ok = ok and p99_ok
            p99_text = (
                f", p99 {stats[ours]['p99_ms']:.2f} vs {stats[theirs]['p99_ms']:.2f} ms"
                f" ({'no worse' if p99_ok else 'WORSE'})"
            )
        verdict = "PASS" if ok else "FAIL"
        if target <= 0:
            verdict = "context"
        # their CPU per request over ours: the throughput ratio the same CPU would give, steadier
        # than req/s when other jobs share the cores
        cpu_ratio = stats[theirs]["cpu_us"] / stats[ours]["cpu_us"]
        lines.append(
            f"| {label} | {ours} / {theirs} | {ratio:.2f}x | {median:.2f}x ({low:.2f}..{high:.2f})"
            f" | {cpu_ratio:.2f}x"
            f" | {'>= ' + format(target, 'g') + 'x' if target > 0 else '-'}{p99_text}"
            f" | {verdict} |"
        )

    ratio_line("B1h", "rendered-hypercorn", "starlette-hypercorn", 0.9, p99=False)
    ratio_line(
        "B1h, baseline in a thread pool",
        "rendered-hypercorn",
        "starlette-hypercorn-threadpool",
        0.9,
        p99=False,
    )
    ratio_line("B1u", "rendered-uvicorn", "runpod-flash", 1.5, p99=True)
    ratio_line("B1u (flash, no access log)", "rendered-uvicorn", "runpod-flash-quiet", 1.5, True)
    ratio_line("framework cost on uvicorn", "rendered-uvicorn", "starlette-uvicorn", 0, False)
    for server in ("hypercorn", "uvicorn"):
        rendered = f"rendered-{server}"
        ratio_line(f"async, {server}", f"{rendered}-async", f"starlette-{server}", 0.95, False)
        ratio_line(f"sync, {server}", rendered, f"starlette-{server}-threadpool", 1.2, p99=False)
        ratio_line(f"metrics+tracing, {server}", f"{rendered}-observed", rendered, 0.95, False)
        ratio_line(
            f"metrics+tracing at 0.1, {server}", f"{rendered}-observed-0.1", rendered, 0.95, False
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="+", choices=sorted(GROUPS), default=sorted(GROUPS))
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before round 1")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    names = list(dict.fromkeys(name for group in args.groups for name in GROUPS[group]))
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    runs, cpu = measure(names, args.reps, args.seconds, args.connections, args.warmup)
    stats = {name: summary(loads, cpu[name]) for name, loads in runs.items()}
    command = contenders.WRK_COMMAND.format(c=args.connections, d=args.seconds)
    print(
        f"B1 {started} at {contenders.revision()}: `{command}`, {args.reps} rounds,"
        " contenders served side by side\n"
    )
    print(table(stats))
    print()
    print(
        "| target | ours / theirs | req/s ratio | per-round ratio (min..max)"
        " | CPU/req ratio (theirs/ours) | goal | verdict |"
    )
    print("|---|---|---:|---:|---:|---|---|")
    lines = verdicts(runs, stats)
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"b1-{started.replace(':', '')}.json"
    raw = {
        name: [{**load.__dict__, "cpu_us": c} for load, c in zip(loads, cpu[name], strict=True)]
        for name, loads in runs.items()
    }
    out.write_text(json.dumps({"args": vars(args), "runs": raw, "stats": stats}, indent=1))
    return 1 if args.check and any(line.endswith("| FAIL |") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
