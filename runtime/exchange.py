"""One request and its response as the runtime sees them: the request id, the trace context,
the timer, what was sent, and the log line that sums it up."""

from __future__ import annotations

import binascii
import random
import re
import time
import traceback
from collections.abc import Iterable
from typing import Any

from starlette.types import Message, Scope, Send

from . import logs, tracing
from .errors import HTTPError
from .results import dump_json

Headers = list[tuple[bytes, bytes]]

# Ids from the client are echoed into headers and logs, so only sane ones are kept.
_SANE_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
_JSON = b"application/json"
_bits = random.getrandbits
_FRAMING = frozenset({b"content-length", b"transfer-encoding"})
_hex = binascii.hexlify  # a third of the cost of b"%080x" % number
_ZERO_TRACE = b"0" * 32
_ZERO_SPAN = b"0" * 16
# JSON string literals of the routes and methods log lines name (bounded: routes are the
# service's, methods a client's tokens, so only the standard ones are kept)
_QUOTED: dict[str, str] = {m: logs.quote(m) for m in tracing.METHODS}


class Exchange:
    __slots__ = (
        "accept",
        "bytes_in",
        "bytes_out",
        "content_length",
        "content_type",
        "error",
        "framings",
        "head_only",
        "method",
        "parent",
        "request_id",
        "route",
        "send",
        "span_id",
        "start",
        "started",
        "status",
        "trace_id",
        "traceback",
        "traceparent",
    )

    def __init__(self, scope: Scope, send: Send, sampler: tracing.Sampler | None = None) -> None:
        """``sampler``: whether the server span is recorded (exported), when spans are; with
        ``None`` none is and the sampled flag of a continued trace is passed on as it came."""
        self.start = time.perf_counter()
        self.send = send
        self.method: str = scope["method"]
        self.head_only = self.method == "HEAD"
        self.route: str | None = None
        self.status = 0
        self.started = False
        self.bytes_in = 0
        self.bytes_out = 0
        self.error: str | None = None
        self.traceback: str | None = None
        # Fields by name, the last one winning (names are lower case in ASGI); built in C,
        # cheaper than comparing each name in Python.
        headers = scope["headers"]
        fields = dict(headers)
        get = fields.get
        content_type = get(b"content-type")
        accept = get(b"accept")
        content_length = get(b"content-length")
        request_id = get(b"x-request-id")
        traceparent = get(b"traceparent")
        framings = (content_length is not None) + (b"transfer-encoding" in fields)
        if len(fields) != len(headers):  # a name repeated: count the framing fields one by one
            framings = sum(name in _FRAMING for name, _ in headers)
        self.content_type: bytes | None = content_type
        self.accept: bytes | None = accept
        self.content_length: bytes | None = content_length
        self.framings = framings  # Content-Length and Transfer-Encoding fields (wire.py)
        # One draw for the request id, trace id and span id: 80 random hex digits (see
        # tracing.new_ids); a request id is 32 of them, as uuid4().hex but a tenth of the cost.
        raw = _hex(_bits(320).to_bytes(40, "little"))
        if request_id is None or _SANE_ID.fullmatch(request_id) is None:
            request_id = raw[48:]
        self.request_id: bytes = request_id
        # The server span: the caller's trace continued, else a new one (a malformed
        # traceparent is ignored, as the W3C spec asks). Its own id goes back to the client.
        parent = (
            None
            if traceparent is None
            else tracing.parse_traceparent(traceparent, get(b"tracestate"))
        )
        self.parent = parent
        span_id = raw[:16]
        if parent is None:
            trace_id = raw[16:48]
            if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:  # never, but invalid
                trace_id, span_id = tracing.new_ids()
            sampled = sampler is not None and sampler.sampled(trace_id, None)
        else:
            trace_id = parent.trace_id
            if span_id == _ZERO_SPAN:
                span_id = tracing.new_span_id()
            sampled = parent.sampled if sampler is None else sampler.sampled(trace_id, parent)
        self.trace_id, self.span_id = trace_id, span_id
        self.traceparent = b"00-%s-%s-%s" % (trace_id, span_id, b"01" if sampled else b"00")

    def _timing(self) -> bytes:
        return b"app;dur=%.3f" % ((time.perf_counter() - self.start) * 1000.0)

    async def respond(
        self,
        status: int,
        body: bytes,
        content_type: bytes | None = _JSON,
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        """Send a complete response with the runtime's headers."""
        out: Headers = [
            (b"content-length", b"%d" % len(body)),
            (b"x-request-id", self.request_id),
            (b"traceparent", self.traceparent),
            (b"server-timing", self._timing()),
        ]
        if content_type is not None:
            out.append((b"content-type", content_type))
        out.extend(headers)
        self.status = status
        self.started = True
        await self.send({"type": "http.response.start", "status": status, "headers": out})
        self.bytes_out = len(body)
        await self.send({"type": "http.response.body", "body": b"" if self.head_only else body})

    async def fail(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        """Send the JSON error body every failure has: ``{"detail": ..., "request_id": ...}``."""
        request_id = self.request_id.decode()
        try:
            body = dump_json({"detail": detail, "request_id": request_id})
        except (TypeError, ValueError, HTTPError):  # a detail JSON cannot hold: say what it was
            body = dump_json({"detail": str(detail), "request_id": request_id})
        encoded = [
            (name.lower().encode("latin-1", "replace"), value.encode("latin-1", "replace"))
            for name, value in (headers or {}).items()
        ]
        await self.respond(status, body, _JSON, encoded)

    async def begin(self, status: int, content_type: bytes, headers: Headers) -> None:
        """Start a streamed response; ``chunk`` sends the pieces."""
        out: Headers = [
            (b"content-type", content_type),
            (b"x-request-id", self.request_id),
            (b"traceparent", self.traceparent),
            (b"server-timing", self._timing()),
            *headers,
        ]
        self.status = status
        self.started = True
        await self.send({"type": "http.response.start", "status": status, "headers": out})

    async def chunk(self, data: bytes, more: bool = True) -> None:
        self.bytes_out += len(data)
        body = b"" if self.head_only else data
        await self.send({"type": "http.response.body", "body": body, "more_body": more})

    async def relay(self, message: Message) -> None:
        """``send`` for a handler's own Starlette ``Response``: adds the runtime's headers."""
        kind = message["type"]
        if kind == "http.response.start":
            headers = list(message.get("headers", ()))
            names = {name.lower() for name, _ in headers}
            if b"x-request-id" not in names:
                headers.append((b"x-request-id", self.request_id))
            if b"traceparent" not in names:
                headers.append((b"traceparent", self.traceparent))
            headers.append((b"server-timing", self._timing()))
            message = {**message, "headers": headers}
            self.status = message["status"]
            self.started = True
        elif kind == "http.response.body":
            body = message.get("body", b"")
            self.bytes_out += len(body)
            if self.head_only and body:
                message = {**message, "body": b""}
        await self.send(message)

    def classify(self, err: Exception, user_code: bool) -> tuple[int, Any]:
        """Status and detail for ``err``, recorded for the log line: ``HTTPError`` keeps its
        own, a handler's ``ValueError`` is 400, anything else 500 (traceback logged only)."""
        self.error = type(err).__name__
        if isinstance(err, HTTPError):
            return err.status, err.detail
        if user_code and isinstance(err, ValueError):
            return 400, str(err) or "Bad Request"
        self.traceback = "".join(traceback.format_exception(err))
        return 500, "Internal Server Error"

    def sampled(self) -> bool:
        """Whether the server span is recorded: the caller's decision, else the service's."""
        return self.traceparent.endswith(b"1")

    def log_line(self, elapsed: float | None = None) -> str:
        """The request's log line, formatted directly: it is written for every request.

        Fields: ts, level, event, request_id, trace_id, span_id, method, route, status,
        exec_ms, bytes_in, bytes_out, error (exception type or null) and, after a 500,
        traceback. ``elapsed``: seconds since the request arrived, if already measured.
        """
        if elapsed is None:
            elapsed = time.perf_counter() - self.start
        status = self.status
        level = "error" if status >= 500 or status == 0 else "info"
        route = self.route
        route_text = "null" if route is None else (_ROUTES.get(route) or _quote_route(route))
        error = "null" if self.error is None else logs.quote(self.error)
        method = _QUOTED.get(self.method) or logs.quote(self.method)
        line = (
            f'{{"ts":"{logs.timestamp()}","level":"{level}","event":"request",'
            f'"request_id":"{self.request_id.decode()}","trace_id":"{self.trace_id.decode()}",'
            f'"span_id":"{self.span_id.decode()}","method":{method},'
            f'"route":{route_text},"status":{status or "null"},'
            f'"exec_ms":{elapsed * 1000.0:.3f},'
            f'"bytes_in":{self.bytes_in},"bytes_out":{self.bytes_out},"error":{error}'
        )
        if self.traceback is not None:
            return f'{line},"traceback":{logs.quote(self.traceback)}}}'
        return line + "}"


# Routes are templates (and /ping, the health path, ...): few, so each is quoted once.
_ROUTES: dict[str, str] = {}


def _quote_route(route: str) -> str:
    text = logs.quote(route)
    if len(_ROUTES) < 1024:
        _ROUTES[route] = text
    return text
