"""A local stand-in for RunPod's REST v2 serverless API, for offline deploys, CI and tests.

    serve_emulator("127.0.0.1", 8765, state=Path("emulator.json"), api_key="dev-key")  # blocks
    python -m flashctl.emulator --port 8765 --state emulator.json --api-key dev-key

    with BackgroundEmulator(api_key="k", fail_rate=0.3, seed=7) as emulator:  # tests, benches
        client = RunPodClient(Credentials("k", "test"), emulator.url)

Point flashctl at it with `FLASHCTL_API_URL=http://127.0.0.1:8765`. Routes, faults and the
`/_emulator/*` test hooks are described in `app.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from hypercorn.asyncio import serve
from hypercorn.config import Config
from hypercorn.typing import ASGIFramework
from starlette.types import ASGIApp, Receive, Scope, Send

from flashctl.emulator.app import Emulator, authenticate, build_app
from flashctl.emulator.faults import FaultInjector
from flashctl.emulator.fleet import Fleet
from flashctl.emulator.rate_limit import RateLimiter, Window, parse_windows
from flashctl.emulator.request_log import RequestLog
from flashctl.emulator.state import EmulatorState
from flashctl.emulator.workers import (
    DEFAULT_MAX_WORKERS,
    DEFAULT_PORTS,
    DEFAULT_WAIT_SECONDS,
    WorkerOptions,
    worker_options,
)
from flashctl.errors import FlashError, UsageError

LOGGER = logging.getLogger("flashctl.emulator.server")


def create_emulator(
    state: Path | None = None,
    api_key: str | None = None,
    fail_rate: float = 0.0,
    latency_ms: float = 0.0,
    seed: int | None = None,
    *,
    worker_ready_delay: float = 0.3,
    retry_after: int = 1,
    rollout_interval: float = 0.5,
    omit_fields: tuple[str, ...] = (),
    list_lag: float = 0.0,
    rate_limits: Sequence[Window] | str | None = None,
    workers: WorkerOptions | None = None,
) -> Emulator:
    """The emulator's parts, checked; raises UsageError for an out-of-range option.
    `workers`: run the deployed endpoints' real workers behind a load balancer (fleet.py)."""
    if not 0.0 <= fail_rate <= 1.0:
        raise UsageError(f"--fail-rate must be between 0 and 1, got {fail_rate}.")
    if min(latency_ms, worker_ready_delay, retry_after, rollout_interval, list_lag) < 0:
        raise UsageError(
            "--latency-ms, the worker ready delay, the rollout interval, the list lag and"
            " Retry-After must be >= 0."
        )
    if isinstance(rate_limits, str):
        try:
            rate_limits = parse_windows(rate_limits)
        except ValueError as err:
            raise UsageError(f"--rate-limits: {err}.") from None
    emulator = Emulator(
        limiter=RateLimiter(rate_limits) if rate_limits else None,
        state=EmulatorState(
            state,
            worker_ready_delay=worker_ready_delay,
            rollout_interval=rollout_interval,
            omit_fields=omit_fields,
            list_lag=list_lag,
        ),
        faults=FaultInjector(fail_rate, seed),
        log=RequestLog(),
        api_key=api_key,
        latency_ms=latency_ms,
        retry_after=retry_after,
    )
    if workers is not None:
        logs = emulator.worker_logs

        def record(endpoint_id: str, worker_id: str, line: str) -> None:
            """A worker's output line into the log `flashctl logs` streams (the emulator's
            notes about an endpoint, worker id "", stay in /_emulator/workers)."""
            if worker_id:
                logs.append(endpoint_id, worker_id, line)

        emulator.fleet = Fleet(
            emulator.state, workers, lambda headers: authenticate(headers, api_key), record=record
        )
    return emulator


def serve_emulator(
    host: str = "127.0.0.1",
    port: int = 8765,
    state: Path | None = None,
    api_key: str | None = None,
    fail_rate: float = 0.0,
    latency_ms: float = 0.0,
    seed: int | None = None,
    **options: Any,
) -> None:
    """Serve the emulator on http://host:port until SIGINT or SIGTERM.

    `state`: a JSON file kept across restarts (None: in memory). `api_key`: the bearer key to
    require (None: any key). `options`: `worker_ready_delay` (s), `retry_after` (s),
    `rollout_interval` (s between two worker replacements of a rolling update), `omit_fields`
    (optional Endpoint fields the answers leave out), `list_lag` (s before a new endpoint is
    listed), `rate_limits` (RunPod's per-key rate limits: windows, or `"runpod"`; None: off).
    """
    emulator = create_emulator(state, api_key, fail_rate, latency_ms, seed, **options)
    sock = _listen(host, port)

    async def main() -> None:
        stopping = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stopping.set)

        async def shutdown() -> None:
            await stopping.wait()
            emulator.worker_logs.close()  # open log streams end instead of being cut

        await _serve(emulator, sock, _public_url(host, port), shutdown, errorlog="-")

    with asyncio.Runner(loop_factory=_loop_factory(emulator)) as runner:
        runner.run(main())


class BackgroundEmulator:
    """The emulator on a loopback port in a thread of this process; a context manager.

    The socket is bound before the thread starts (port 0 picks a free one), so `url` works
    at once: connections wait in the listen backlog until the server accepts them.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, state: Path | None = None, **options: Any
    ) -> None:
        self.emulator = create_emulator(state, **options)
        self.host = host
        self.port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._running = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundEmulator:
        sock = _listen(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name=f"emulator-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._running.wait(timeout=10):
            raise RuntimeError("the emulator thread did not start within 10 s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self.emulator.worker_logs.close()  # open log streams end instead of being cut
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=15)
        if self._thread.is_alive():
            raise RuntimeError(f"the emulator on port {self.port} did not stop within 15 s")
        self._thread = None
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, sock: socket.socket) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._running.set()
            url = _public_url(self.host, self.port)
            await _serve(self.emulator, sock, url, self._stop.wait)

        try:
            asyncio.run(main())
        except BaseException as err:  # surfaced by start() / stop() in the caller's thread
            self._error = err
            self._running.set()


async def _serve(
    emulator: Emulator,
    sock: socket.socket,
    url: str,
    shutdown_trigger: Callable[[], Awaitable[Any]] | None,
    errorlog: str | None = None,
) -> None:
    """Serve on `sock` until the trigger (None: SIGINT or SIGTERM); the workers stop with the
    server. `errorlog` "-": hypercorn says "Running on http://..." on stderr."""
    fleet = emulator.fleet
    if fleet is None:
        await _serve_hypercorn(_asgi(emulator), sock, shutdown_trigger, errorlog)
        return
    emulator.state.local_base = url
    fleet.start()
    try:
        if uvicorn_installed():
            await _serve_uvicorn(_asgi(emulator), sock, shutdown_trigger)
        else:
            await _serve_hypercorn(_asgi(emulator), sock, shutdown_trigger, errorlog)
    finally:
        try:
            await fleet.stop()
        finally:
            fleet.kill_all()


def uvicorn_installed() -> bool:
    """Whether the load balancer can be served by uvicorn with its C HTTP parser."""
    return bool(importlib.util.find_spec("uvicorn") and importlib.util.find_spec("httptools"))


async def _serve_hypercorn(
    app: ASGIFramework,
    sock: socket.socket,
    shutdown_trigger: Callable[[], Awaitable[Any]] | None,
    errorlog: str | None,
) -> None:
    config = _config([f"fd://{sock.detach()}"])  # hypercorn owns and closes it
    if errorlog is not None:
        config.errorlog = errorlog
    await serve(app, config, mode="asgi", shutdown_trigger=shutdown_trigger)


async def _serve_uvicorn(
    app: ASGIFramework,
    sock: socket.socket,
    shutdown_trigger: Callable[[], Awaitable[Any]] | None,
) -> None:
    """The load balancer's server when uvicorn and httptools are installed: its C parser makes
    the hop a third of hypercorn's CPU cost (bench/b8_emulator.py). Signals stay the
    emulator's: SIGINT and SIGTERM stop it, and the workers with it."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the emulator's own handlers below (uvicorn would re-raise the signal)

    config = uvicorn.Config(
        cast(Any, app),
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=5,
        timeout_graceful_shutdown=1,
    )
    server = Server(config)
    if shutdown_trigger is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        shutdown_trigger = stop.wait

    async def watch(trigger: Callable[[], Awaitable[Any]]) -> None:
        await trigger()
        server.should_exit = True

    watcher = asyncio.get_running_loop().create_task(watch(shutdown_trigger))
    try:
        with sock:
            await server.serve(sockets=[sock])
    finally:
        watcher.cancel()


def _loop_factory(emulator: Emulator) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop for the load balancer when it is installed: it halves the hop's CPU cost."""
    if emulator.fleet is None:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock.listen(1024)
    return sock


def _public_url(host: str, port: int) -> str:
    """The emulator's URL for this machine's clients (a wildcard host is reached on loopback)."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _asgi(emulator: Emulator) -> ASGIFramework:
    # Starlette's and hypercorn's ASGI type aliases differ in detail; both describe ASGI 3.
    app = build_app(emulator)
    if emulator.fleet is not None:
        app = _LoadBalancer(app, emulator.fleet)
    return cast("ASGIFramework", app)


class _LoadBalancer:
    """`/<endpoint id>/...` to the endpoint's workers (fleet.py); the rest to the API."""

    def __init__(self, app: ASGIApp, fleet: Fleet) -> None:
        self.app = app
        self.fleet = fleet

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint_id = scope["path"][1:].partition("/")[0]
            if self.fleet.state.version(endpoint_id):
                await self.fleet.handle(endpoint_id, scope, receive, send)
                return
        await self.app(scope, receive, send)


def _config(binds: list[str]) -> Config:
    config = Config()
    config.bind = binds
    config.errorlog = LOGGER
    config.accesslog = None
    config.graceful_timeout = 1.0
    config.keep_alive_timeout = 5.0
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m flashctl.emulator`: the same options as `flashctl emulator`."""
    parser = argparse.ArgumentParser(
        prog="python -m flashctl.emulator", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--state", type=Path, help="JSON file that keeps endpoints across runs")
    parser.add_argument("--api-key", help="bearer key to require (default: accept any)")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of faulted requests")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each answer")
    parser.add_argument("--seed", type=int, help="seed for the fault sequence")
    parser.add_argument("--worker-ready-delay", type=float, default=0.3, metavar="SECONDS")
    parser.add_argument("--retry-after", type=int, default=1, metavar="SECONDS")
    parser.add_argument("--rollout-interval", type=float, default=0.5, metavar="SECONDS")
    parser.add_argument("--list-lag", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument(
        "--rate-limits",
        metavar="SPEC",
        help="enforce per-key rate limits: `runpod` (RunPod's documented windows) or"
        " NAME=QUOTA/SECONDS,... (default: off)",
    )
    parser.add_argument("--run-workers", action="store_true", help="run the endpoints' workers")
    parser.add_argument("--contexts", type=Path, default=Path(".flashctl/build"))
    parser.add_argument("--worker-ports", default=DEFAULT_PORTS, metavar="LOW-HIGH")
    parser.add_argument("--max-workers", type=int, default=DEFAULT_MAX_WORKERS)
    parser.add_argument("--secrets", type=Path, help="NAME=value lines of secret values")
    parser.add_argument(
        "--worker-wait", type=float, default=DEFAULT_WAIT_SECONDS, metavar="SECONDS"
    )
    parser.add_argument("--workers-from", choices=("auto", "image", "context"), default="auto")
    args = parser.parse_args(argv)
    try:
        workers = None
        if args.run_workers:
            workers = worker_options(
                args.contexts,
                args.worker_ports,
                args.secrets,
                args.max_workers,
                args.worker_wait,
                args.workers_from,
            )
        serve_emulator(
            args.host,
            args.port,
            args.state,
            args.api_key,
            args.fail_rate,
            args.latency_ms,
            args.seed,
            worker_ready_delay=args.worker_ready_delay,
            retry_after=args.retry_after,
            rollout_interval=args.rollout_interval,
            rate_limits=args.rate_limits,
            list_lag=args.list_lag,
            workers=workers,
        )
    except FlashError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        pass
    return 0
