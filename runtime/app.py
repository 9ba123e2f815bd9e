"""The ASGI application the generated ``handler_service.py`` builds with ``create_app``.

A plain ASGI callable rather than Starlette's Router and middleware stack: every request pays
for routing, limits, the request id, timing and the log line, so those are done once, inline.
Starlette still provides the path converters, ``Request`` and ``Response``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import time
import traceback
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from . import batching, logs, results, tracing, wire
from .binding import Form
from .bodies import (
    FORMS,
    LimitedReceive,
    ReplayReceive,
    declared_length,
    decode_form,
    decode_request,
    media_type,
    read_body,
)
from .deadlines import Deadlines
from .errors import (
    BodyTooLarge,
    ClientDisconnected,
    HTTPError,
    RequestValidationError,
    from_http_exception,
)
from .exchange import Exchange
from .instances import Method, create_instances
from .limits import ConcurrencyLimit, RateLimit, client_address
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import Metrics
from .mounted import AppExchange, AppLifespan, route_template
from .operations import Operation, compile_route, kind_of
from .ping import Health, health_path
from .routes import Route, Router
from .settings import Settings
from .streams import send_stream
from .threads import ThreadPool


def _route_path(scope: Scope) -> str:
    """The path below ``root_path`` (as Starlette's ``get_route_path``), so a service mounted
    under ``/<endpoint>`` by ``flashctl dev`` routes the same as in its container."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return "/"
    return path[len(root) :] if path[len(root)] == "/" else path


# The docs paths of an app (FastAPI's defaults): the app's own, refused while docs are off.
APP_DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


class Service:
    """The ASGI app: ``/ping``, the declared routes (or a whole ASGI ``app``) and, when
    enabled, ``/metrics``, ``/openapi.json`` and ``/docs``. ``drain()`` is called by the server
    on SIGTERM."""

    def __init__(
        self, operations: Sequence[Operation], settings: Settings, app: ASGIApp | None = None
    ) -> None:
        self.settings = settings
        self.operations = tuple(operations)
        self.app = app
        self.app_lifespan: AppLifespan | None = None
        self.methods = [
            o.route.endpoint for o in operations if isinstance(o.route.endpoint, Method)
        ]
        self.health = Health(settings.startup is not None or bool(self.methods) or app is not None)
        self.health_path = health_path(os.environ.get("HEALTH_CHECK_PATH"))  # and /ping
        self.router: Router[Operation] = Router()
        for operation in self.operations:
            self.router.add(operation.route.method, operation.route.path, operation)
        self.concurrency = ConcurrencyLimit(settings.max_concurrency)
        self.rate = RateLimit(*settings.rate_limit) if settings.rate_limit else None
        self.threads = ThreadPool(settings.max_concurrency)
        self.deadlines = Deadlines()
        # (method, path, raw_path, root_path) -> the route and path parameters it was served by
        self._known: dict[tuple[Any, ...], tuple[Operation, dict[str, Any]]] = {}
        self._openapi: bytes | None = None
        self.metrics = Metrics() if settings.metrics else None
        self.exporter = tracing.exporter_from_env(settings.title, settings.version)
        if self.metrics is not None and self.exporter is not None:
            self.metrics.sources.append(self.exporter.metric_lines)
        batching.attach(self.operations, self.threads, self.metrics)

    # --- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self._other(scope, receive, send)
        exporter, metrics = self.exporter, self.metrics
        exchange = Exchange(scope, send, None if exporter is None else exporter.sampler)
        if metrics is not None:
            metrics.active += 1
        try:
            # A path served before goes straight to its route: the checks below (path form,
            # the runtime's own paths, the router) gave that answer then and would again.
            key = (exchange.method, scope["path"], scope.get("raw_path"), scope.get("root_path"))
            known = self._known.get(key)
            if known is None or exchange.framings > 1 or self.rate is not None:
                await self._dispatch(scope, receive, exchange, key)
            elif wire.head_refusal(scope, exchange.framings) is not None:
                await self._dispatch(scope, receive, exchange, key)
            else:
                await self._serve(known[0], known[1], scope, receive, exchange)
        finally:
            elapsed = time.perf_counter() - exchange.start
            logs.write(exchange.log_line(elapsed))
            if metrics is not None:
                metrics.active -= 1
                metrics.observe(
                    exchange.method, exchange.route, exchange.status, elapsed, exchange.error
                )
            if exporter is not None and exchange.sampled():
                exporter.submit(_span(scope, exchange, elapsed))

    async def _other(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        else:  # websockets are not part of the contract: refuse the handshake
            await send({"type": "websocket.close", "code": 1000})

    async def _dispatch(
        self, scope: Scope, receive: Receive, exchange: Exchange, key: tuple[Any, ...]
    ) -> None:
        """Every check before a route, and the route found: remembered under ``key`` (method,
        path, raw path, root path) so that the next request to the path skips them."""
        refused = wire.head_refusal(scope, exchange.framings) or wire.path_refusal(scope)
        if refused is not None:
            status, detail, close = refused
            # Connection: close (HTTP/1 only) makes both servers close after the answer
            closing = close and scope.get("http_version") not in ("2", "3")
            return await exchange.fail(status, detail, {"Connection": "close"} if closing else None)
        path = _route_path(scope)
        method = "GET" if exchange.head_only else exchange.method
        if path == "/ping" or path == self.health_path:
            exchange.route = path
            return await self._ping(scope, exchange, method)
        if path == "/metrics" and self.metrics is not None:
            exchange.route = "/metrics"
            if method != "GET":
                return await exchange.fail(405, "Method Not Allowed", {"Allow": "GET, HEAD"})
            return await exchange.respond(200, self.metrics.render(), METRICS_CONTENT_TYPE)
        if self.settings.docs and path in ("/openapi.json", "/docs") and self.app is None:
            exchange.route = path
            return await self._docs(exchange, method, path)
        if wire.shadows_builtin(path, self.settings.docs and self.app is None):
            return await exchange.fail(404, "Not Found")  # never served, whatever routes match
        if self.rate is not None:
            client = client_address(scope, self.settings.trusted_proxies)
            wait = self.rate.retry_after(client, time.monotonic())
            if wait is not None:
                if self.metrics is not None:
                    self.metrics.rejected["rate_limit"] += 1
                return await exchange.fail(429, "Too many requests", {"Retry-After": str(wait)})
        if self.app is not None:
            return await self._serve_app(self.app, scope, receive, exchange, path)
        try:
            operation, params, allowed = self.router.match(method, path)
        except ValueError:  # a path parameter past its type's range (a 5,000-digit int)
            problem = {
                "loc": ["path"],
                "msg": "Path parameter is out of range",
                "type": "value_error",
            }
            return await exchange.fail(422, [problem])
        if operation is None:
            if allowed:
                methods = sorted(allowed | ({"HEAD"} if "GET" in allowed else set()))
                return await exchange.fail(405, "Method Not Allowed", {"Allow": ", ".join(methods)})
            return await exchange.fail(404, "Not Found")
        if len(self._known) < MAX_KNOWN_PATHS:  # bounded: a path may carry a client's ids
            self._known[key] = (operation, params)
        await self._serve(operation, params, scope, receive, exchange)

    async def _serve_app(
        self, app: ASGIApp, scope: Scope, receive: Receive, exchange: Exchange, path: str
    ) -> None:
        """The request to a whole ASGI app, within the service's limits: ``max_body`` (413),
        ``max_concurrency`` (503), ``request_timeout`` (504, if nothing is sent yet)."""
        exchange.route = path
        if not self.settings.docs and path in APP_DOCS_PATHS:
            return await exchange.fail(404, "Not Found")
        refusal = self.health.refusal()
        if refusal is not None:
            return await exchange.fail(503, refusal, {"Retry-After": "1"})
        limit = self.settings.max_body
        length = declared_length(exchange.content_length)
        if length is not None and length > limit:
            return await self._failed(exchange, BodyTooLarge(limit), user_code=False)
        if not self.concurrency.enter():
            return await self._refuse_concurrency(exchange)
        relay = AppExchange(exchange, receive, limit)
        root = scope.get("root_path", "")  # the app's router may extend it (mounts)
        timeout = self.settings.request_timeout
        try:
            call = app(scope, relay.receive, relay.send)
            await (call if timeout is None else self.deadlines.within(timeout, call))
            if not exchange.started:
                raise BodyTooLarge(limit) if relay.too_large else RuntimeError("no response")
        except Exception as err:
            await self._failed(exchange, BodyTooLarge(limit) if relay.too_large else err, False)
        except asyncio.CancelledError:
            await _shutting_down(exchange)
            raise
        finally:
            self.concurrency.leave()
            exchange.bytes_in = relay.size
            exchange.route = route_template(scope, root) or path

    async def _refuse_concurrency(self, exchange: Exchange) -> None:
        if self.metrics is not None:
            self.metrics.rejected["concurrency"] += 1
        await exchange.fail(503, "Too many requests in flight", {"Retry-After": "1"})

    async def _serve(
        self,
        operation: Operation,
        params: dict[str, Any],
        scope: Scope,
        receive: Receive,
        exchange: Exchange,
    ) -> None:
        """A request to a route: its body read (within ``body_timeout``, else 408), then the
        handler called (within the route's timeout, else 504) and its result sent. One method,
        one deadline entry re-armed between the two: this is every request's path."""
        exchange.route = operation.template
        if self.health.state != "ready":
            refusal = self.health.refusal()
            if refusal is not None:
                return await exchange.fail(503, refusal, {"Retry-After": "1"})
        concurrency = self.concurrency
        if concurrency.full():  # refused before its body is read
            return await self._refuse_concurrency(exchange)
        deadlines = self.deadlines
        task: asyncio.Task[Any] | None = None
        binding = operation.binding
        limit = operation.max_body
        stage = _BODY
        entered = False
        try:
            length = declared_length(exchange.content_length)
            if length is not None and length > limit:
                raise BodyTooLarge(limit)  # refused before a byte of it is read
            # The body is read before a slot is taken, under its own deadline: clients still
            # sending theirs (slowly, maybe on purpose) do not hold the slots ready requests
            # need. Handlers that read it through their Request get it later (raw is None).
            raw = None
            if binding.reads_body or binding.raw is not None:
                timeout = self.settings.body_timeout
                if timeout is not None:
                    task = deadlines.arm(timeout, 408)
                raw = await read_body(receive, limit)
                exchange.bytes_in = len(raw)
            if not concurrency.enter():
                return await self._refuse_concurrency(exchange)
            entered = True
            stage = _CALL
            timeout = operation.timeout
            if timeout is None:
                if task is not None:
                    deadlines.disarm(task)
                    task = None
            elif task is None:
                task = deadlines.arm(timeout)
            else:
                deadlines.rearm(task, timeout)
            result = await self._call(operation, params, scope, receive, exchange, raw)
            if task is not None:
                deadlines.disarm(task)
                task = None
            stage = _REPLY
            await self._reply(operation, result, scope, receive, exchange)
        except Exception as err:
            # a generator runs the handler's own code while it is sent; a value is only encoded
            user_code = stage == _CALL or (stage == _REPLY and results.is_stream(result))
            await self._failed(exchange, err, user_code)
        except asyncio.CancelledError:
            overdue = None if task is None else deadlines.overdue(task)
            if overdue is None:
                if stage != _BODY:
                    await _shutting_down(exchange)
                raise
            await self._failed(exchange, overdue, user_code=False)
        finally:
            if task is not None:
                deadlines.disarm(task)
            if entered:
                concurrency.leave()

    async def _call(
        self,
        operation: Operation,
        params: dict[str, Any],
        scope: Scope,
        receive: Receive,
        exchange: Exchange,
        raw: bytes | None,
    ) -> Any:
        """Bind the request to the handler's parameters and call it: async handlers on the loop,
        sync ones in the pool; a generator function is only called (streaming starts it)."""
        if operation.batcher is not None:  # one item of a batch: its body, parsed there
            assert raw is not None
            query = scope["query_string"]
            return await operation.batcher.submit(raw, exchange.content_type, query)
        binding = operation.binding
        body, enveloped = None, False
        if raw is not None and binding.reads_body:
            kind = media_type(exchange.content_type)
            if kind in FORMS:
                body = await decode_form(raw, kind, exchange.content_type or b"")
            else:
                body, enveloped = decode_request(raw, kind, binding)
        request = limited = None
        if binding.request is not None:
            if raw is not None:
                request = Request(scope, ReplayReceive(receive, raw))
            else:
                limited = LimitedReceive(receive, operation.max_body)
                request = Request(scope, limited)
        query = scope["query_string"]
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True) if query else []
        try:
            kwargs, errors = binding.bind(params, pairs, body, raw, request)
            if errors:
                raise RequestValidationError(errors)
            kind = operation.kind
            if kind == "async":
                result = await operation.call(**kwargs)
            elif kind == "sync":
                result = await self.threads.run(operation.call, **kwargs)
            else:  # a generator function: calling it runs none of its body (streaming does)
                result = operation.call(**kwargs)
            if type(result) not in _JSON_TYPES and kind != "stream" and inspect.isawaitable(result):
                result = await result  # a sync wrapper around a coroutine function
        finally:
            if limited is not None:
                exchange.bytes_in = limited.size
            if isinstance(body, Form):  # its uploaded files
                body.close()
        return results.enveloped(result, exchange.request_id) if enveloped else result

    async def _reply(
        self,
        operation: Operation,
        result: Any,
        scope: Scope,
        receive: Receive,
        exchange: Exchange,
    ) -> None:
        if type(result) not in _JSON_TYPES:  # most results are JSON values: nothing to look for
            if isinstance(result, Response):
                return await result(scope, receive, exchange.relay)
            if isinstance(result, results.BINARY):
                return await exchange.respond(200, bytes(result), results.OCTET_STREAM)
            if results.is_stream(result):
                return await send_stream(
                    exchange, result, receive, operation.timeout, self.threads, self.deadlines
                )
        if results.wants_msgpack(exchange.accept):
            await exchange.respond(200, results.dump_msgpack(result), results.MSGPACK)
        else:
            await exchange.respond(200, results.dump_json(result))

    async def _failed(self, exchange: Exchange, err: Exception, user_code: bool) -> None:
        err = from_http_exception(err)  # FastAPI's or Starlette's HTTPException, as ours
        if isinstance(err, ClientDisconnected):
            exchange.error = type(err).__name__
            return
        status, detail = exchange.classify(err, user_code)
        if exchange.started:  # too late for a status: the log line records what happened
            return
        headers = err.headers if isinstance(err, HTTPError) else None
        await exchange.fail(status, detail, headers)

    # --- built-in routes ------------------------------------------------------------------

    async def _ping(self, scope: Scope, exchange: Exchange, method: str) -> None:
        if method != "GET":
            return await exchange.fail(405, "Method Not Allowed", {"Allow": "GET, HEAD"})
        query = scope["query_string"]
        probe = bool(query) and any(
            key == "ready" and value.lower() in ("1", "true", "yes")
            for key, value in parse_qsl(query.decode("latin-1"))
        )
        status, detail = self.health.answer(probe)
        if status == 200:
            await exchange.respond(200, b'{"status":"healthy"}')
        elif status == 204:
            await exchange.respond(204, b"", None)
        else:
            await exchange.fail(status, detail, {"Retry-After": "1"})

    async def _docs(self, exchange: Exchange, method: str, path: str) -> None:
        if method != "GET":
            return await exchange.fail(405, "Method Not Allowed", {"Allow": "GET, HEAD"})
        from . import openapi  # only services with docs on pay for importing it

        if path == "/docs":
            page = openapi.docs_page(self.settings.title).encode()
            return await exchange.respond(200, page, b"text/html; charset=utf-8")
        if self._openapi is None:
            self._openapi = results.dump_json(openapi.document(self.operations, self.settings))
        await exchange.respond(200, self._openapi)

    # --- lifespan -------------------------------------------------------------------------

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A plain asyncio task, not an anyio task group: both servers run asyncio, and anyio's
        # asyncio backend costs ~25 ms of imports at start-up (B2 cold start).
        hook: asyncio.Task[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                logs.emit(
                    "startup",
                    routes=len(self.operations),
                    title=self.settings.title,
                    version=self.settings.version,
                )
                if self.exporter is not None:
                    self.exporter.start()
                if self.app is not None:
                    self.app_lifespan = AppLifespan(self.app, scope)
                if self.settings.startup is not None or self.methods or self.app is not None:
                    hook = asyncio.create_task(self._run_startup())
                elif self.metrics is not None:
                    self.metrics.startup_seconds = 0.0
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                break
        started = hook is None or hook.done()
        if hook is not None and not hook.done():
            hook.cancel()  # a hook still running is abandoned
            with contextlib.suppress(asyncio.CancelledError):
                await hook
        self.drain()
        if self.app_lifespan is not None:  # the app's own shutdown, after in-flight requests
            if started:
                await self.app_lifespan.shutdown(self.settings.drain_timeout)
            else:
                self.app_lifespan.abandon()
        self.threads.close()
        if self.exporter is not None:  # the last spans, within a bounded wait
            await asyncio.get_running_loop().run_in_executor(None, self.exporter.close)
        logs.emit("shutdown")
        await send({"type": "lifespan.shutdown.complete"})

    async def _run_startup(self) -> None:
        """The ``startup`` hook, then the instances of class handlers (and their ``setup``)."""
        hook = self.settings.startup
        began = time.perf_counter()
        try:
            if hook is not None and kind_of(hook) == "async":
                await hook()
            elif hook is not None:
                result = await self.threads.run(hook)
                if inspect.isawaitable(result):
                    await result
            await create_instances(self.methods, self.threads)
            if self.app_lifespan is not None:
                await self.app_lifespan.startup()
        except Exception as err:
            if self.health.state == "starting":
                self.health.state = "failed"
            logs.emit(
                "startup_failed",
                level="error",
                error=type(err).__name__,
                traceback="".join(traceback.format_exception(err)),
            )
            return
        if self.health.state == "starting":
            self.health.state = "ready"
        took = time.perf_counter() - began
        if self.metrics is not None:
            self.metrics.startup_seconds = took
        logs.emit("ready", startup_ms=round(took * 1000.0, 3))

    def drain(self) -> None:
        """Answer ``/ping`` with 503 from now on; in-flight and queued requests still finish."""
        if self.health.drain():
            logs.emit("draining")


# where a request to a route is, for what its errors mean (see Service._serve)
_BODY, _CALL, _REPLY = 0, 1, 2
# results sent as JSON straight away (most are): no Response, bytes or generator to look for
_JSON_TYPES = frozenset({dict, list, str, int, float, bool, type(None)})
MAX_KNOWN_PATHS = 4096


def _span(scope: Scope, exchange: Exchange, elapsed: float) -> tuple[Any, ...]:
    """The request's server span, as ``tracing.Span`` orders its fields: a plain tuple, as
    this runs on the event loop for every exported request."""
    return (
        exchange.trace_id,
        exchange.span_id,
        exchange.parent,
        time.time_ns(),
        elapsed,
        exchange.method,
        exchange.route,
        scope["path"],
        scope.get("scheme", "http"),
        scope.get("http_version", "1.1"),
        exchange.status,
        exchange.error,
    )


def create_app(
    routes: Sequence[Route], settings: Settings | None = None, *, app: ASGIApp | None = None
) -> Service:
    """Build the service; every route's binding is planned here, so a signature no request
    could satisfy fails at start-up, not on the first call. With ``app`` (a whole ASGI app,
    ``routes`` empty) every request but the runtime's own goes to it.

    >>> app = create_app([Route("POST", "/add", add)], Settings(title="calc"))
    """
    settings = settings or Settings()
    if app is not None and routes:
        raise ValueError("create_app takes routes or an app, not both")
    return Service([compile_route(route, settings) for route in routes], settings, app)


async def _shutting_down(exchange: Exchange) -> None:
    """The server gave up on this request (the grace period after SIGTERM ran out): answer 503
    if the status line is still ours to send; the caller lets the cancel through."""
    exchange.error = "CancelledError"
    if not exchange.started:
        with contextlib.suppress(Exception):
            await exchange.fail(503, "Service is shutting down")
