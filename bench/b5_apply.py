"""B5: `flashctl apply` of 20 endpoints against the emulator with 100 ms latency per request.

    python bench/b5_apply.py [--endpoints 20] [--latency-ms 100] [--runs 3] [--check]

Starts the emulator in this process on a free loopback port, writes a project of N CPU
endpoints in a temp dir, and runs the venv's `flashctl apply --yes --no-wait` as users do (a
subprocess, interpreter start included): first a full create, then a no-op re-apply, counting
the API requests each made (from the emulator's log). Each run starts from an empty account;
times are medians. Targets: full create under 3 s; the no-op re-apply makes exactly one list call
and no writes. `--check` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

from flashctl.emulator.server import BackgroundEmulator

FLASHCTL = Path(sys.executable).parent / "flashctl"
KEY = "bench-key"
TARGET_CREATE_SECONDS = 3.0
NO_OP_CALLS = Counter({"GET /v2/serverless": 1})


def write_project(folder: Path, endpoints: int) -> Path:
    (folder / "handlers.py").write_text("def hello():\n    return 'hi'\n")
    blocks = [
        f"  e{i:02d}:\n"
        f"    image: acme/bench:{i}\n"
        "    compute: {cpu: [{flavor: cpu5c, vcpus: 2}]}\n"
        "    routes: [{method: GET, path: /hello, handler: 'handlers:hello'}]\n"
        for i in range(endpoints)
    ]
    path = folder / "flash.yaml"
    path.write_text("version: 1\nproject: bench\nendpoints:\n" + "".join(blocks))
    return path


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the flashctl process (less sensitive to a busy host)
    calls: Counter[str]  # requests per "METHOD /template"


def timed_apply(path: Path, url: str, emulator: BackgroundEmulator) -> Run:
    """One `flashctl apply`: its wall and CPU time and the requests it made."""
    before = Counter(emulator.emulator.log.snapshot()["counts"])
    cpu_before = _children_cpu()
    env = {**os.environ, "RUNPOD_API_KEY": KEY, "FLASHCTL_API_URL": url, "NO_COLOR": "1"}
    command = [str(FLASHCTL), "apply", "-f", str(path), "--yes", "--no-wait"]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"flashctl apply failed ({done.returncode}):\n{done.stderr}")
    calls = Counter(emulator.emulator.log.snapshot()["counts"]) - before
    return Run(seconds, _children_cpu() - cpu_before, calls)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    creates: list[Run] = []
    no_ops: list[Run] = []
    with (
        tempfile.TemporaryDirectory() as folder,
        BackgroundEmulator(api_key=KEY, latency_ms=args.latency_ms) as emulator,
    ):
        path = write_project(Path(folder), args.endpoints)
        for _ in range(args.runs):
            requests.post(f"{emulator.url}/_emulator/reset", timeout=5).raise_for_status()
            creates.append(timed_apply(path, emulator.url, emulator))
            no_ops.append(timed_apply(path, emulator.url, emulator))
        stored = len(emulator.emulator.state.list())

    create = statistics.median(r.wall for r in creates)
    no_op = statistics.median(r.wall for r in no_ops)
    no_op_calls_ok = all(r.calls == NO_OP_CALLS for r in no_ops)
    ok = create < TARGET_CREATE_SECONDS and no_op_calls_ok and stored == args.endpoints
    print(
        f"B5 ({args.endpoints} endpoints, {args.latency_ms:g} ms latency, median of {args.runs}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):\n"
        f"  full create     {create:.2f}s wall, {statistics.median(r.cpu for r in creates):.2f}s"
        f" CPU (target <{TARGET_CREATE_SECONDS:g}s); calls {_calls(creates[-1].calls)}\n"
        f"  no-op re-apply  {no_op:.2f}s wall, {statistics.median(r.cpu for r in no_ops):.2f}s"
        f" CPU; calls {_calls(no_ops[-1].calls)} (target: 1 list call, 0 writes)\n"
        f"  {stored} endpoints stored: {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok or not args.check else 1


def _calls(calls: Counter[str]) -> str:
    return ", ".join(f"{route} x{n}" for route, n in sorted(calls.items())) or "none"


if __name__ == "__main__":
    sys.exit(main())
