"""Reading several workers' log streams at once and merging them in time order.

One thread per worker reads its stream (`GET .../workers/{workerId}/logs`, server-sent events)
into a queue; the caller's thread merges. A stream that drops or ends is reopened with
`Last-Event-ID` (the last event received), so no line is lost or repeated; after
`MAX_FAILURES` attempts in a row that bring nothing (an API error, a refused connection, a
stream that ends at once), the stream is given up: as failed after an error, as finished (the
worker is gone: 404) otherwise.

`read_logs` runs in two phases:

1. Backfill: every stream sends its past lines at once; a stream is settled when it has been
   quiet for `settle` seconds (RunPod's stream never says that the backfill is over). Then the
   lines are sorted by time (ties: by worker) and the last `tail` are emitted (all of them
   with no `tail`: RunPod sends every line from `since` on, up to 5,000 a worker).
2. With `follow`, live lines: each is held `hold` seconds, so that lines of different workers
   arriving close together come out in time order; the workers are listed every `poll`
   seconds and a new one's stream is opened (from the moment the command started, or
   `since`), up to `MAX_STREAMS` streams. It stops when `stop` is set (or on Ctrl-C, which
   the caller turns into a clean exit).
"""

from __future__ import annotations

import contextlib
import heapq
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import requests

from flashctl.errors import DeployError
from flashctl.logs.lines import LogEvent
from flashctl.logs.sse import EventParser
from flashctl.runpod.client import RunPodClient
from flashctl.runpod.errors import RunPodAPIError, RunPodConnectionError
from flashctl.runpod.retry import RETRY_STATUSES

MAX_FAILURES = 5  # attempts in a row that bring no event before a stream is given up
MAX_STREAMS = 64  # streams followed at once
RECONNECT_DELAYS = (0.0, 0.25, 0.5, 1.0, 2.0)  # seconds before the 1st, 2nd... reopening
LASTED = 5.0  # a stream open this long that ends was closed for idleness, not a failure


@dataclass(frozen=True)
class Target:
    """Whose logs and which lines: the query sent with each stream."""

    endpoint_id: str
    name: str
    tail: int | None  # None: RunPod's default (100 a worker), or all lines from `since` on
    since: str | None  # RFC 3339
    worker: str | None = None  # only this worker


@dataclass
class Timing:
    """Seconds; tests make them short."""

    settle: float = 1.0  # a stream quiet this long has sent its backfill
    backfill_limit: float = 30.0  # the backfill phase ends after this long in any case
    hold: float = 0.25  # a live line waits this long for earlier lines of other workers
    poll: float = 3.0  # between two listings of the workers while following


@dataclass(frozen=True)
class _Opened:
    worker: str


@dataclass(frozen=True)
class _Dropped:
    worker: str  # its stream broke off: being reopened, so not settled


@dataclass(frozen=True)
class _Done:
    worker: str
    error: DeployError | None = None  # None: the worker is gone (404) or its stream ended


class StreamReader(threading.Thread):
    """Reads one worker's stream into `out` until `stop` (or, without `follow`, its end)."""

    def __init__(
        self,
        client: RunPodClient,
        target: Target,
        worker: str,
        params: Mapping[str, str | int],
        out: queue.Queue[Any],
        *,
        follow: bool,
    ) -> None:
        super().__init__(name=f"logs-{worker}", daemon=True)
        self.client, self.target, self.worker, self.params = client, target, worker, params
        self.out, self.follow = out, follow
        self.stop = threading.Event()
        self.last_id: str | None = None
        self._response: requests.Response | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop reading; wakes a read that waits on the socket."""
        self.stop.set()
        with self._lock:
            response = self._response
        if response is not None:
            _interrupt(response)

    def run(self) -> None:
        failures = 0
        error: DeployError | None = None
        while not self.stop.is_set():
            if failures:
                if failures >= MAX_FAILURES:
                    break
                self.stop.wait(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
                if self.stop.is_set():
                    break
            try:
                response = self.client.open_worker_logs(
                    self.target.endpoint_id,
                    self.worker,
                    params=self.params,
                    last_event_id=self.last_id,
                    name=self.target.name,
                )
            except RunPodAPIError as err:
                if err.status == 404:  # the worker is gone, and its log with it
                    error = None
                    break
                error = err
                if err.status not in RETRY_STATUSES:
                    break
                failures += 1
                continue
            except RunPodConnectionError as err:
                error = err
                failures += 1
                continue
            opened = time.monotonic()
            got_any, ended = self._read(response)
            error = None  # a stream that keeps ending at once with nothing new: the worker is done
            lasted = time.monotonic() - opened >= LASTED
            failures = 0 if got_any or lasted else failures + 1
            if ended and not self.follow:
                break
            if not self.stop.is_set():
                self.out.put(_Dropped(self.worker))  # reopened from the last event id
        if not self.stop.is_set():
            self.out.put(_Done(self.worker, error))

    def _read(self, response: requests.Response) -> tuple[bool, bool]:
        """Read events until the stream ends or drops: (whether any event came, whether it
        ended as a stream ends rather than dropped)."""
        with self._lock:
            self._response = response
        if self.stop.is_set():
            _interrupt(response)
        self.out.put(_Opened(self.worker))
        parser = EventParser()
        got_any = ended = False
        try:
            for chunk in response.iter_content(chunk_size=None):
                for event in parser.feed(chunk):
                    if event.type != "message":
                        continue
                    self.last_id = event.id or self.last_id
                    self.out.put(LogEvent.from_data(self.worker, event.id, event.data))
                    got_any = True
            ended = True
        except (requests.RequestException, OSError, ValueError):
            pass  # a dropped stream
        finally:
            with self._lock:
                self._response = None
            response.close()
        return got_any, ended


def _interrupt(response: requests.Response) -> None:
    """Wake a thread blocked reading `response`: shut its socket down (closing it from another
    thread would not wake the read)."""
    connection = getattr(response.raw, "connection", None) or getattr(
        response.raw, "_connection", None
    )
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@dataclass
class _Stream:
    reader: StreamReader
    opened_at: float | None = None
    last_event_at: float | None = None
    done: bool = False


@dataclass
class _Merge:
    """Live lines held for `hold` seconds, emitted in time order."""

    hold: float
    heap: list[tuple[float, str, int, float, LogEvent]] = field(default_factory=list)
    count: int = 0

    def push(self, event: LogEvent, arrived: float) -> None:
        self.count += 1
        at = event.at or time.time()
        heapq.heappush(self.heap, (at, event.worker, self.count, arrived, event))

    def due(self, now: float, everything: bool = False) -> list[LogEvent]:
        """The earliest lines, while the earliest has been held long enough."""
        ready = []
        while self.heap and (everything or self.heap[0][3] + self.hold <= now):
            ready.append(heapq.heappop(self.heap)[4])
        return ready


def read_logs(
    client: RunPodClient,
    target: Target,
    workers: Sequence[str],
    emit: Callable[[LogEvent], None],
    *,
    follow: bool,
    stop: threading.Event | None = None,
    progress: Callable[[str], None] = lambda line: None,
    timing: Timing | None = None,
) -> None:
    """Emit the merged tail of `workers`' logs, then with `follow` their new lines (and those of
    workers that appear) until `stop` is set or Ctrl-C; DeployError when a stream fails."""
    timing = timing or Timing()
    stop = stop or threading.Event()
    since = target.since or rfc3339(time.time())  # for workers that start while following
    streams = _Streams(client, target, follow, progress)
    try:
        for worker in workers:
            streams.open(worker, target.since)
        backfill = _backfill(streams, timing, stop)
        keep = len(backfill) if target.tail is None else target.tail
        for event in backfill[len(backfill) - keep :] if keep else []:
            emit(event)
        if follow:
            _follow(streams, emit, since, timing, stop)
    finally:
        streams.close()


def _backfill(streams: _Streams, timing: Timing, stop: threading.Event) -> list[LogEvent]:
    """Every line the streams send until each has settled, in time order (ties: by worker;
    the sort is stable, so each stream keeps its own order)."""
    lines: list[LogEvent] = []
    deadline = time.monotonic() + timing.backfill_limit
    while not stop.is_set() and time.monotonic() < deadline:
        if streams.settled(timing.settle):
            break
        event = streams.next(timeout=0.05)
        if event is not None:
            lines.append(event)
    return sorted(lines, key=lambda e: (e.at, e.worker))


def _follow(
    streams: _Streams,
    emit: Callable[[LogEvent], None],
    since: str,
    timing: Timing,
    stop: threading.Event,
) -> None:
    """Live lines in time order (each held `timing.hold` s), and new workers' streams."""
    merge = _Merge(timing.hold)
    next_poll = time.monotonic() + timing.poll
    while not stop.is_set():
        now = time.monotonic()
        for event in merge.due(now):
            emit(event)
        if now >= next_poll and streams.target.worker is None:
            next_poll = now + timing.poll
            for worker in list_workers(streams.client, streams.target):
                streams.open_new(str(worker.get("id")), since)
        arrived = streams.next(timeout=0.05)
        if arrived is not None:
            merge.push(arrived, time.monotonic())
    for event in merge.due(0, everything=True):
        emit(event)


class _Streams:
    """The readers of the streams being read, the queue they fill, and what is known of each."""

    def __init__(
        self,
        client: RunPodClient,
        target: Target,
        follow: bool,
        progress: Callable[[str], None],
    ) -> None:
        self.client, self.target, self.follow, self.progress = client, target, follow, progress
        self.queue: queue.Queue[Any] = queue.Queue()
        self.streams: dict[str, _Stream] = {}
        self.full = False

    def open(self, worker: str, since: str | None) -> None:
        query: dict[str, str | int] = {} if self.target.tail is None else {"tail": self.target.tail}
        if since:
            query["since"] = since
        reader = StreamReader(
            self.client, self.target, worker, query, self.queue, follow=self.follow
        )
        self.streams[worker] = _Stream(reader)
        reader.start()

    def open_new(self, worker: str, since: str) -> None:
        """Follow a worker that appeared (at most MAX_STREAMS in all)."""
        if worker in self.streams:
            return
        if len(self.streams) >= MAX_STREAMS:
            if not self.full:
                self.full = True
                self.progress(f"following {MAX_STREAMS} workers already; not {worker} and later")
            return
        self.progress(f"worker {worker} appeared; following its log")
        self.open(worker, since)

    def next(self, timeout: float) -> LogEvent | None:
        """The next line (None after `timeout` s, or after news of a stream)."""
        try:
            item = self.queue.get(timeout=timeout)
        except queue.Empty:
            return None
        now = time.monotonic()
        stream = self.streams[item.worker]
        if isinstance(item, LogEvent):
            stream.last_event_at = now
            return item
        if isinstance(item, _Opened):
            stream.opened_at = now
        elif isinstance(item, _Dropped):
            stream.opened_at = None
        elif isinstance(item, _Done):
            stream.done = True
            if item.error is not None:
                raise DeployError(f"Lost the log stream of worker {item.worker}: {item.error}")
            if self.follow:
                self.progress(f"worker {item.worker}: its log stream ended (the worker is gone)")
        return None

    def settled(self, settle: float) -> bool:
        """Whether every stream has sent its backfill: quiet for `settle` s since it opened and
        since its last line, or ended."""
        now = time.monotonic()
        return all(
            stream.done
            or (
                stream.opened_at is not None
                and now - max(stream.opened_at, stream.last_event_at or 0.0) >= settle
            )
            for stream in self.streams.values()
        )

    def close(self) -> None:
        for stream in self.streams.values():
            stream.reader.close()
        for stream in self.streams.values():
            stream.reader.join(timeout=2)


def rfc3339(at: float) -> str:
    """`2026-12-02T00:10:01.123Z`."""
    moment = datetime.fromtimestamp(at, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def list_workers(client: RunPodClient, target: Target) -> list[dict[str, Any]]:
    """The endpoint's workers, as `GET /v2/serverless/{id}/workers` lists them."""
    answer = client.list_workers(target.endpoint_id, name=target.name)
    workers = answer.get("workers")
    return [w for w in workers if isinstance(w, dict)] if isinstance(workers, list) else []
