"""A small HTTP/1.1 client for the emulator's load balancer: one request to one worker on
loopback, its answer streamed to the ASGI `send` as it arrives (SSE and chunked answers pass
through chunk by chunk), over kept-alive connections.

Written on asyncio streams rather than with an HTTP library: the load balancer adds one hop to
every request, and parsing a status line and a few headers by hand costs tens of microseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from starlette.types import Receive, Send

IDLE_SECONDS = 2.0  # a pooled connection unused this long is closed (the worker's is 5 s)
_CHUNK = 64 * 1024
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
# The caller's RunPod API key is for RunPod's gateway; a worker never sees it.
_NOT_FORWARDED = _HOP_BY_HOP | {b"authorization"}
_NO_BODY_STATUS = frozenset({204, 304})


class UpstreamError(Exception):
    """The worker could not be reached, or broke off before its answer started."""


class Upstream:
    """Kept-alive connections to one worker port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        now = time.monotonic()
        while self._idle:
            reader, writer, since = self._idle.pop()
            if now - since < IDLE_SECONDS and not writer.is_closing():
                return reader, writer, True
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        return reader, writer, False

    def _keep(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._idle.append((reader, writer, time.monotonic()))

    def close(self) -> None:
        for _reader, writer, _since in self._idle:
            writer.close()
        self._idle.clear()

    async def forward(
        self,
        method: str,
        target: bytes,
        headers: Iterable[tuple[bytes, bytes]],
        body: bytes,
        send: Send,
    ) -> int:
        """Send the request, stream the answer to `send`; the answer's status. UpstreamError
        when no answer started (nothing was sent to the client then)."""
        head = [f"{method} ".encode(), target, b" HTTP/1.1\r\nhost: 127.0.0.1\r\n"]
        for name, value in headers:
            if name.lower() not in _NOT_FORWARDED:
                head += [name, b": ", value, b"\r\n"]
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            head += [b"content-length: ", str(len(body)).encode(), b"\r\n"]
        head.append(b"\r\n")
        request = b"".join(head) + body
        for attempt in (1, 2):
            try:
                reader, writer, reused = await self._connection()
            except OSError as err:
                raise UpstreamError(f"cannot connect to the worker: {err}") from None
            try:
                writer.write(request)
                raw = await reader.readuntil(b"\r\n\r\n")
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as err:
                writer.close()
                if reused and attempt == 1:
                    continue  # the worker closed a kept-alive connection: one fresh try
                raise UpstreamError(f"the worker broke off: {err!r}") from None
            return await self._answer(raw, method, reader, writer, send)
        raise AssertionError("unreachable")

    async def _answer(
        self,
        raw: bytes,
        method: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        send: Send,
    ) -> int:
        status_line, *lines = raw[:-4].split(b"\r\n")
        try:
            status = int(status_line.split(b" ", 2)[1])
        except (IndexError, ValueError):
            writer.close()
            raise UpstreamError(f"bad status line {status_line[:80]!r}") from None
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = False
        close = False
        for line in lines:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
            if name not in _HOP_BY_HOP or name == b"content-length":
                headers.append((name, value))
        if method == "HEAD" or status in _NO_BODY_STATUS or 100 <= status < 200:
            length, chunked = 0, False
        await send({"type": "http.response.start", "status": status, "headers": headers})
        try:
            if chunked:
                await _chunked(reader, send)
            elif length is not None:
                await _sized(reader, length, send)
            else:
                close = True
                while data := await reader.read(_CHUNK):
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        except (OSError, asyncio.IncompleteReadError, ValueError):
            writer.close()
            raise  # the answer started: the client sees a cut-off body, as from RunPod
        if close:
            writer.close()
        else:
            self._keep(reader, writer)
        return status


async def _sized(reader: asyncio.StreamReader, length: int, send: Send) -> None:
    if length <= _CHUNK:
        data = await reader.readexactly(length) if length else b""
        await send({"type": "http.response.body", "body": data})
        return
    left = length
    while left:
        data = await reader.readexactly(min(left, _CHUNK))
        left -= len(data)
        await send({"type": "http.response.body", "body": data, "more_body": left > 0})


async def _chunked(reader: asyncio.StreamReader, send: Send) -> None:
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are sent by the runtime
            await send({"type": "http.response.body", "body": b""})
            return
        data = await reader.readexactly(size + 2)
        await send({"type": "http.response.body", "body": data[:-2], "more_body": True})


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is longer than `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
