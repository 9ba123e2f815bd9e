"""Serve the bare Starlette baseline the way `flashctl_runtime.serve` serves a service, without it.

    python serve_bare.py hypercorn|uvicorn PORT

The same server settings as runtime/serve.py for one worker (in-process, uvloop; hypercorn:
keep-alive 5 s, backlog 2048, no access log; uvicorn: httptools, lifespan on, no access log,
backlog 2048), but importing only the server and Starlette: served through
`python -m flashctl_runtime.serve`, the baseline would also import the whole runtime package
(its `__init__` builds on `app`), and its cold start would include ours.
"""

import asyncio
import signal
import sys

import uvloop
from starlette_app import app


def hypercorn(port: int) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.keep_alive_timeout = 5.0
    config.graceful_timeout = 30.0
    config.backlog = 2048
    config.accesslog = None
    config.loglevel = "WARNING"
    config.worker_class = "uvloop"

    async def main() -> None:
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await serve(app, config, shutdown_trigger=stop.wait)

    uvloop.run(main())


def uvicorn(port: int) -> None:
    import uvicorn as server

    config = server.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=5,
        backlog=2048,
    )
    server.Server(config).run()


if __name__ == "__main__":
    {"hypercorn": hypercorn, "uvicorn": uvicorn}[sys.argv[1]](int(sys.argv[2]))
