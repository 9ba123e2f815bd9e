"""Sending the load: a fixed number of worker threads, each with its own keep-alive session.

Threads with `requests` rather than asyncio with httpx: `requests` is already an install
dependency (httpx is only a development one), a thread per concurrent request is cheap at the
concurrencies a load test of one endpoint uses (<= 256), and each request is timed where it is
sent, so the client's own scheduling shows up in the latency as it would for a real caller.

Every loop is bounded: by the request count (`-n`) or the deadline (`-d`), and each request by
its timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from flashctl.errors import FlashError
from flashctl.loadtest.stats import Sample, server_time_ms
from flashctl.loadtest.target import Target
from flashctl.runpod.errors import transport_reason

CONNECT_TIMEOUT = 10.0
MAX_CONCURRENCY = 256
new_session = requests.Session  # tests swap in a session with a rewriting transport


@dataclass(frozen=True)
class Load:
    """How much to send: `requests` in total, or for `duration` seconds; `concurrency` at once."""

    concurrency: int
    requests: int | None
    duration: float | None
    timeout: float  # seconds to wait for each response


@dataclass(frozen=True)
class Progress:
    done: int
    failed: int
    elapsed_s: float
    planned: int | None
    duration: float | None


@dataclass(frozen=True)
class Outcome:
    samples: list[Sample]
    elapsed_s: float
    interrupted: bool = False  # Ctrl-C: the samples so far, a partial result


def send_one(session: requests.Session, target: Target, timeout: float) -> Sample:
    started = time.perf_counter()
    try:
        response = session.request(
            target.method,
            target.url,
            data=target.body,
            params=target.params or None,
            headers=target.headers,
            timeout=(CONNECT_TIMEOUT, timeout),
            allow_redirects=False,
        )
        response.content  # noqa: B018  (read the whole body inside the timing)
    except requests.RequestException as err:
        elapsed = (time.perf_counter() - started) * 1000
        return Sample(None, elapsed, error=transport_reason(err, CONNECT_TIMEOUT, timeout))
    elapsed = (time.perf_counter() - started) * 1000
    return Sample(
        response.status_code, elapsed, server_time_ms(response.headers.get("server-timing"))
    )


def warm_up(target: Target, timeout: float, hint: str = "") -> Sample:
    """One request before the run, not counted: proves the server is there (a dead one is a clear
    error, not a report of 100% failures) and opens nothing the run depends on."""
    session = new_session()
    try:
        sample = send_one(session, target, timeout)
    finally:
        session.close()
    if sample.status is None:
        raise FlashError(f"Could not reach {target.url}: {sample.error}.{hint}")
    return sample


def run(target: Target, load: Load, progress: Callable[[Progress], None]) -> Outcome:
    """Send the load; `progress` is called about once a second from this thread."""
    samples: list[Sample] = []
    lock = threading.Lock()
    stop = threading.Event()
    issued = 0
    started = time.monotonic()
    deadline = started + load.duration if load.duration is not None else None

    def take_ticket() -> bool:
        nonlocal issued
        if stop.is_set():
            return False
        if deadline is not None:
            return time.monotonic() < deadline
        with lock:
            if load.requests is not None and issued < load.requests:
                issued += 1
                return True
            return False

    def worker() -> None:
        session = new_session()
        try:
            while take_ticket():
                sample = send_one(session, target, load.timeout)
                with lock:
                    samples.append(sample)
        finally:
            session.close()

    threads = [
        threading.Thread(target=worker, name=f"loadtest-{i}", daemon=True)
        for i in range(load.concurrency)
    ]
    for thread in threads:
        thread.start()
    try:
        next_tick = started + 1.0
        while alive := [t for t in threads if t.is_alive()]:
            alive[0].join(max(next_tick - time.monotonic(), 0.0))
            if time.monotonic() >= next_tick:
                progress(_progress(samples, lock, started, load))
                next_tick += 1.0
    except KeyboardInterrupt:
        stop.set()  # in-flight requests finish (bounded by their timeout); no new ones start
        try:
            for thread in threads:
                thread.join(load.timeout + CONNECT_TIMEOUT)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: report what is in, without the requests still in flight
        with lock:
            return Outcome(list(samples), time.monotonic() - started, interrupted=True)
    elapsed = time.monotonic() - started
    return Outcome(list(samples), elapsed)


def _progress(samples: list[Sample], lock: threading.Lock, started: float, load: Load) -> Progress:
    with lock:
        done = len(samples)
        failed = sum(1 for s in samples if not s.ok)
    return Progress(done, failed, time.monotonic() - started, load.requests, load.duration)
