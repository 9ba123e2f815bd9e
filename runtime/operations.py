"""Routes compiled at start-up into operations: binding, call style, deadline and body limit."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from starlette.routing import compile_path

from .batching import Batcher, check_handler, whole_body
from .binding import Binding, UnknownKeys, plan
from .instances import Method
from .routes import METHODS, Route, is_reserved
from .settings import Settings

Kind = Literal["async", "sync", "stream"]


@dataclass(frozen=True)
class Operation:
    route: Route  # method normalized to upper case
    binding: Binding
    kind: Kind
    timeout: float | None  # the route's, else the service's request_timeout
    max_body: int  # the route's, else the service's
    call: Callable[..., Any]  # the handler (a batched route: its Batcher.submit, see _call)
    batcher: Batcher | None = None  # a batched route: requests await Batcher.submit

    @property
    def template(self) -> str:
        return self.route.path


def kind_of(endpoint: Callable[..., Any]) -> Kind:
    """How a handler is called: awaited on the loop, run in a thread, or streamed."""
    if isinstance(endpoint, Method):  # as its function: `async def`, `def` or a generator
        endpoint = endpoint.function
    call = getattr(endpoint, "__call__", None)  # noqa: B004 - callable instances count too
    if inspect.isasyncgenfunction(endpoint) or inspect.isgeneratorfunction(endpoint):
        return "stream"  # calling one runs none of its body, so it is safe on the loop
    if inspect.iscoroutinefunction(endpoint) or inspect.iscoroutinefunction(call):
        return "async"
    return "sync"


def compile_route(route: Route, settings: Settings) -> Operation:
    """Check a route and plan its binding; ``ValueError`` names what no request could satisfy."""
    method = route.method.upper()
    if method not in METHODS:
        raise ValueError(
            f"Route {route.path}: method {route.method!r} is not one of {sorted(METHODS)}"
        )
    if not route.path.startswith("/"):
        raise ValueError(f"Route {method} {route.path!r}: path must start with '/'")
    if is_reserved(route.path, settings.docs):
        raise ValueError(f"Route {method} {route.path}: the path is reserved by the runtime")
    if route.envelope not in (None, "input"):
        raise ValueError(
            f"Route {method} {route.path}: envelope {route.envelope!r} is not None or 'input'"
        )
    _, _, convertors = compile_path(route.path)
    if route.batch is not None:  # batching.py: its requests await the route's Batcher
        return _batched(route, method, convertors, settings)
    unknown: UnknownKeys = "ignore" if settings.unknown_keys == "ignore" else "reject"
    return Operation(
        route=Route(
            method,
            route.path,
            route.endpoint,
            route.timeout,
            route.max_body,
            route.name,
            route.envelope,
        ),
        binding=plan(route.endpoint, method, convertors, unknown, route.envelope),
        kind=kind_of(route.endpoint),
        timeout=route.timeout if route.timeout is not None else settings.request_timeout,
        max_body=route.max_body if route.max_body is not None else settings.max_body,
        call=route.endpoint,
    )


def _batched(
    route: Route, method: str, convertors: dict[str, Any], settings: Settings
) -> Operation:
    """A batched route: each request's raw body awaits ``Batcher.submit`` (see Service._call)."""
    where = f"Route {method} {route.path}"
    if method not in ("POST", "PUT", "PATCH"):
        raise ValueError(f"{where}: a batched route takes a request body: use POST, PUT or PATCH")
    if convertors:
        raise ValueError(f"{where}: a batched route cannot have path parameters")
    endpoint, batch = route.endpoint, route.batch
    assert batch is not None
    check_handler(endpoint, f"{where} ({getattr(endpoint, '__qualname__', '?')})")
    batcher = Batcher(endpoint, batch, route.path, kind_of(endpoint) == "sync")
    return Operation(
        route=Route(
            method, route.path, endpoint, route.timeout, route.max_body, route.name, batch=batch
        ),
        binding=plan(whole_body, method, convertors),
        kind="async",
        timeout=route.timeout if route.timeout is not None else settings.request_timeout,
        max_body=route.max_body if route.max_body is not None else settings.max_body,
        call=batcher.submit,
        batcher=batcher,
    )
