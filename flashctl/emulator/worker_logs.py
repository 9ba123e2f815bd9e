"""Each emulated worker's log, streamed as RunPod streams it (server-sent events) at
`GET /v2/serverless/{id}/workers/{workerId}/logs`.

What writes into it (thread-safe; the emulator's simulated workers, and real worker output):

    logs = WorkerLogs()
    logs.append("ep123", "w1", "Model loaded.")                   # now, source "container"
    logs.append("ep123", "w1", "OOM", source="system", at=time.time())
    logs.begin("ep123", "w1", "worker w1 started", at=started)    # the first line, once
    logs.forget("ep123")                                          # the endpoint was deleted

What reads it (the route, tests):

    lines, cursor = logs.read("ep123", "w1", tail=100)            # the last 100 lines
    lines, cursor = logs.read("ep123", "w1", since=t)             # at or after t (epoch s)
    lines, cursor = logs.read("ep123", "w1", after="2026-06-01T12:05:04.123Z/000000000042")
    lines = await logs.wait("ep123", "w1", cursor, timeout=1.0)   # newer lines, or [] after a wake

Each (endpoint, worker) stream keeps its last MAX_LINES lines, in memory, until its endpoint is
deleted (a worker that stopped keeps its log, readable by its id). A line gets the next sequence
number of its stream and a time no earlier than the line before its, so time order is append
order and event ids `<ts>/<seq>` (`2026-06-01T12:05:04.123Z/000000000042`) grow. An SSE event is

    id: 2026-06-01T12:05:04.123Z/000000000042
    data: {"ts":"2026-06-01T12:05:04.123Z","source":"container","line":"Worker ready."}

The query follows RunPod's document: `Last-Event-ID` (an event id, or a time) resumes after that
event and takes precedence over `since` (RFC 3339: lines at or after it), which takes precedence
over `tail` (the last N lines, default 100, 0..5000); `source` (container, system) filters. The
stream then stays open and sends new lines as they come (a `: keep-alive` comment when idle),
until the client leaves or the server stops. `drop` (a test hook) cuts a stream mid-way, as a
lost connection does, so that a client's reconnection can be tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

MAX_LINES = 5000  # per stream; RunPod's largest `tail`
DEFAULT_TAIL = 100
SOURCES = ("container", "system")
KEEPALIVE = 15.0  # seconds of silence before a `: keep-alive` comment
BATCH = 256  # events per write when many are ready at once


class LogLine(NamedTuple):
    seq: int
    at: float  # epoch seconds
    source: str
    line: str

    @property
    def ts(self) -> str:
        return timestamp(self.at)

    @property
    def event_id(self) -> str:
        return f"{self.ts}/{self.seq:012d}"

    def event(self) -> bytes:
        """This line as one SSE event."""
        data = json.dumps(
            {"ts": self.ts, "source": self.source, "line": self.line}, separators=(",", ":")
        )
        return f"id: {self.event_id}\ndata: {data}\n\n".encode()


@dataclass(frozen=True)
class Query:
    """Which lines a request starts with (see the module docstring for the precedence)."""

    tail: int = DEFAULT_TAIL
    since: float | None = None
    after: str | None = None  # Last-Event-ID
    source: str | None = None


class _Stream:
    def __init__(self) -> None:
        self.lines: deque[LogLine] = deque(maxlen=MAX_LINES)
        self.seq = 0
        self.waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.drop_after: int | None = None  # events still to send before a cut


class WorkerLogs:
    """The log streams of every worker of the emulated account, in memory."""

    def __init__(self) -> None:
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._lock = threading.Lock()
        self.closed = False  # the server is stopping: streams end

    # -- writing ------------------------------------------------------------------------------

    def append(
        self,
        endpoint_id: str,
        worker_id: str,
        line: str,
        *,
        at: float | None = None,
        source: str = "container",
    ) -> LogLine:
        """Add one line (a trailing newline is dropped) to a worker's stream and wake its
        readers. `at` (epoch seconds, default now) is raised to the previous line's time."""
        if source not in SOURCES:
            raise ValueError(f"unknown log source {source!r}; expected one of {SOURCES}")
        with self._lock:
            stream = self._streams.setdefault((endpoint_id, worker_id), _Stream())
            return self._add(stream, line, at, source)

    def begin(self, endpoint_id: str, worker_id: str, line: str, *, at: float) -> None:
        """Write a worker's first line (a "system" one), unless its stream has lines already."""
        with self._lock:
            stream = self._streams.setdefault((endpoint_id, worker_id), _Stream())
            if stream.seq == 0:
                self._add(stream, line, at, "system")

    def _add(self, stream: _Stream, line: str, at: float | None, source: str) -> LogLine:
        stream.seq += 1
        when = time.time() if at is None else at
        if stream.lines:
            when = max(when, stream.lines[-1].at)
        added = LogLine(stream.seq, when, source, line.rstrip("\r\n"))
        stream.lines.append(added)
        _wake(stream)
        return added

    def forget(self, endpoint_id: str) -> None:
        """Drop every stream of an endpoint (deleted)."""
        with self._lock:
            for key in [key for key in self._streams if key[0] == endpoint_id]:
                _wake(self._streams.pop(key))

    def close(self) -> None:
        """End every open stream properly (the server is stopping); callable from any thread."""
        with self._lock:
            self.closed = True
            for stream in self._streams.values():
                _wake(stream)

    def clear(self) -> None:
        with self._lock:
            for stream in self._streams.values():
                _wake(stream)
            self._streams.clear()

    def drop(self, endpoint_id: str, worker_id: str, after: int = 0) -> None:
        """Cut the worker's stream being served (or the next one opened) after `after` more
        events, without ending it properly: the client sees a lost connection."""
        with self._lock:
            stream = self._streams.setdefault((endpoint_id, worker_id), _Stream())
            stream.drop_after = after
            _wake(stream)

    # -- reading ------------------------------------------------------------------------------

    def has(self, endpoint_id: str, worker_id: str) -> bool:
        """Whether the worker has written anything (its stream can be read)."""
        stream = self._streams.get((endpoint_id, worker_id))
        return stream is not None and stream.seq > 0

    def read(
        self, endpoint_id: str, worker_id: str, query: Query | None = None
    ) -> tuple[list[LogLine], int]:
        """The lines a request starts with, and the sequence number to wait after."""
        query = query or Query()
        with self._lock:
            stream = self._streams.get((endpoint_id, worker_id))
            lines = list(stream.lines) if stream else []
            cursor = stream.seq if stream else 0
        if query.after is not None:
            seq, at = parse_event_id(query.after)
            if seq is not None:
                lines = [line for line in lines if line.seq > seq]
            else:
                lines = [line for line in lines if line.at > at]
        elif query.since is not None:
            lines = [line for line in lines if line.at >= query.since]
        lines = [line for line in lines if query.source in (None, line.source)]
        if query.after is None and query.since is None:
            lines = lines[len(lines) - query.tail :] if query.tail else []
        return lines, cursor

    async def wait(
        self, endpoint_id: str, worker_id: str, after: int, timeout: float
    ) -> list[LogLine]:
        """The lines after sequence number `after`, waiting up to `timeout` seconds for one;
        [] after a timeout or a wake with nothing new (a drop, a forget)."""
        key = (endpoint_id, worker_id)
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            stream = self._streams.get(key)
            if stream is None:
                return []
            if stream.seq > after:
                return [line for line in stream.lines if line.seq > after]
            stream.waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter[1].wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._lock:
                if waiter in stream.waiters:
                    stream.waiters.remove(waiter)
        with self._lock:
            return [line for line in stream.lines if line.seq > after]

    def cut_due(self, endpoint_id: str, worker_id: str) -> bool:
        """Whether the stream must be cut now (a drop whose count has run out); consumes it."""
        with self._lock:
            stream = self._streams.get((endpoint_id, worker_id))
            if stream is None or stream.drop_after != 0:
                return False
            stream.drop_after = None
            return True

    def sent(self, endpoint_id: str, worker_id: str) -> None:
        """One event was sent: counts down a pending drop."""
        with self._lock:
            stream = self._streams.get((endpoint_id, worker_id))
            if stream is not None and stream.drop_after:
                stream.drop_after -= 1


def _wake(stream: _Stream) -> None:
    for loop, event in stream.waiters:
        with contextlib.suppress(RuntimeError):  # that loop has closed: its reader is gone
            loop.call_soon_threadsafe(event.set)


def begin_workers(logs: WorkerLogs, endpoint_id: str, workers: Iterable[Mapping[str, Any]]) -> None:
    """A simulated worker's first line, at its start: `worker 8g3n5t6r started (image
    ghcr.io/acme/api:2, release 2)`. `workers` are the state's live worker records."""
    for worker in workers:
        text = (
            f"worker {worker['id']} started (image {worker['image']}, release {worker['version']})"
        )
        logs.begin(endpoint_id, str(worker["id"]), text, at=float(worker["startedAt"]))


def parse_query(params: Mapping[str, str], last_event_id: str | None) -> Query:
    """The query of a logs request; ValueError with RunPod's kind of message when invalid.

    >>> parse_query({"tail": "5", "source": "system"}, None)
    Query(tail=5, since=None, after=None, source='system')
    """
    tail_text = params.get("tail")
    tail = DEFAULT_TAIL
    if tail_text is not None:
        if not tail_text.isdigit() or int(tail_text) > MAX_LINES:
            raise ValueError(f"tail must be an integer from 0 to {MAX_LINES}, got {tail_text!r}")
        tail = int(tail_text)
    since_text = params.get("since")
    since = None if since_text is None else parse_time(since_text, "since")
    source = params.get("source")
    if source is not None and source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    after = last_event_id.strip() if last_event_id else None
    if after is not None:
        parse_event_id(after)
    return Query(tail, since, after, source)


def parse_event_id(text: str) -> tuple[int | None, float]:
    """(sequence number, time) of an event id `<ts>/<seq>`; (None, time) of a bare time."""
    ts, sep, seq = text.partition("/")
    if sep and not seq.isdigit():
        raise ValueError(f"Last-Event-ID {text!r} is not an event id of this stream")
    return (int(seq) if sep else None), parse_time(ts, "Last-Event-ID")


def parse_time(text: str, name: str) -> float:
    """Epoch seconds of an RFC 3339 time (`2026-06-01T12:05:04Z`, with or without fraction)."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{name} must be an RFC 3339 date-time, got {text!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{name} must have a time zone (Z or +hh:mm), got {text!r}")
    return parsed.timestamp()


def timestamp(at: float) -> str:
    """RFC 3339, UTC, milliseconds: `2026-06-01T12:05:04.123Z`."""
    moment = datetime.fromtimestamp(at, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class EventStream(Response):
    """The SSE response of one worker's log: the lines the query selects, then new ones as they
    come, until the client disconnects (or a drop cuts it, or the server stops)."""

    media_type = "text/event-stream"

    def __init__(self, logs: WorkerLogs, endpoint_id: str, worker_id: str, query: Query) -> None:
        super().__init__(
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            media_type=self.media_type,
        )
        del self.headers["content-length"]
        self.logs, self.endpoint_id, self.worker_id, self.query = (
            logs,
            endpoint_id,
            worker_id,
            query,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = (self.endpoint_id, self.worker_id)

        async def body(data: bytes, more: bool = True) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": more})

        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        disconnected = asyncio.ensure_future(_disconnect(receive))
        try:
            lines, cursor = self.logs.read(*key, self.query)
            quiet_since = time.monotonic()
            while True:
                if lines:
                    cursor = max(cursor, lines[-1].seq)
                    events, cut = self._events(lines)
                    for start in range(0, len(events), BATCH):  # a backfill in few writes
                        await body(b"".join(events[start : start + BATCH]))
                        quiet_since = time.monotonic()
                    if cut:
                        return  # unfinished: the server closes the connection mid-stream
                if self.logs.cut_due(*key):
                    return
                if self.logs.closed:
                    await body(b"", more=False)
                    return
                if time.monotonic() - quiet_since >= KEEPALIVE:
                    await body(b": keep-alive\n\n")
                    quiet_since = time.monotonic()
                waiting = asyncio.ensure_future(self.logs.wait(*key, cursor, timeout=KEEPALIVE))
                await asyncio.wait({waiting, disconnected}, return_when=asyncio.FIRST_COMPLETED)
                if disconnected.done():
                    waiting.cancel()
                    return
                lines = waiting.result()
                if not lines and (self.logs.closed or not self.logs.has(*key)):  # stopping, deleted
                    await body(b"", more=False)
                    return
        finally:
            disconnected.cancel()

    def _events(self, lines: list[LogLine]) -> tuple[list[bytes], bool]:
        """The events of `lines` that the query keeps, up to a drop that is due: (events, cut)."""
        key = (self.endpoint_id, self.worker_id)
        events: list[bytes] = []
        for line in lines:
            if self.query.source not in (None, line.source):
                continue
            if self.logs.cut_due(*key):
                return events, True
            events.append(line.event())
            self.logs.sent(*key)
        return events, False


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
