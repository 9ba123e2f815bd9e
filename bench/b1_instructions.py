"""B1 in instructions: what one request costs a server, counted by valgrind, not timed.

    python bench/b1_instructions.py [--requests 1024] [--only NAME ...]

On a shared 2-core VM, req/s and CPU time per request move by 20% or more from one round to
the next (b1_throughput.py's per-round ratios), more than the differences the issue-17 targets
are about. The number of instructions a server executes per request does not: each contender
(the same processes b1_throughput.py starts, see contenders.py) runs under
`valgrind --tool=callgrind`; after a warm-up its counters are zeroed (`callgrind_control -z`),
`--requests` sequential `POST /transform` go over one kept-alive connection, and the counters
are dumped (`callgrind_control -d`): instructions / requests, the server's whole work on a
request (HTTP parsing and writing, the app, its log line, the exporter's thread: 1024 requests
hold exactly two full batches of spans), repeatable to well under 1%. It leaves out what
instructions do not show (cache misses, system calls' time, threads waiting on the GIL) and
concurrency (one request at a time: every log line is a write of its own), so it complements
b1_throughput.py rather than replacing it. Needs valgrind (apt: valgrind); slow: ~1-2 minutes
per contender.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import contenders

PAIRS = (  # (ours, theirs): the issue-17 comparisons
    ("rendered-hypercorn-async", "starlette-hypercorn"),
    ("rendered-uvicorn-async", "starlette-uvicorn"),
    ("rendered-hypercorn", "starlette-hypercorn-threadpool"),
    ("rendered-uvicorn", "starlette-uvicorn-threadpool"),
    ("rendered-hypercorn-observed", "rendered-hypercorn"),
    ("rendered-uvicorn-observed", "rendered-uvicorn"),
)
DEFAULT = sorted({name for pair in PAIRS for name in pair})


def requests(port: int, count: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60.0)
    try:
        for _ in range(count):
            connection.request(
                "POST", "/transform", contenders.BODY, {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            if response.status != 200 or response.read().strip() != contenders.EXPECTED:
                raise SystemExit(f"POST /transform answered {response.status}")
    finally:
        connection.close()


def control(option: str, pid: int) -> None:
    subprocess.run(
        ["callgrind_control", option, str(pid)],
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
    )


def instructions(contender: contenders.Contender, count: int, out: Path) -> float:
    """Instructions per request of `contender`, run under callgrind."""
    valgrind = (
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}/callgrind.%p",
        "--dump-instr=no",
        "--trace-children=no",
    )
    # argv[0] is a binary (a shell-script shim would be what valgrind counts). Exported spans
    # go out in full batches only (512, as under load), not on the 5 s timer, which under
    # valgrind's slowdown would send a small batch every few dozen requests.
    env = {**contender.env, "OTEL_BSP_SCHEDULE_DELAY": "3600000"}
    traced = replace(contender, argv=(*valgrind, *contender.argv), env=env)
    port = contenders.free_port()
    process = traced.spawn(port)
    try:
        contenders.wait_ready(process, port, timeout=600.0)
        requests(port, 100)  # warm-up: imports done, caches and threads there
        time.sleep(1.0)
        control("-z", process.pid)
        requests(port, count)
        control("-d", process.pid)
    finally:
        contenders.stop(process, timeout=120.0)
    dumps = sorted(out.glob(f"callgrind.{process.pid}.*"))
    if not dumps:
        raise SystemExit(f"{contender.name}: callgrind wrote no dump")
    found = re.search(r"^totals: (\d+)", dumps[0].read_text(encoding="utf-8"), re.M)
    if found is None:
        raise SystemExit(f"{dumps[0]}: no totals line")
    return int(found.group(1)) / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1024, help="a multiple of 512")
    parser.add_argument("--only", nargs="+", choices=contenders.NAMES, default=DEFAULT)
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("needs valgrind and callgrind_control (apt install valgrind)")
    counts: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="flashctl-b1i-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        otlp_url = ""
        if any("-observed" in name for name in args.only):
            otlp_url, _ = stack.enter_context(contenders.otlp_sink())
        servers = contenders.build(args.only, Path(tmp), otlp_url)
        for name in args.only:
            counts[name] = instructions(servers[name], args.requests, Path(tmp))
            print(f"  {name:36} {counts[name]:>12,.0f} instructions/request", file=sys.stderr)
    print(
        f"B1 in instructions {time.strftime('%Y-%m-%dT%H:%M:%S')} at {contenders.revision()}:"
        f" {args.requests} sequential POST /transform, one connection, callgrind\n"
    )
    print("| contender | instructions per request |")
    print("|---|---:|")
    for name, count in counts.items():
        print(f"| {name} | {count:,.0f} |")
    pairs = [(a, b) for a, b in PAIRS if a in counts and b in counts]
    if pairs:
        print("\n| ours / theirs | instructions ratio (theirs/ours, as a speed ratio) |")
        print("|---|---:|")
        for ours, theirs in pairs:
            print(f"| {ours} / {theirs} | {counts[theirs] / counts[ours]:.3f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
