"""A whole ASGI application as an endpoint (``app: "main:app"``): FastAPI, Starlette or any
ASGI 3 callable, served behind the runtime.

The service keeps what it gives routes (``/ping``, ``/metrics``, the refusals, rate limits,
``max_concurrency``, ``request_timeout``, the request id, timing and the log line) and hands
everything else to the app, whose own lifespan runs during the service's start-up: ``/ping``
answers 204 until the app's startup has completed, as while a ``startup`` hook runs.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope

from .errors import BodyTooLarge
from .exchange import Exchange


class AppExchange:
    """``receive`` and ``send`` for one request to the app: the body counted and capped at
    ``limit``, the runtime's headers added to the response. Once the body is too large, the
    app's own answer (a 500 from its error middleware) is dropped: the service answers 413."""

    __slots__ = ("_receive", "exchange", "limit", "size", "too_large")

    def __init__(self, exchange: Exchange, receive: Receive, limit: int) -> None:
        self.exchange = exchange
        self._receive = receive
        self.limit = limit
        self.size = 0
        self.too_large = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                self.too_large = True
                raise BodyTooLarge(self.limit)
        return message

    async def send(self, message: Message) -> None:
        if self.too_large and not self.exchange.started:
            return
        await self.exchange.relay(message)


def route_template(scope: Scope, root_path: str) -> str | None:
    """The path template of the app's route that served ``scope``, when the app's router left
    it there (Starlette and FastAPI put the matched route in ``scope["route"]``; mounts extend
    ``root_path``; FastAPI 0.16x keeps included routers and records the route's whole path in
    ``scope["fastapi"]``); ``None`` when unknown."""
    fastapi = scope.get("fastapi")
    if isinstance(fastapi, dict):
        whole = getattr(fastapi.get("effective_route_context"), "path", None)
        if isinstance(whole, str):
            return whole
    route = scope.get("route")
    path = getattr(route, "path", None) if route is not None else None
    if not isinstance(path, str):
        return None
    mounted = scope.get("root_path", "")
    prefix = mounted[len(root_path) :] if mounted.startswith(root_path) else ""
    return prefix + path


class AppLifespan:
    """The app's own lifespan protocol, driven by the service: ``startup()`` returns once the
    app has started (raises if it failed), ``shutdown()`` once it has stopped. An app that does
    not speak lifespan (it raises on the first message) is served without one, as servers do."""

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        self.app = app
        # The server's lifespan scope, with its `state`: what the app stores there reaches
        # every request's scope, as it would under the server directly.
        self.scope = {**scope, "type": "lifespan"}
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        # the app's messages; an exception it raised, or None once it has returned
        self._outbox: asyncio.Queue[Message | BaseException | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.supported = True

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._inbox.get, self._send)
        except BaseException as err:  # reported to whoever waits for the next message
            await self._outbox.put(err)
            if not isinstance(err, Exception):
                raise
        else:
            await self._outbox.put(None)

    async def _send(self, message: Message) -> None:
        await self._outbox.put(message)

    async def startup(self) -> None:
        self._task = asyncio.create_task(self._run())
        await self._inbox.put({"type": "lifespan.startup"})
        answer = await self._outbox.get()
        if answer is None or isinstance(answer, BaseException):
            self.supported = False  # it raised or returned without answering: no lifespan
            return
        if answer["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"the app's startup failed: {answer.get('message', '')}")

    async def shutdown(self, timeout: float) -> None:
        task = self._task
        if task is None or task.done() or not self.supported:
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._outbox.get(), timeout)
        if not task.done():
            task.cancel()
        with contextlib.suppress(BaseException):
            await task

    def abandon(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
