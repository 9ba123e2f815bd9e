"""Soak: 60 s at 64 connections against the served example's POST route.

    python bench/soak.py [--servers hypercorn uvicorn] [--seconds 60] [--connections 64] [--check]
                         [--batched]

For each server, the example's `cpu` endpoint is rendered and run as its container would (see
contenders.py), with its stdout (one JSON log line per request) going to a file, then
`wrk -t2 -c64 -d60s` POSTs `/transform`. RSS (VmRSS of /proc/PID/status) is sampled every second.
Then 5,000 short keep-alive connections (two `GET /ping` each, closed by the client), with the
RSS before and after. Passes when wrk saw no error (non-2xx/3xx responses, connect/read/write
errors, timeouts), every request log line says 200, the RSS at the end is within 10% of the RSS at
10 s, and the short connections grew the RSS by less than 2,000 bytes each (hypercorn used to keep
~13 KB per closed connection until its keep-alive timer ran out).
With `--batched`, the variant also serves the example's batched `POST /embed` (`batch:
{max_size: 32, max_wait_ms: 10}`) with `runtime.metrics: true`, and wrk POSTs
`{"text": "hello"}` there instead.
"""

from __future__ import annotations

import argparse
import collections
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import contenders

RSS_TOLERANCE = 0.10
SHORT_CONNECTIONS = 5_000
SHORT_CONNECTION_BYTES = 2_000  # RSS growth allowed per short connection


def sample_rss(pid: int, stop: threading.Event, samples: list[tuple[float, float]]) -> None:
    began = time.monotonic()
    while not stop.wait(1.0):
        try:
            samples.append((time.monotonic() - began, contenders.rss_mib(pid)))
        except (OSError, RuntimeError):
            return


def logged_statuses(path: Path) -> collections.Counter[int]:
    """Statuses of the request log lines (those with a `status` field) the server wrote."""
    statuses: collections.Counter[int] = collections.Counter()
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if '"status"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                statuses[-1] += 1  # not JSON: counted as a failure
                continue
            if isinstance(record, dict) and "status" in record:
                statuses[int(record["status"])] += 1
    return statuses


def short_connections(port: int, count: int) -> None:
    """``count`` connections, each two keep-alive ``GET /ping`` then closed by the client."""
    request = b"GET /ping HTTP/1.1\r\nHost: soak\r\n\r\n"
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            for _ in range(2):
                sock.sendall(request)
                answer = b""
                while not answer.endswith(b"}"):
                    data = sock.recv(65536)
                    if not data:
                        raise RuntimeError(f"connection closed after {answer[:100]!r}")
                    answer += data


def soak(
    contender: contenders.Contender,
    seconds: int,
    connections: int,
    log: Path,
    path: str = "/transform",
    body: bytes = contenders.BODY,
) -> dict:
    samples: list[tuple[float, float]] = []
    with log.open("wb") as out, contenders.serving(contender, out) as (process, port):
        stop = threading.Event()
        sampler = threading.Thread(target=sample_rss, args=(process.pid, stop, samples))
        sampler.start()
        try:
            load = contenders.wrk(port, seconds, connections, path=path, body=body)
        finally:
            stop.set()
            sampler.join(5)
        rss_end = contenders.rss_mib(process.pid)
        short_connections(port, 200)  # warm up
        time.sleep(0.5)
        before_short = contenders.rss_mib(process.pid)
        short_connections(port, SHORT_CONNECTIONS)
        time.sleep(1.0)
        per_short = (contenders.rss_mib(process.pid) - before_short) * 1024 * 1024
        per_short /= SHORT_CONNECTIONS
    at_10 = min(samples, key=lambda s: abs(s[0] - 10.0))[1] if samples else float("nan")
    statuses = logged_statuses(log)
    drift = (rss_end - at_10) / at_10
    errors = load.non_2xx + load.socket_errors
    bad_lines = sum(n for status, n in statuses.items() if not 200 <= status < 300)
    return {
        "name": contender.name,
        "requests": load.requests,
        "rps": load.rps,
        "p50_ms": load.p50_ms,
        "p99_ms": load.p99_ms,
        "max_ms": load.max_ms,
        "wrk_errors": errors,
        "logged": dict(statuses),
        "logged_non_2xx": bad_lines,
        "rss_10s": at_10,
        "rss_end": rss_end,
        "rss_max": max((s[1] for s in samples), default=float("nan")),
        "drift": drift,
        "short_connection_bytes": per_short,
        "ok": errors == 0
        and bad_lines == 0
        and abs(drift) <= RSS_TOLERANCE
        and per_short < SHORT_CONNECTION_BYTES,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", nargs="+", choices=("hypercorn", "uvicorn"))
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--check", action="store_true", help="exit 1 when the soak fails")
    parser.add_argument(
        "--batched",
        action="store_true",
        help="POST /embed, the example's batched embedder (max_size 32, max_wait_ms 10), with"
        " runtime.metrics on",
    )
    args = parser.parse_args()
    servers = args.servers or ["hypercorn", "uvicorn"]

    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    results = []
    with tempfile.TemporaryDirectory(prefix="flashctl-soak-") as tmp:
        for server in servers:
            contender = contenders.rendered(Path(tmp), server, batched=args.batched)
            print(f"  soaking {contender.name} for {args.seconds} s", file=sys.stderr)
            target = ("/embed", contenders.EMBED_BODY) if args.batched else ("/transform",)
            log = Path(tmp) / "log"
            results.append(soak(contender, args.seconds, args.connections, log, *target))
    command = contenders.WRK_COMMAND.format(c=args.connections, d=args.seconds)
    if args.batched:
        command = command.replace("post_transform.lua", "post_embed.lua").replace(
            "/transform", "/embed"
        )
    print(f"Soak {started} at {contenders.revision()}: `{command}`\n")
    print(
        "| service | requests | req/s | p50 ms | p99 ms | max ms | wrk errors | log lines | non-2xx"
        " | RSS at 10 s MiB | RSS at end MiB | drift | B/short conn | verdict |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(
            f"| {r['name']} | {r['requests']:,} | {r['rps']:,.0f} | {r['p50_ms']:.1f}"
            f" | {r['p99_ms']:.1f} | {r['max_ms']:.0f} | {r['wrk_errors']}"
            f" | {sum(r['logged'].values()):,} | {r['logged_non_2xx']}"
            f" | {r['rss_10s']:.1f} | {r['rss_end']:.1f} | {r['drift']:+.1%}"
            f" | {r['short_connection_bytes']:,.0f}"
            f" | {'PASS' if r['ok'] else 'FAIL'} |"
        )
    results_dir = Path(__file__).resolve().parent / "results"
    results_dir.mkdir(exist_ok=True)
    out = results_dir / f"soak-{started.replace(':', '')}.json"
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    return 1 if args.check and not all(r["ok"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
