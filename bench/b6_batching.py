"""B6: dynamic batching. The same "model" behind a batched and an unbatched route, at c=32.

    python bench/b6_batching.py [--seconds 15] [--connections 32] [--server hypercorn] [--check]

The model stands in for one GPU: one call at a time (a lock), each costing a fixed
FIXED_MS plus PER_ITEM_MS per item, spent in `time.sleep` (numpy is not a dependency here, and
a sleep, like a GPU kernel, leaves the CPU and the GIL to the server). The service (runtime
only, `python -m flashctl_runtime.serve`, one process on 127.0.0.1) has two routes:

- `POST /single`: `def single(x)` calls the model with `[x]` (runs in the thread pool);
- `POST /batched`: `def batched(items)` calls the model with the whole list, route option
  `batch: {max_size: 32, max_wait_ms: 10}`.

`wrk -t2 -c32 -d{seconds}s` POSTs `{"x": 1}` to each in turn. Reported: req/s of each, their
ratio (target >= 5x), p99 of the batched route against max_wait_ms + 2 x one batch's compute
(FIXED_MS + PER_ITEM_MS x the mean batch size of the measured run, read from /metrics).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

import contenders

FIXED_MS = 10.0
PER_ITEM_MS = 0.2
MAX_SIZE = 32
MAX_WAIT_MS = 10.0
TARGET_RATIO = 5.0

APP = textwrap.dedent(
    f"""
    import threading
    import time

    from flashctl_runtime import Batch, Route, Settings, create_app

    DEVICE = threading.Lock()  # one GPU: one call at a time


    def model(items):
        with DEVICE:
            time.sleep(({FIXED_MS} + {PER_ITEM_MS} * len(items)) / 1000.0)
        return [{{"y": item["x"] * 2}} for item in items]


    def single(x):
        return model([{{"x": x}}])[0]


    def batched(items: list) -> list:
        return model(items)


    app = create_app(
        [
            Route("POST", "/single", single),
            Route(
                "POST",
                "/batched",
                batched,
                batch=Batch(max_size={MAX_SIZE}, max_wait_ms={MAX_WAIT_MS}),
            ),
        ],
        Settings(title="b6", metrics=True),
    )
    """
)
BODY = b'{"x": 1}'


def batch_totals(port: int) -> tuple[float, float]:
    """(requests, batches) the batched route has served so far, from /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    values = []
    for name in ("flashctl_batch_size_sum", "flashctl_batch_size_count"):
        found = re.search(rf"^{name}\{{[^}}]*\}} (\S+)$", text, re.MULTILINE)
        values.append(float(found.group(1)) if found else 0.0)
    return values[0], values[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--server", choices=("hypercorn", "uvicorn"), default="hypercorn")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    with tempfile.TemporaryDirectory(prefix="flashctl-b6-") as tmp:
        (Path(tmp) / "b6_app.py").write_text(APP, encoding="utf-8")
        argv = (sys.executable, "-m", "flashctl_runtime.serve", "b6_app:app")
        argv += ("--server", args.server, "--host", "127.0.0.1", "--port", "{port}")
        contender = contenders.Contender(f"b6-{args.server}", argv, Path(tmp))
        port = contenders.free_port()
        process = contender.spawn(port)
        try:
            contenders.wait_ready(process, port)
            loads = {}
            for path in ("/single", "/batched"):
                contenders.wrk(port, 2, args.connections, path=path, body=BODY)  # warm-up
                before = batch_totals(port)
                loads[path] = contenders.wrk(
                    port, args.seconds, args.connections, path=path, body=BODY
                )
            after = batch_totals(port)
            requests, batches = after[0] - before[0], after[1] - before[1]
            size = requests / batches if batches else float("nan")
        finally:
            contenders.stop(process)

    single, batched = loads["/single"], loads["/batched"]
    ratio = batched.rps / single.rps
    compute_ms = FIXED_MS + PER_ITEM_MS * size
    p99_bound = MAX_WAIT_MS + 2 * compute_ms
    errors = sum(load.non_2xx + load.socket_errors for load in loads.values())
    met = ratio >= TARGET_RATIO and batched.p99_ms <= p99_bound and errors == 0
    print(
        f"B6 {started} at {contenders.revision()}: batched/unbatched {ratio:.1f}x"
        f" (target >= {TARGET_RATIO:g}x), batched p99 {batched.p99_ms:.1f} ms"
        f" (bound {p99_bound:.1f} ms), {'met' if met else 'MISSED'}"
    )
    print(
        f"model: one call at a time, {FIXED_MS:g} ms + {PER_ITEM_MS:g} ms per item (time.sleep);"
        f" batch max_size {MAX_SIZE}, max_wait_ms {MAX_WAIT_MS:g}; {args.server};"
        f" wrk -t2 -c{args.connections} -d{args.seconds}s\n"
    )
    print("| route | req/s | p50 ms | p99 ms | max ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for path, load in loads.items():
        print(
            f"| {path} | {load.rps:,.0f} | {load.p50_ms:.1f} | {load.p99_ms:.1f}"
            f" | {load.max_ms:.0f} | {load.non_2xx + load.socket_errors} |"
        )
    print(
        f"\nmean batch size {size:.1f}; one batch's compute"
        f" {compute_ms:.1f} ms; p99 bound = {MAX_WAIT_MS:g} + 2 x {compute_ms:.1f} ms"
    )
    results_dir = Path(__file__).resolve().parent / "results"
    results_dir.mkdir(exist_ok=True)
    out = results_dir / f"b6-{started.replace(':', '')}.json"
    summary = {
        "args": vars(args),
        "ratio": ratio,
        "mean_batch_size": size,
        "p99_bound_ms": p99_bound,
        "routes": {path: vars(load) for path, load in loads.items()},
    }
    out.write_text(json.dumps(summary, indent=1))
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
