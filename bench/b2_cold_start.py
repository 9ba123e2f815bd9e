"""B2: cold start, from process spawn to the first `GET /ping` 200, side by side.

    python bench/b2_cold_start.py [--runs 10] [--check] [--importtime]

Contenders (see contenders.py): the rendered example on hypercorn and on uvicorn (its
Dockerfile's CMD, ENV and endpoint.json env, from the build context as rendered: nothing
precompiled, as in the image), bare Starlette on the same two server configurations, and
runpod-flash 1.21.0's load-balancer handler on uvicorn. Each run spawns the server on a fresh
port and polls `/ping` on a raw socket every millisecond (bounded: 30 s); the runs go round-robin
over the contenders (one unmeasured warm-up each first), so noise hits all alike. Reports the
median and the RSS once ready. Targets: <= 0.5x runpod-flash, <= 1.3x bare Starlette on the same
server. The `-compiled` rows are the same contexts compiled to .pyc first, as the rendered
Dockerfile does at build time (`RUN python -m compileall`): what an image starts with.
`--importtime` adds the slowest imports of each rendered service (`python -X importtime`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import contenders

# Every contender but B1's variants, which start exactly as the ones they vary (a thread pool
# for the handler; no access log).
B1_VARIANTS = ("starlette-hypercorn-threadpool", "runpod-flash-quiet")
NAMES = [name for name in contenders.NAMES if name not in B1_VARIANTS]
TARGETS = [  # (ours, theirs, at most this ratio)
    ("rendered-hypercorn", "runpod-flash", 0.5),
    ("rendered-uvicorn", "runpod-flash", 0.5),
    ("rendered-hypercorn", "starlette-hypercorn", 1.3),
    ("rendered-uvicorn", "starlette-uvicorn", 1.3),
]
RESULTS = Path(__file__).resolve().parent / "results"
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def cold_start(contender: contenders.Contender) -> tuple[float, float]:
    """Seconds from spawn to `/ping` 200, and the RSS then (MiB)."""
    port = contenders.free_port()
    began = time.perf_counter()
    process = contender.spawn(port)
    try:
        contenders.wait_ready(process, port)
        elapsed = time.perf_counter() - began
        return elapsed, contenders.rss_mib(process.pid)
    finally:
        contenders.stop(process)


def measure(servers: dict[str, contenders.Contender], runs: int) -> dict[str, list[tuple]]:
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
    for contender in servers.values():
        cold_start(contender)  # warm-up: page cache, first .pyc writes where allowed
    for run in range(runs):
        for name, contender in servers.items():
            seconds, rss = cold_start(contender)
            samples[name].append((seconds, rss))
            print(f"  run {run + 1}/{runs} {name:20} {seconds * 1000:7.0f} ms", file=sys.stderr)
    return samples


def import_profile(contender: contenders.Contender, modules: str, top: int) -> str:
    """The slowest imports (cumulative) of `modules` in the contender's folder and env."""
    env = {**os.environ, **contender.env}
    done = subprocess.run(
        [contender.argv[0], "-X", "importtime", "-c", f"import {modules}"],
        cwd=contender.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    rows = []
    for line in done.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match and len(match.group(3)) <= 2:  # top level and its direct imports
            rows.append((int(match.group(2)) / 1000, int(match.group(1)) / 1000, match.group(4)))
    rows.sort(reverse=True)
    lines = [f"`import {modules}` in {contender.name}:", "| module | cumulative ms | self ms |"]
    lines.append("|---|---:|---:|")
    lines += [f"| {name} | {cum:.1f} | {own:.1f} |" for cum, own, name in rows[:top]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--contenders", nargs="+", default=NAMES, choices=contenders.NAMES)
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    with tempfile.TemporaryDirectory(prefix="flashctl-b2-") as tmp:
        servers = contenders.build(args.contenders, Path(tmp))
        samples = measure(servers, args.runs)
        profiles = []
        if args.importtime:
            for server in ("hypercorn", "uvicorn"):
                name = f"rendered-{server}"
                if name in servers:
                    modules = f"flashctl_runtime.serve, {server}, handler_service"
                    profiles.append(import_profile(servers[name], modules, 15))

    medians = {name: statistics.median(s for s, _ in runs) for name, runs in samples.items()}
    print(
        f"B2 {started} at {contenders.revision()}: spawn -> first /ping 200,"
        f" median of {args.runs}, round-robin\n"
    )
    print("| contender | cold start ms (median) | min..max ms | RSS when ready MiB |")
    print("|---|---:|---:|---:|")
    for name, runs in samples.items():
        times = [s * 1000 for s, _ in runs]
        rss = statistics.median(r for _, r in runs)
        print(
            f"| {name} | {medians[name] * 1000:.0f} | {min(times):.0f}..{max(times):.0f}"
            f" | {rss:.0f} |"
        )
    print("\n| target | ratio | goal | verdict |\n|---|---:|---|---|")
    failed = False
    for ours, theirs, limit in TARGETS:
        if ours in medians and theirs in medians:
            ratio = medians[ours] / medians[theirs]
            failed = failed or ratio > limit
            verdict = "PASS" if ratio <= limit else "FAIL"
            print(f"| {ours} / {theirs} | {ratio:.2f}x | <= {limit}x | {verdict} |")
    for profile in profiles:
        print("\n" + profile)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"b2-{started.replace(':', '')}.json"
    out.write_text(json.dumps({"args": vars(args), "samples": samples}, indent=1))
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
