"""What a handler returns, encoded for the wire.

JSON-able values -> ``application/json`` (or msgpack when the client's Accept asks for it),
``bytes`` -> ``application/octet-stream``. Generators are sent by ``streams``; a Starlette
``Response`` is sent as it is.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import inspect
import json
import math
import uuid
from typing import Any

import msgpack
from starlette.responses import Response

from .errors import HTTPError

JSON = b"application/json"
MSGPACK = b"application/msgpack"
OCTET_STREAM = b"application/octet-stream"
NDJSON = b"application/x-ndjson"
EVENT_STREAM = b"text/event-stream"

BINARY = (bytes, bytearray, memoryview)


def enveloped(result: Any, request_id: bytes) -> Any:
    """A result for a request sent in RunPod's ``{"input": ...}`` envelope, answered as RunPod's
    ``/runsync`` answers: ``{"id", "status": "COMPLETED", "output"}``, so callers that read
    ``output`` keep working. Bytes, streams and ``Response`` objects go out as they are."""
    if isinstance(result, (*BINARY, Response)) or is_stream(result):
        return result
    return {"id": request_id.decode(), "status": "COMPLETED", "output": result}


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
    if isinstance(value, BINARY):  # msgpack carries bytes (as a client can send them), JSON not
        raise HTTPError(
            406,
            "The response holds bytes, which JSON cannot carry: send Accept: application/msgpack",
        )
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# Compact separators and a reused encoder: this runs on every response. JSONEncoder.encode
# makes a new C encoder per call (half the cost of encoding a small dict); json's C encoder,
# made once, saves that. markers=None: no cycle check, a cycle ends in RecursionError as deep
# nesting does.
_encode_string = json.encoder.encode_basestring
_chunks = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, plain, _encode_string, None, ":", ",", False, False, False
)


def _json(value: Any) -> str:
    if type(value) is str:
        return _encode_string(value)
    return "".join(_chunks(value, 0))


def dump_json(value: Any) -> bytes:
    """``{"x": 1.5}`` -> ``b'{"x":1.5}'``. JSON has no NaN or infinity: such floats are sent
    as ``null``, as JavaScript's ``JSON.stringify`` does, rather than as tokens that parsers
    reject (or a 500 for a model whose output overflowed)."""
    try:
        return _json(value).encode()
    except ValueError:  # only then pay for a second pass
        return _json(_finite(value)).encode()
    except RecursionError:  # ~1,000 levels, as a msgpack body up to its 1,024 may hold
        raise HTTPError(
            406, "The response is nested too deeply for JSON: send Accept: application/msgpack"
        ) from None


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if value is None or isinstance(value, (str, int)):
        return value
    try:
        return _finite(plain(value))
    except TypeError:
        return value  # not JSON-able at all: the encoder says so


def _msgpack_default(value: Any) -> Any:
    if isinstance(value, int):  # only those past 64 bits get here, as a client may send in JSON
        raise HTTPError(
            406, "The response has an integer msgpack cannot carry: send Accept: application/json"
        )
    return plain(value)


def dump_msgpack(value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, default=_msgpack_default, use_bin_type=True)
    return packed


def wants_msgpack(accept: bytes | None) -> bool:
    return accept is not None and b"msgpack" in accept


def wants_events(accept: bytes | None) -> bool:
    return accept is not None and b"text/event-stream" in accept


def is_stream(value: Any) -> bool:
    return inspect.isgenerator(value) or inspect.isasyncgen(value)
