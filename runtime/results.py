"""What a handler returns, encoded for the wire.

JSON-able values -> ``application/json`` (or msgpack when the client's Accept asks for it),
``bytes`` -> ``application/octet-stream``, generators -> NDJSON lines or server-sent events.
A Starlette ``Response`` is sent as it is by the app.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import decimal
import enum
import inspect
import json
import uuid
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import anyio.to_thread
import msgpack

JSON = b"application/json"
MSGPACK = b"application/msgpack"
OCTET_STREAM = b"application/octet-stream"
NDJSON = b"application/x-ndjson"
EVENT_STREAM = b"text/event-stream"

BINARY = (bytes, bytearray, memoryview)


def plain(value: Any) -> Any:
    """JSON's ``default`` hook: the common non-JSON types ML and backend code return."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if hasattr(value, "model_dump"):  # pydantic models
        return value.model_dump(mode="json")
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# Compact separators and a reused encoder: this runs on every response. NaN is refused because
# JSON parsers elsewhere reject it; such a result is a 500, not a silently invalid document.
_json = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=plain
).encode


def dump_json(value: Any) -> bytes:
    return _json(value).encode()


def dump_msgpack(value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, default=plain, use_bin_type=True)
    return packed


def wants_msgpack(accept: bytes | None) -> bool:
    return accept is not None and b"msgpack" in accept


def wants_events(accept: bytes | None) -> bool:
    return accept is not None and b"text/event-stream" in accept


def is_stream(value: Any) -> bool:
    return inspect.isgenerator(value) or inspect.isasyncgen(value)


def event_chunk(item: Any) -> bytes:
    """``{"t": 1}`` -> ``b'data: {"t":1}\\n\\n'``; bytes pass through as the client formats them."""
    if isinstance(item, BINARY):
        return bytes(item)
    return b"data: " + dump_json(item) + b"\n\n"


def line_chunk(item: Any) -> bytes:
    """``{"t": 1}`` -> ``b'{"t":1}\\n'``; bytes pass through as they are."""
    if isinstance(item, BINARY):
        return bytes(item)
    return dump_json(item) + b"\n"


def error_chunk(events: bool, body: dict[str, Any]) -> bytes:
    """How a failure after the first chunk is told: the status line has already been sent."""
    if events:
        return b"event: error\ndata: " + dump_json(body) + b"\n\n"
    return dump_json({"error": body}) + b"\n"


_DONE = object()


def _next(iterator: Iterator[Any]) -> Any:
    return next(iterator, _DONE)


async def chunks(stream: Any, events: bool) -> AsyncGenerator[bytes, None]:
    """Encoded chunks of a sync or async generator; sync ones advance in the thread pool
    because each step may block (a model producing its next token)."""
    encode = event_chunk if events else line_chunk
    if inspect.isasyncgen(stream):
        try:
            async for item in stream:
                yield encode(item)
        finally:
            await stream.aclose()
        return
    try:
        while True:
            # abandon_on_cancel: a deadline or a departed client need not wait for a slow step
            item = await anyio.to_thread.run_sync(_next, stream, abandon_on_cancel=True)
            if item is _DONE:
                return
            yield encode(item)
    finally:
        # ValueError: still running in an abandoned thread; the generator is collected later
        with contextlib.suppress(ValueError):
            stream.close()
