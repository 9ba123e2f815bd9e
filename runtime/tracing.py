"""W3C Trace Context for every request, and spans exported over OTLP/HTTP JSON when
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set.

A request's ``traceparent`` is continued: its server span gets the caller's trace id and the
caller's span as parent. A missing or malformed one starts a new trace (never an error). The
server span goes back in the response's ``traceparent`` and its trace id in the log line.

Export needs no OpenTelemetry SDK: a request appends a tuple to a bounded queue (full: the
span is dropped and counted); a daemon thread formats batches of them as OTLP JSON and sends
them over one kept-alive connection with the standard library. It reads the SDK's environment
variables: ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_EXPORTER_OTLP_TIMEOUT``,
``OTEL_BSP_SCHEDULE_DELAY``, ``OTEL_BSP_MAX_QUEUE_SIZE``, ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``,
``OTEL_SDK_DISABLED``, ``OTEL_TRACES_EXPORTER=none``, and ``OTEL_TRACES_SAMPLER`` with
``OTEL_TRACES_SAMPLER_ARG`` (which requests are exported; see ``Sampler``).

Sampling decides only what is exported: every request still gets its trace id, in the log line
and in the response's ``traceparent`` (whose sampled flag tells the caller the decision), and a
continued trace keeps the caller's trace id whatever is decided.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Mapping
from typing import Any, NamedTuple

from . import logs

_TRACEPARENT = re.compile(rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE = b"0" * 32
_ZERO_SPAN = b"0" * 16
# span names use the method only when it is a known one (a client could send any token)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
MAX_TRACESTATE = 512  # bytes kept from a tracestate header; longer ones are dropped


class Parent(NamedTuple):
    trace_id: bytes  # 32 lower-case hex digits
    span_id: bytes  # 16
    sampled: bool
    state: bytes  # the caller's tracestate, or b""


def parse_traceparent(value: bytes, state: bytes | None = None) -> Parent | None:
    """The caller's span from a ``traceparent`` header, ``None`` when it is not a valid one.

    >>> parse_traceparent(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").sampled
    True
    """
    found = _TRACEPARENT.fullmatch(value.strip(b" \t"))
    if found is None:
        return None
    version, trace_id, span_id, flags, rest = found.groups()
    # version ff is invalid; version 00 has nothing after the flags; later ones may add fields
    if version == b"ff" or (version == b"00" and rest is not None):
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    if state is None or len(state) > MAX_TRACESTATE:
        state = b""
    return Parent(trace_id, span_id, bool(int(flags, 16) & 1), state)


# Ids come from ``random``, as the OpenTelemetry SDK makes them: a tenth of the cost of
# os.urandom's system call. They identify, they do not protect (W3C Trace Context asks for
# randomness, not secrecy), and ``random`` is reseeded in a forked worker process.
_bits = random.getrandbits


def new_ids() -> tuple[bytes, bytes]:
    """A random trace id and span id, as hex (never the all-zero ids W3C rules invalid)."""
    raw = b"%048x" % _bits(192)
    while raw[:32] == _ZERO_TRACE or raw[32:] == _ZERO_SPAN:
        raw = b"%048x" % _bits(192)
    return raw[:32], raw[32:]


def new_span_id() -> bytes:
    """A random span id, as hex."""
    raw = b"%016x" % _bits(64)
    while raw == _ZERO_SPAN:
        raw = b"%016x" % _bits(64)
    return raw


SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)


class Sampler(NamedTuple):
    """Which server spans are recorded and exported, as OpenTelemetry's built-in samplers
    decide (``OTEL_TRACES_SAMPLER``, default ``parentbased_always_on``): ``ratio`` of new
    traces, chosen by trace id (TraceIdRatioBased: its low 64 bits below ``ratio * 2**64``,
    so every service sampling at a ratio agrees on a trace); with ``parent_based`` a continued
    trace follows the caller's sampled flag instead.

    >>> Sampler(0.5, parent_based=False).sampled(b"0" * 16 + b"7" + b"f" * 15, None)
    True
    """

    ratio: float
    parent_based: bool = True

    def sampled(self, trace_id: bytes, parent: Parent | None) -> bool:
        if parent is not None and self.parent_based:
            return parent.sampled
        ratio = self.ratio
        if ratio >= 1.0:
            return True
        if ratio <= 0.0:
            return False
        return int(trace_id[16:], 16) < round(ratio * 18446744073709551616)  # 2**64


def sampler_from_env(env: Mapping[str, str]) -> Sampler:
    """The sampler ``OTEL_TRACES_SAMPLER`` and ``OTEL_TRACES_SAMPLER_ARG`` name (the ratio,
    0 to 1, for the ``traceidratio`` ones; 1 when missing). An unknown sampler or a bad ratio
    is logged once and the default used, as the SDK does: tracing never stops a service."""
    name = env.get("OTEL_TRACES_SAMPLER", "").strip().lower() or "parentbased_always_on"
    if name not in SAMPLERS:
        logs.emit(
            "trace_sampler_unknown",
            level="warning",
            sampler=name,
            detail=f"using parentbased_always_on; known: {', '.join(SAMPLERS)}",
        )
        name = "parentbased_always_on"
    parent_based = name.startswith("parentbased_")
    kind = name.removeprefix("parentbased_")
    if kind != "traceidratio":
        return Sampler(1.0 if kind == "always_on" else 0.0, parent_based)
    text = env.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    try:
        ratio = float(text) if text else 1.0
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:  # NaN fails this too
        logs.emit(
            "trace_sampler_arg_invalid",
            level="warning",
            value=text[:64],
            detail="OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1; using 1",
        )
        ratio = 1.0
    return Sampler(ratio, parent_based)


class Span(NamedTuple):
    """What a finished server span needs to become OTLP (``encode_span``, in the exporter's
    thread). The service queues plain tuples in this order: cheaper to make on the loop."""

    trace_id: bytes
    span_id: bytes
    parent: Parent | None
    end_ns: int
    duration_s: float
    method: str  # as the client sent it
    route: str | None
    path: str
    scheme: str
    http_version: str
    status: int
    error: str | None


def _int_from_env(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        value = int(env.get(name, "").strip() or default)
    except ValueError:
        return default
    return value if value > 0 else default


def _pairs(text: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` (percent-encoded values), as the OTEL_* variables write them."""
    pairs: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            pairs[key.strip()] = urllib.parse.unquote(value.strip())
    return pairs


def traces_url(env: Mapping[str, str]) -> str | None:
    """Where spans go: the traces endpoint as given, or ``/v1/traces`` below the base one."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return None
    url = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if url:
        return url
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return base.rstrip("/") + "/v1/traces" if base else None


def _safe_url(url: str) -> str:
    """The URL without user info or query, for log lines (they may carry credentials)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _attribute(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


class Exporter:
    """The bounded queue of finished spans and the thread that sends them in batches."""

    def __init__(
        self, url: str, service: str, version: str, env: Mapping[str, str] | None = None
    ) -> None:
        env = os.environ if env is None else env
        self.url = url
        self.max_queue = _int_from_env(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)
        batch_size = _int_from_env(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)
        self.batch_size = min(batch_size, self.max_queue)
        self.delay = _int_from_env(env, "OTEL_BSP_SCHEDULE_DELAY", 5000) / 1000.0
        self.timeout = _int_from_env(env, "OTEL_EXPORTER_OTLP_TIMEOUT", 10000) / 1000.0
        headers = {
            **_pairs(env.get("OTEL_EXPORTER_OTLP_HEADERS", "")),
            **_pairs(env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "")),
        }
        self.headers = {**headers, "Content-Type": "application/json"}
        self.sampler = sampler_from_env(env)
        attributes = {"service.version": version, **_pairs(env.get("OTEL_RESOURCE_ATTRIBUTES", ""))}
        attributes["service.name"] = env.get("OTEL_SERVICE_NAME", "").strip() or service
        resource = {"attributes": [_attribute(k, v) for k, v in sorted(attributes.items())]}
        self._head = (
            f'{{"resourceSpans":[{{"resource":{json.dumps(resource, separators=(",", ":"))},'
            '"scopeSpans":[{"scope":{"name":"flashctl_runtime"},"spans":['
        )
        self.queue: deque[Span | tuple[Any, ...]] = deque()
        self.dropped = 0  # spans that found the queue full
        self.failed = 0  # spans in batches the collector did not take
        self.exported = 0
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._last_failure_log = -1e9
        self._connection: Any = None  # http.client's, kept alive between batches
        self._target = "/"

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="otlp-exporter", daemon=True)
            self._thread.start()

    def submit(self, span: Span | tuple[Any, ...]) -> None:
        """Queue a finished span (its fields in ``Span``'s order); never blocks. Called on
        the event loop: the exporter's thread formats it."""
        queue = self.queue
        if len(queue) >= self.max_queue:
            self.dropped += 1
            return
        queue.append(span)
        if len(queue) == self.batch_size:
            self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (within ``timeout`` seconds) and stop the thread."""
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        else:
            self._send_all()
            self._disconnect()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.delay)
            self._wake.clear()
            self._send_all()
        self._send_all()
        self._disconnect()

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _send_all(self) -> None:
        while self.queue:
            batch = [self.queue.popleft() for _ in range(min(self.batch_size, len(self.queue)))]
            self._send(batch)

    def _send(self, batch: list[Span | tuple[Any, ...]]) -> None:
        body = self.payload([encode_span(span) for span in batch])
        try:
            status = self._post(body)
        except Exception as err:  # OSError, http.client's errors, a bad URL: never fatal
            self._failed(len(batch), type(err).__name__, None)
            return
        if 200 <= status < 300:
            self.exported += len(batch)
        else:
            self._failed(len(batch), "HTTPError", status)

    def _post(self, body: bytes) -> int:
        """POST one batch on the kept-alive connection (a new one when there is none, or when
        the collector closed it while idle: then once more on a fresh one)."""
        for _ in range(2):
            connection, fresh = self._connection, self._connection is None
            if connection is None:
                connection = self._connection = self._connect()
            try:
                connection.request("POST", self._target, body, self.headers)
                response = connection.getresponse()
                response.read()
            except Exception:
                connection.close()
                self._connection = None
                if fresh:
                    raise
                continue
            if response.will_close:
                connection.close()
                self._connection = None
            return int(response.status)
        raise ConnectionError("the collector closed the connection twice")

    def _connect(self) -> Any:
        # http.client (and ssl for https): only services that export pay for importing them
        import http.client

        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {_safe_url(self.url)}")
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if parts.scheme == "https":
            return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeout)
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)

    def _failed(self, spans: int, error: str, status: int | None) -> None:
        self.failed += spans
        now = time.monotonic()
        if now - self._last_failure_log >= 60.0:  # a dead collector: one line a minute
            self._last_failure_log = now
            logs.emit(
                "trace_export_failed",
                level="warning",
                url=_safe_url(self.url),
                error=error,
                status=status,
                spans=spans,
            )

    def payload(self, batch: list[str]) -> bytes:
        """The OTLP ``ExportTraceServiceRequest`` for ``batch`` (spans from ``encode_span``),
        in its JSON mapping."""
        return f"{self._head}{','.join(batch)}]}}]}}]}}".encode()

    def metric_lines(self, worker: str) -> list[str]:
        """The exporter's counters for ``/metrics``."""
        lines = [
            "# HELP flashctl_trace_spans_total Server spans by what became of them.",
            "# TYPE flashctl_trace_spans_total counter",
        ]
        for outcome, count in (
            ("dropped", self.dropped),
            ("exported", self.exported),
            ("failed", self.failed),
        ):
            lines.append(f'flashctl_trace_spans_total{{outcome="{outcome}",{worker}}} {count}')
        return lines


def _string(key: str, value: str) -> str:
    return f'{{"key":"{key}","value":{{"stringValue":{logs.quote(value)}}}}}'


# What spans of one (method, path, scheme, version, route, status, error) share: their name,
# attributes and status, formatted once. Bounded: the path is the client's.
_SHARED: dict[tuple[Any, ...], str] = {}
MAX_SHARED = 1024


def encode_span(span: Span | tuple[Any, ...]) -> str:
    """One span in OTLP's JSON mapping, formatted directly (a third of the cost of building
    dicts for ``json.dumps``: this runs for every exported request), the part most spans share
    with others taken from ``_SHARED``."""
    (trace_id, span_id, parent, end_ns, duration_s,
     method, route, path, scheme, version, status, error) = span  # fmt: skip
    key = (method, route, path, scheme, version, status, error)
    shared = _SHARED.get(key)
    if shared is None:
        if len(_SHARED) >= MAX_SHARED:
            _SHARED.clear()
        shared = _SHARED[key] = _shared_part(*key)
    # flags: sampled (only sampled spans are exported) and whether the parent is remote (bit 9)
    extra = ',"flags":257'
    if parent is not None:
        extra = f',"flags":769,"parentSpanId":"{parent.span_id.decode()}"'
        if parent.state:
            extra += f',"traceState":{logs.quote(parent.state.decode("latin-1"))}'
    start_ns = end_ns - int(duration_s * 1e9)
    return (
        f'{{"traceId":"{trace_id.decode()}","spanId":"{span_id.decode()}",'
        f'"startTimeUnixNano":"{start_ns}","endTimeUnixNano":"{end_ns}",'
        f"{shared}{extra}}}"
    )


def _shared_part(
    method: str,
    route: str | None,
    path: str,
    scheme: str,
    version: str,
    status: int,
    error: str | None,
) -> str:
    known = method in METHODS  # a client's other tokens: "_OTHER", and "HTTP" in the name
    name = method if known else "HTTP"
    attributes = [
        _string("http.request.method", method if known else "_OTHER"),
        _string("url.path", path),
        _string("url.scheme", scheme),
        _string("network.protocol.version", version),
    ]
    if route is not None:
        attributes.append(_string("http.route", route))
    if status:
        attributes.append(
            f'{{"key":"http.response.status_code","value":{{"intValue":"{status}"}}}}'
        )
    failed = status >= 500 or status == 0
    error = error or (str(status) if failed and status else None)
    if error is not None:
        attributes.append(_string("error.type", error))
    code = '{"code":2}' if failed else "{}"  # STATUS_CODE_ERROR, else unset
    return (
        f'"name":{logs.quote(name if route is None else f"{name} {route}")},"kind":2,'
        f'"attributes":[{",".join(attributes)}],"status":{code}'
    )


def exporter_from_env(service: str, version: str) -> Exporter | None:
    url = traces_url(os.environ)
    return None if url is None else Exporter(url, service, version)
