"""Generator results, sent while they are produced: NDJSON lines, or server-sent events when
the client's Accept asks for ``text/event-stream``.

The first item is produced before the status line, so a generator that fails or times out
before yielding still gets its proper status. A failure after that is told in the stream
itself (an ``error`` record or event), and a client that leaves stops the generator.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import anyio
from starlette.types import Receive

from .deadlines import Deadlines
from .exchange import Exchange
from .results import BINARY, EVENT_STREAM, NDJSON, dump_json, wants_events
from .threads import ThreadPool


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
    if events:
        return b"event: error\ndata: " + dump_json(body) + b"\n\n"
    return dump_json({"error": body}) + b"\n"


_DONE = object()


def _next(iterator: Iterator[Any]) -> Any:
    return next(iterator, _DONE)


async def chunks(stream: Any, events: bool, threads: ThreadPool) -> AsyncGenerator[bytes, None]:
    """Encoded chunks of a sync or async generator; sync ones advance in ``threads`` because
    each step may block (a model producing its next token)."""
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
            # a deadline or a departed client abandons a slow step; the thread finishes it
            item = await threads.run(_next, iterator=stream)
            if item is _DONE:
                return
            yield encode(item)
    finally:
        # ValueError: still running in an abandoned thread; the generator is collected later
        with contextlib.suppress(ValueError):
            stream.close()


async def send_stream(
    exchange: Exchange,
    stream: Any,
    receive: Receive,
    timeout: float | None,
    threads: ThreadPool,
    deadlines: Deadlines,
) -> None:
    events = wants_events(exchange.accept)
    pieces = chunks(stream, events, threads)
    try:
        first = anext(pieces)
        head = await (first if timeout is None else deadlines.within(timeout, first))
    except StopAsyncIteration:
        head = b""
    except BaseException:
        await pieces.aclose()
        raise
    headers = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
    await exchange.begin(200, EVENT_STREAM if events else NDJSON, headers)
    finished = False
    async with anyio.create_task_group() as group:

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()  # the client left: stop producing

        group.start_soon(watch_disconnect)
        try:
            if head:
                await exchange.chunk(head)
            async for piece in pieces:
                await exchange.chunk(piece)
        except Exception as err:
            status, detail = exchange.classify(err, user_code=True)
            body = {"status": status, "detail": detail, "request_id": exchange.request_id.decode()}
            await exchange.chunk(error_chunk(events, body))
        finally:
            with anyio.CancelScope(shield=True):  # the generator's own cleanup must run
                await pieces.aclose()
        await exchange.chunk(b"", more=False)
        finished = True
        group.cancel_scope.cancel()
    if not finished and exchange.error is None:
        exchange.error = "ClientDisconnected"
