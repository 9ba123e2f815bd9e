"""B1 in process: the CPU cost of one request through the runtime, without a server or sockets.

    python bench/b1_inprocess.py [--requests 20000] [--concurrency 32] [--rounds 5] [--profile NAME]

Each contender is an ASGI app driven directly on uvloop with the B1 request (`POST /transform`,
the seed example's body): `--concurrency` tasks each send requests in a loop, every message
made up front, so what is measured is the app's own work per request (process CPU time, all
threads, divided by the requests). Rounds take turns over the contenders; the table gives the
best and the median round. Contenders:

- rendered-async / rendered-sync: `create_app` with the seed's `transform` as an `async def`
  handler (on the loop) or as it is, a `def` (run in the runtime's thread pool);
- rendered-*-observed: the same with `metrics: True` and span export on (the exporter thread
  formats every batch as OTLP JSON but does not send it: no collector's cost in the figure);
- starlette / starlette-threadpool: bench/flash_baseline/starlette_app.py, calling `transform`
  on the loop or through Starlette's `run_in_threadpool`.

`--profile NAME` runs only that contender under cProfile and prints the top functions.
The server's own work (HTTP parsing and writing) is not here: see b1_throughput.py for that.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench" / "flash_baseline"))
sys.path.insert(0, str(ROOT / "examples" / "seed"))

BODY = b'{"text": "hello", "operation": "uppercase"}'
SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/transform",
    "raw_path": b"/transform",
    "root_path": "",
    "query_string": b"",
    "headers": [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(BODY)),
    ],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
    "state": {},
}


def rendered(sync: bool, observed: bool) -> Any:
    from cpu_worker import transform
    from flashctl_runtime import Route, Settings, create_app, logs, tracing

    if sync:
        handler: Callable[..., Any] = transform
    else:

        async def handler(text: str, operation: str) -> str:
            return transform(text, operation)

    saved = dict(os.environ)
    if observed:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"  # never sent: see below
    try:
        app = create_app([Route("POST", "/transform", handler)], Settings(metrics=observed))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if observed:
        exporter = app.exporter
        assert isinstance(exporter, tracing.Exporter)
        exporter._send = exporter.payload
        exporter.start()
    logs_out = open(os.devnull, "w")  # noqa: SIM115 - the log lines are written, to nowhere
    sys.stdout = logs_out
    logs.flush()
    return app


def starlette(threadpool: bool) -> Any:
    """A fresh copy of the baseline module (it reads BASELINE_THREADPOOL when imported)."""
    os.environ["BASELINE_THREADPOOL"] = "1" if threadpool else "0"
    path = ROOT / "bench" / "flash_baseline" / "starlette_app.py"
    name = f"starlette_app_{'threadpool' if threadpool else 'direct'}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


CONTENDERS: dict[str, Callable[[], Any]] = {
    "rendered-async": lambda: rendered(sync=False, observed=False),
    "rendered-async-observed": lambda: rendered(sync=False, observed=True),
    "rendered-sync": lambda: rendered(sync=True, observed=False),
    "rendered-sync-observed": lambda: rendered(sync=True, observed=True),
    "starlette": lambda: starlette(threadpool=False),
    "starlette-threadpool": lambda: starlette(threadpool=True),
}


async def drive(app: Any, requests: int, concurrency: int) -> None:
    request = {"type": "http.request", "body": BODY, "more_body": False}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def client(count: int) -> None:
        for _ in range(count):
            await app(dict(SCOPE), receive, send)

    share = requests // concurrency
    await asyncio.gather(*(client(share) for _ in range(concurrency)))
    if set(statuses) != {200}:
        raise SystemExit(f"unexpected statuses {sorted(set(statuses))}")


def run(app: Any, requests: int, concurrency: int) -> float:
    """CPU microseconds per request over one batch of requests."""
    import uvloop

    before = time.process_time()
    uvloop.run(drive(app, requests, concurrency))
    return (time.process_time() - before) / (requests // concurrency * concurrency) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=sorted(CONTENDERS), default=list(CONTENDERS))
    parser.add_argument("--profile", choices=sorted(CONTENDERS))
    args = parser.parse_args()
    stdout = sys.stdout
    if args.profile:
        app = CONTENDERS[args.profile]()
        run(app, 2000, args.concurrency)  # warm-up
        profiler = cProfile.Profile()
        profiler.enable()
        run(app, args.requests, args.concurrency)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
        print(text.getvalue(), file=stdout)
        return 0
    apps = {name: CONTENDERS[name]() for name in args.only}
    for app in apps.values():
        run(app, 2000, args.concurrency)  # warm-up: threads started, caches filled
    cpu: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(args.rounds):
        for name, app in apps.items():
            cpu[name].append(run(app, args.requests, args.concurrency))
    print(
        f"B1 in process: {args.requests} requests x {args.rounds} rounds,"
        f" concurrency {args.concurrency}, CPU us per request\n",
        file=stdout,
    )
    print("| contender | best | median |", file=stdout)
    print("|---|---:|---:|", file=stdout)
    for name, values in cpu.items():
        print(f"| {name} | {min(values):.1f} | {statistics.median(values):.1f} |", file=stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
