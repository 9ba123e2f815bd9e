"""Dynamic batching: concurrent requests to a route with ``batch:`` are grouped into one call.

``Route("POST", "/embed", embed, batch=Batch(max_size=32, max_wait_ms=10))`` calls
``embed(bodies)`` with the parsed bodies (JSON or msgpack) of up to 32 requests, once 32 have
arrived or the first of them has waited 10 ms; element ``i`` of the list it returns answers
request ``i``. An exception instance in that list fails only its request (mapped as a raised one
would be: ``HTTPError`` keeps its status, ``ValueError`` is 400, anything else 500); a batch that
raises fails all its requests; a result that is not a list of the right length fails them with
500 and one ``batch_failed`` log line.

Everything else stays per request: each one passes through the service as any other (body limit,
``max_concurrency``, its own deadline and log line, drain); the route's operation awaits
``Batcher.submit``, which waits for its batch's answer. A request whose deadline passes while it
waits leaves the queue; one whose batch is already running gets 504 and its result is dropped.
Sync handlers run in the service's thread pool; at most ``concurrency`` batches of a route run at
once (default one), so a GPU model sees one batch at a time.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import typing
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import logs
from .bodies import decode_value, media_type
from .errors import HTTPError, RequestValidationError
from .instances import Method

if TYPE_CHECKING:
    from .metrics import Metrics
    from .threads import ThreadPool

# batch sizes are counts: powers of two up to the schema's largest max_size
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# seconds a request waited for its batch to start (max_wait_ms is at most a few hundred)
WAIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class Batch:
    """A route's batching: at most ``max_size`` requests per call, the first waiting at most
    ``max_wait_ms`` for others, at most ``concurrency`` calls at once."""

    max_size: int = 32
    max_wait_ms: float = 10.0
    concurrency: int = 1

    def __post_init__(self) -> None:
        if self.max_size < 1:
            raise ValueError(f"Batch 'max_size' has value {self.max_size!r}. Must be >= 1.")
        if self.max_wait_ms < 0:
            raise ValueError(f"Batch 'max_wait_ms' has value {self.max_wait_ms!r}. Must be >= 0.")
        if self.concurrency < 1:
            raise ValueError(f"Batch 'concurrency' has value {self.concurrency!r}. Must be >= 1.")


class BatchResultError(HTTPError):
    """The handler's answer cannot be split into one result per request (logged once)."""

    def __init__(self) -> None:
        super().__init__(500, "Internal Server Error")


def whole_body(body: bytes) -> None:
    """What a batched route's requests are bound as: the body as it came (``Batcher.submit``
    parses it). Never called."""


def check_handler(endpoint: Callable[..., Any], where: str) -> None:
    """A batch handler takes exactly one parameter (the list) and is not a generator;
    ``ValueError`` says what to change."""
    function = endpoint.function if isinstance(endpoint, Method) else endpoint
    if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
        raise ValueError(f"{where}: a batch handler returns a list; it cannot stream")
    parameters = list(inspect.signature(endpoint).parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    variable = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    others = [p for p in parameters[1:] if p.default is p.empty and p.kind not in variable]
    if not parameters or parameters[0].kind not in positional or others:
        raise ValueError(
            f"{where}: a batch handler takes exactly one parameter, the list of request bodies"
        )


def item_types(endpoint: Callable[..., Any]) -> tuple[Any, Any]:
    """What one request sends and gets, from ``def f(items: list[In]) -> list[Out]``
    (``Any`` where not annotated)."""
    try:
        hints = typing.get_type_hints(endpoint)
    except Exception:  # unresolvable forward references: document anything
        hints = {}
    first = next(iter(inspect.signature(endpoint).parameters), None)
    return _element(hints.get(first) if first else None), _element(hints.get("return"))


def _element(annotation: Any) -> Any:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (list, tuple, Sequence) and args:
        return args[0]
    return Any


class _Entry:
    __slots__ = ("arrived", "body", "future")

    def __init__(self, body: Any, future: asyncio.Future[Any], arrived: float) -> None:
        self.body = body
        self.future = future
        self.arrived = arrived


class Batcher:
    """The queue and the running batches of one route. ``submit`` is what the route's
    operation awaits per request; ``attach`` gives it the service's thread pool and metrics."""

    def __init__(self, endpoint: Callable[..., Any], batch: Batch, route: str, sync: bool) -> None:
        self.endpoint = endpoint
        self.batch = batch
        self.route = route
        self.sync = sync
        self.threads: ThreadPool | None = None
        self.metrics: Metrics | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[_Entry] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # histograms: counts per bucket (+Inf last) and sums, read by metric_lines
        self.sizes = [0] * (len(SIZE_BUCKETS) + 1)
        self.size_sum = 0
        self.waits = [0] * (len(WAIT_BUCKETS) + 1)
        self.wait_sum = 0.0

    def attach(self, threads: ThreadPool, metrics: Metrics | None) -> None:
        self.threads = threads
        self.metrics = metrics

    async def submit(self, body: bytes, content_type: bytes | None, query: bytes) -> Any:
        """Queue this request's body, parsed, and wait for its element of the batch's result.
        ``content_type`` and ``query``: the request's header and query string, as they came."""
        if query:
            problem = {
                "loc": ["query"],
                "msg": "A batched route takes its input from the body only",
                "type": "extra_forbidden",
            }
            raise RequestValidationError([problem])
        value = decode_value(body, media_type(content_type))
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (tests start several): start afresh
            self._loop, self._pending, self._timer, self._running = loop, [], None, 0
        entry = _Entry(value, loop.create_future(), loop.time())
        self._pending.append(entry)
        self._dispatch()
        try:
            return await entry.future
        except asyncio.CancelledError:  # its deadline passed (or the server gave up on it)
            if entry in self._pending:
                self._pending.remove(entry)
            raise

    def _dispatch(self) -> None:
        """Start every batch that is due: full, or its first request has waited long enough;
        otherwise make sure a timer will look again when the first one's wait is over."""
        loop = self._loop
        assert loop is not None
        size, wait = self.batch.max_size, self.batch.max_wait_ms / 1000.0
        while self._pending and self._running < self.batch.concurrency:
            now = loop.time()
            if len(self._pending) < size and now - self._pending[0].arrived < wait:
                break
            entries, self._pending = self._pending[:size], self._pending[size:]
            self._running += 1
            self._observe(entries, now)
            task = loop.create_task(self._run(entries))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._pending and self._running < self.batch.concurrency:
            # one timer at a time: one that fires early (its request left) only looks again
            if self._timer is None:
                self._timer = loop.call_at(self._pending[0].arrived + wait, self._on_timer)
        elif self._timer is not None:  # nothing waits, or a finishing batch will look again
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch()

    async def _run(self, entries: list[_Entry]) -> None:
        bodies = [entry.body for entry in entries]
        failure: Exception | None = None
        try:
            results = await self._call(bodies)
            if not isinstance(results, (list, tuple)) or len(results) != len(entries):
                got = (
                    f"{len(results)} results"
                    if isinstance(results, (list, tuple))
                    else f"a {type(results).__name__}"
                )
                logs.emit(
                    "batch_failed",
                    level="error",
                    route=self.route,
                    size=len(entries),
                    error=f"the handler returned {got} for {len(entries)} requests:"
                    " return a list with one result per request, in order",
                )
                raise BatchResultError()
        except asyncio.CancelledError:  # the loop is closing: nobody will be answered
            for entry in entries:
                entry.future.cancel()
            raise
        except Exception as err:
            failure = err
        finally:
            # The next batch is started before this one's requests are answered: its call is
            # scheduled first, so the model computes while the answers are written.
            if self._loop is asyncio.get_running_loop():  # else a new loop started afresh
                self._running -= 1
                self._dispatch()
        for index, entry in enumerate(entries):
            if entry.future.done():  # its request gave up (504) while the batch ran
                continue
            result = failure if failure is not None else results[index]
            if isinstance(result, Exception):
                entry.future.set_exception(result)
            else:
                entry.future.set_result(result)

    async def _call(self, bodies: list[Any]) -> Any:
        endpoint = self.endpoint
        target = endpoint.bound if isinstance(endpoint, Method) else endpoint
        if target is None:  # never reached through the service: it answers 503 until ready
            raise RuntimeError(f"{self.route}: the instance is not created yet")
        if self.sync:
            assert self.threads is not None, "attach() gives a batcher the service's threads"
            result = await self.threads.run(functools.partial(target, bodies))
        else:
            result = target(bodies)
        if inspect.isawaitable(result):  # an async handler, or a sync wrapper around one
            result = await result
        return result

    def _observe(self, entries: list[_Entry], now: float) -> None:
        if self.metrics is None:
            return
        self.sizes[bisect_left(SIZE_BUCKETS, len(entries))] += 1
        self.size_sum += len(entries)
        for entry in entries:
            waited = now - entry.arrived
            self.waits[bisect_left(WAIT_BUCKETS, waited)] += 1
            self.wait_sum += waited


def metric_lines(batchers: Iterable[Batcher], worker: str) -> list[str]:
    """The batch size and wait histograms of every batched route, by route (a ``Metrics``
    source, called when ``/metrics`` is scraped)."""
    from .metrics import escape

    sizes = [
        "# HELP flashctl_batch_size Requests per call of a batch handler.",
        "# TYPE flashctl_batch_size histogram",
    ]
    waits = [
        "# HELP flashctl_batch_wait_seconds Time a request waited for its batch to start.",
        "# TYPE flashctl_batch_wait_seconds histogram",
    ]
    for batcher in batchers:
        labels = f'http_route="{escape(batcher.route)}",{worker}'
        sizes += _histogram(
            "flashctl_batch_size", labels, SIZE_BUCKETS, batcher.sizes, batcher.size_sum
        )
        waits += _histogram(
            "flashctl_batch_wait_seconds", labels, WAIT_BUCKETS, batcher.waits, batcher.wait_sum
        )
    return sizes + waits


def _histogram(
    name: str, labels: str, bounds: Sequence[float], counts: list[int], total: float
) -> list[str]:
    lines = []
    running = 0
    for bound, count in zip((*bounds, None), counts, strict=True):
        running += count
        le = "+Inf" if bound is None else f"{bound:g}"
        lines.append(f'{name}_bucket{{{labels},le="{le}"}} {running}')
    lines.append(f"{name}_sum{{{labels}}} {total!r}")
    lines.append(f"{name}_count{{{labels}}} {running}")
    return lines


def attach(operations: Iterable[Any], threads: ThreadPool, metrics: Metrics | None) -> None:
    """The service's hook: batched routes run sync handlers in its ``threads`` and, when
    metrics are on, add their histograms to ``/metrics``."""
    batchers = [o.batcher for o in operations if o.batcher is not None]
    for batcher in batchers:
        batcher.attach(threads, metrics)
    if batchers and metrics is not None:
        metrics.sources.append(functools.partial(metric_lines, batchers))
