"""Request bodies: read under a size limit while streaming, then decode JSON, msgpack or a form."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgpack
from starlette.types import Message, Receive

from .errors import BodyTooLarge, ClientDisconnected, HTTPError, RequestValidationError

if TYPE_CHECKING:
    from .binding import Binding

MSGPACK_TYPES = frozenset(
    {"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"}
)
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"


FORMS = frozenset({MULTIPART, URLENCODED})

# Content-Type values a service sees are few (its clients'): each is parsed once. Bounded, as
# a client may send any.
_MEDIA_TYPES: dict[bytes, str] = {}


def media_type(content_type: bytes | None) -> str:
    """``b"application/json; charset=utf-8"`` -> ``"application/json"``."""
    if not content_type:
        return ""
    kind = _MEDIA_TYPES.get(content_type)
    if kind is None:
        kind = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
        if len(_MEDIA_TYPES) < 256:
            _MEDIA_TYPES[content_type] = kind
    return kind


def declared_length(value: bytes | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise HTTPError(400, "Content-Length is not a number") from None


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, refusing with 413 as soon as it passes ``limit``, so a 50 MB upload
    never sits in memory. The caller has already compared any Content-Length to ``limit``."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnected()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):  # the usual case: one message
        if len(body) > limit:
            raise BodyTooLarge(limit)
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class LimitedReceive:
    """Counts and caps the body for handlers that read it through their ``Request``."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._limit = limit
        self.size = 0

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self._limit:
                raise BodyTooLarge(self._limit)
        return message


class ReplayReceive:
    """Hands an already-read body to a ``Request`` parameter, then passes on the rest
    (``http.disconnect``) from the server."""

    def __init__(self, receive: Receive, body: bytes) -> None:
        self._receive = receive
        self._body: bytes | None = body

    async def __call__(self) -> Message:
        if self._body is None:
            return await self._receive()
        body, self._body = self._body, None
        return {"type": "http.request", "body": body, "more_body": False}


def decode_request(raw: bytes, kind: str, binding: Binding) -> tuple[Any, bool]:
    """The body (of media type ``kind``, not a form: see ``decode_form``) as ``binding`` takes
    it, and whether it came in RunPod's ``{"input": ...}``: ``None`` for a ``bytes`` handler (it
    gets ``raw``) and for a DELETE sent without a body; else the decoded value (an object of
    fields, or what a whole-body pydantic model validates)."""
    if binding.raw is not None or (binding.query_body and not raw):
        return None, False
    if binding.whole is not None:
        value = decode_value(raw, kind) if raw else None
        return binding.unwrap(value)
    if binding.envelope is not None and raw:
        value, enveloped = binding.unwrap(decode_value(raw, kind))
        return _object(value), enveloped
    return decode_object(raw, kind), False


async def decode_form(raw: bytes, kind: str, content_type: bytes) -> Any:
    """A form body; multipart is parsed by Starlette's parser (python-multipart), already
    bounded by ``max_body`` as every body is. Files past 1 MiB spool to a temporary file."""
    from .binding import Form

    if kind == URLENCODED:
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise HTTPError(400, "Form body is not UTF-8") from None
        return Form(list(parse_qsl(text, keep_blank_values=True)))
    from starlette.datastructures import Headers
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def chunks() -> Any:
        yield raw

    parser = MultiPartParser(
        Headers(raw=[(b"content-type", content_type)]), chunks(), max_part_size=max(len(raw), 1)
    )
    try:
        form = await parser.parse()
    except MultiPartException as err:
        raise HTTPError(400, f"Malformed multipart body: {err.message}") from None
    return Form(list(form.multi_items()))


def decode_value(raw: bytes, content_type: str, empty: Any = None) -> Any:
    """The body as any JSON (or msgpack, by Content-Type) value; ``empty`` for no body."""
    if content_type in MSGPACK_TYPES:
        return _msgpack(raw) if raw else empty
    if content_type in ("", "application/json", "text/json") or content_type.endswith("+json"):
        return _json(raw) if raw else empty
    raise HTTPError(
        415,
        f"Unsupported Content-Type {content_type!r}: send application/json, msgpack or a form",
    )


def decode_object(raw: bytes, content_type: str) -> dict[str, Any]:
    """The body as an object of fields: JSON by default, msgpack by Content-Type.

    An empty body is ``{}``, so handlers whose parameters all have defaults need none.
    """
    return _object(decode_value(raw, content_type, {}))


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestValidationError(
            [
                {
                    "loc": ["body"],
                    "msg": "Input should be an object with one key per parameter",
                    "type": "dict_type",
                }
            ]
        )
    return value


class _NotJSON(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJSON(name)


# Python's decoder also takes NaN, Infinity and -Infinity, which JSON does not have (and which
# responses send as null): refused like any other invalid JSON.
_decoder = json.JSONDecoder(parse_constant=_refuse_constant)
_decode = _decoder.decode
_raw_decode = _decoder.raw_decode


# A \ud800-\udfff escape: JSON allows it, but alone it is no character and no UTF-8 can carry it.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# msgpack's timestamp extension (type -1) in its three sizes
_TIMESTAMP_MARKS = (b"\xd6\xff", b"\xd7\xff", b"\xc7\x0c\xff")


def _json(raw: bytes) -> Any:
    try:
        text = raw.decode()  # skips json.loads' encoding detection: JSON is UTF-8
        try:  # most bodies have no whitespace around them: the scanner alone reads them
            value, end = _raw_decode(text)
        except json.JSONDecodeError:
            end = -1
        if end != len(text):  # whitespace around it, more after it, or not JSON: say which
            value = _decode(text)
    except json.JSONDecodeError as err:
        problem = {"loc": ["body", err.pos], "msg": f"JSON decode error: {err.msg}"}
    except _NotJSON as err:
        problem = {"loc": ["body"], "msg": f"JSON decode error: {err} is not JSON (send null)"}
    except UnicodeDecodeError:
        problem = {"loc": ["body"], "msg": "JSON decode error: body is not UTF-8"}
    except RecursionError:
        problem = {"loc": ["body"], "msg": "JSON decode error: nested too deeply"}
    except ValueError:  # an integer past Python's 4,300-digit conversion limit
        problem = {"loc": ["body"], "msg": "JSON decode error: number has too many digits"}
    else:
        if _SURROGATE_ESCAPE.search(raw) is None or _find(value, _lone_surrogate) is None:
            return value
        problem = {
            "loc": ["body"],
            "msg": "JSON decode error: a lone surrogate (\\ud800-\\udfff) is no character",
        }
    raise RequestValidationError([{**problem, "type": "json_invalid"}])


def _refuse_ext(code: int, data: bytes) -> Any:
    raise ValueError(f"extension type {code} is not supported")


def _msgpack(raw: bytes) -> Any:
    try:
        value = msgpack.unpackb(raw, raw=False, ext_hook=_refuse_ext)
    except Exception as err:  # msgpack raises several unrelated types for bad input
        message = f"msgpack decode error: {err}"
    else:
        if not any(mark in raw for mark in _TIMESTAMP_MARKS):
            return value
        if _find(value, lambda item: isinstance(item, msgpack.Timestamp)) is None:
            return value
        message = "msgpack decode error: timestamps are not supported (send a string or number)"
    raise RequestValidationError([{"loc": ["body"], "msg": message, "type": "msgpack_invalid"}])


def _lone_surrogate(item: Any) -> bool:
    if not isinstance(item, str):
        return False
    try:
        item.encode()
    except UnicodeEncodeError:
        return True
    return False


def _find(value: Any, match: Callable[[Any], bool]) -> Any:
    """The first item (dict keys included) of a decoded body that ``match``es, or ``None``;
    only called when the raw bytes suggest there is one."""
    stack = [value]
    while stack:
        item = stack.pop()
        if match(item):
            return item
        if isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None
