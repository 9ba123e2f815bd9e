"""Serve a handler service: the container's command and ``flashctl dev``'s.

    python -m flashctl_runtime.serve handler_service:app --server hypercorn --port 8000

With one worker the app is served in this process: hypercorn's supervisor plus one child
would import everything twice and double the cold start. SIGTERM (or Ctrl-C) drains: the
listener closes, ``/ping`` answers 503, in-flight requests get ``--graceful-timeout`` seconds
(default: the app's ``Settings.drain_timeout``), then the process exits 0. With ``--workers N``
each of N processes does the same on one shared socket (see ``serve_workers``).

Hypercorn runs on uvloop when it is installed. Measured on the 2-core development machine
(shared, so noisy: medians of 5 interleaved runs of wrk -t1 -c32 -d3s on a POST JSON route, and
the server's CPU time per request from /proc): the uvloop worker took ~5-15% less CPU per
request than the asyncio one (bare Starlette 582 against 652 us); hypercorn's pure-Python
HTTP/1.1 parsing (h11) is most of the cost either way. Serving in-process halves the cold start:
spawn to first ``/ping`` 200 in ~290 ms against ~575 ms for hypercorn's supervisor plus one
worker (uvicorn in-process: ~410 ms). On uvicorn, uvloop + httptools serve the same app at
~3-4x hypercorn's requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import logs, wire


@dataclass(frozen=True)
class Options:
    app: str
    server: str
    host: str
    port: int
    workers: int
    keep_alive: float
    graceful_timeout: float | None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m flashctl_runtime.serve")
    parser.add_argument("app", help="module:attribute of the ASGI app, e.g. handler_service:app")
    parser.add_argument("--server", choices=("hypercorn", "uvicorn"), default="hypercorn")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--keep-alive", type=float, default=5.0, help="idle seconds per connection")
    parser.add_argument("--graceful-timeout", type=float, default=None, help="seconds to drain")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers has value {args.workers}. Must be >= 1.")
    return Options(
        app=args.app,
        server=args.server,
        host=args.host,
        port=args.port,
        workers=args.workers,
        keep_alive=args.keep_alive,
        graceful_timeout=args.graceful_timeout,
    )


def load(target: str) -> Any:
    """Import ``module:attribute`` with the working directory importable, as servers do."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"App {target!r} must look like module:attribute")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise SystemExit(f"App {target!r}: module {module_name!r} has no {attribute!r}") from None


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _drainer(app: Any) -> Callable[[], None]:
    drain = getattr(app, "drain", None)
    return drain if callable(drain) else (lambda: None)


def _graceful(app: Any, options: Options) -> float:
    if options.graceful_timeout is not None:
        return options.graceful_timeout
    settings = getattr(app, "settings", None)
    return float(getattr(settings, "drain_timeout", 30.0))


def _bind(options: Options) -> str:
    host = f"[{options.host}]" if ":" in options.host else options.host
    return f"{host}:{options.port}"


def _hypercorn_config(options: Options, graceful: float) -> Any:
    from hypercorn.config import Config

    config = Config()
    config.bind = [_bind(options)]
    config.keep_alive_timeout = options.keep_alive  # also bounds an idle or half-sent head
    config.h11_max_incomplete_size = wire.MAX_HEAD_BYTES  # then 431 and closed
    config.graceful_timeout = graceful
    config.backlog = 2048  # hypercorn's 100 drops connections under a load test's burst
    config.accesslog = None  # the app writes one JSON line per request itself
    config.loglevel = "WARNING"
    config.workers = options.workers
    config.worker_class = "uvloop" if _available("uvloop") else "asyncio"
    config.application_path = options.app
    return config


def _uvicorn_settings(options: Options, graceful: float) -> dict[str, Any]:
    """uvicorn's settings for both modes, in-process and with workers (as `_hypercorn_config`)."""
    return {
        "host": options.host,
        "port": options.port,
        "loop": "uvloop" if _available("uvloop") else "asyncio",
        "http": _uvicorn_http(),
        "h11_max_incomplete_event_size": wire.MAX_HEAD_BYTES,  # h11 only; see uvicorn_http
        "lifespan": "on",
        "access_log": False,  # the app writes one JSON line per request itself
        "log_level": "warning",
        "timeout_keep_alive": int(options.keep_alive),
        "timeout_graceful_shutdown": int(graceful),
        "backlog": 2048,  # uvicorn's default too; said here as hypercorn's is
        # X-Forwarded-For is read by the app (Settings.trusted_proxies), as under hypercorn
        "proxy_headers": False,
    }


def _end_closed_connections_at_once() -> None:
    """Hypercorn (0.18) keeps a connection the client closed while idle for ``keep_alive``
    seconds: on EOF its reader returns, but the keep-alive timer still runs in the connection's
    task group, which waits for it before the connection is torn down. Its ~13 KB of objects
    live that long, so RSS climbs to (connections a second x keep_alive x 13 KB) and the
    allocator does not give it back (5,000 short connections: 35 -> 102 MB). Stop the timer as
    soon as the reader has seen EOF. Upstream: pgjones/hypercorn#119 (memory that grows with
    requests, suspected tasks held); see also #235 on the idle wait at EOF."""
    from hypercorn.asyncio.tcp_server import TCPServer

    read_data = getattr(TCPServer, "_read_data", None)
    if read_data is None or getattr(read_data, "ends_idle_timer", False):
        return  # another hypercorn: leave it as it is

    async def _read_data(self: Any) -> None:
        try:
            await read_data(self)
        finally:
            idle = getattr(self, "idle_task", None)
            if idle is not None:
                await idle.stop()

    _read_data.ends_idle_timer = True  # type: ignore[attr-defined]
    TCPServer._read_data = _read_data  # type: ignore[method-assign]


def _uvicorn_http() -> Any:
    if not _available("httptools"):
        return "h11"
    from .uvicorn_http import BoundedHttpToolsProtocol

    return BoundedHttpToolsProtocol


def serve_hypercorn(app: Any, options: Options, sock: socket.socket | None = None) -> None:
    from hypercorn.asyncio import serve

    from . import hypercorn_http

    hypercorn_http.install()
    _end_closed_connections_at_once()
    config = _hypercorn_config(options, _graceful(app, options))
    if sock is not None:  # a worker: the supervisor's listening socket
        config.bind = [f"fd://{sock.fileno()}"]
        config.workers = 1

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)

        async def shutdown_trigger() -> None:
            await stop.wait()
            _drainer(app)()  # /ping turns 503 before hypercorn closes the listener

        await serve(app, config, shutdown_trigger=shutdown_trigger)

    if _available("uvloop"):
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def serve_uvicorn(app: Any, options: Options, sock: socket.socket | None = None) -> None:
    import uvicorn

    drain = _drainer(app)

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # a signal handler must not write logs itself: hand the drain to the loop
            try:
                asyncio.get_running_loop().call_soon_threadsafe(drain)
            except RuntimeError:
                drain()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, **_uvicorn_settings(options, _graceful(app, options)))
    # uvicorn re-raises the signal it caught once it has stopped; with the default handler that
    # would kill the process by SIGTERM after a clean drain, so the exit status would not be 0.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    DrainingServer(config).run(sockets=None if sock is None else [sock])


def serve_workers(options: Options) -> int:
    """``--workers N``: N processes accept on one listening socket, each serving the app as the
    one-process mode does, so each drains on SIGTERM (``/ping`` 503 on open connections).

    This process only supervises. On SIGTERM or SIGINT it closes its copy of the socket and
    passes SIGTERM on; once the workers have closed theirs, new connections are refused rather
    than queued where nobody will accept them (uvicorn's and hypercorn's supervisors keep the
    socket open until their workers have exited). A worker that exits unasked (a failed
    import, a crash) stops the others and the process exits 1: the orchestrator restarts it.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    listener = _listen(options)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_worker, args=(options, listener, index), name=f"worker-{index}")
        for index in range(options.workers)
    ]
    for worker in workers:
        worker.start()
    failed = False
    while not stopping.is_set() and not failed:
        wait([worker.sentinel for worker in workers], timeout=0.2)
        failed = any(worker.exitcode is not None for worker in workers)
    listener.close()
    for worker in workers:
        if worker.exitcode is None:
            worker.terminate()  # SIGTERM: the worker drains
    for worker in workers:
        worker.join()
    codes = [worker.exitcode for worker in workers]
    if failed or any(codes):
        logs.emit("workers_failed", level="error", exit_codes=codes)
        return 1
    return 0


def _listen(options: Options) -> socket.socket:
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((options.host, options.port))
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def _worker(options: Options, listener: socket.socket, index: int) -> None:
    from .metrics import WORKER_ENV

    os.environ[WORKER_ENV] = str(index)  # the `worker` label of this process's metrics
    sys.exit(serve_one(options, listener))


def serve_one(options: Options, listener: socket.socket | None = None) -> int:
    """Import the app and serve it in this process until SIGTERM; the exit status."""
    try:
        app = load(options.app)
    except Exception as err:  # the service's own import failed: say so as a log line
        logs.emit(
            "startup_failed",
            level="error",
            error=type(err).__name__,
            traceback="".join(traceback.format_exception(err)),
        )
        return 1
    if options.server == "uvicorn":
        serve_uvicorn(app, options, listener)
    else:
        serve_hypercorn(app, options, listener)
    stuck = _stuck_threads(grace=1.0)
    logs.emit("exit", pid=os.getpid(), stuck_threads=stuck)
    if stuck:
        # Python joins every non-daemon thread at exit; a handler blocked past the drain would
        # keep the process alive until the orchestrator kills it, so leave without waiting.
        sys.stderr.flush()
        os._exit(0)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    logs.emit(
        "serve",
        server=options.server,
        bind=_bind(options),
        workers=options.workers,
        pid=os.getpid(),
    )
    if options.workers > 1:
        status = serve_workers(options)
        logs.emit("exit", pid=os.getpid())
        return status
    return serve_one(options)


def _stuck_threads(grace: float) -> int:
    """How many non-daemon threads are still running ``grace`` seconds from now."""
    deadline = time.monotonic() + grace
    others = [
        thread
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and not thread.daemon
    ]
    for thread in others:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(thread.is_alive() for thread in others)


if __name__ == "__main__":
    sys.exit(main())
