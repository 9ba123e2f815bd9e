"""The bare Starlette baseline: the seed example's `transform` behind one POST JSON route.

What a user would write by hand without flashctl: parse the JSON body, call the function, answer
JSON (a ValueError as 400), plus `GET /ping`. Served by serve_bare.py with the server settings
the rendered service runs with (worker class, loop, one process, backlog, keep-alive).

With `BASELINE_THREADPOOL=1` the function runs in Starlette's thread pool
(`run_in_threadpool`), the guarantee the runtime gives every sync handler (a blocking handler
never stalls the event loop); by default it is called on the loop, the cheapest hand-written form.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "seed"))

from cpu_worker import transform

THREADPOOL = os.environ.get("BASELINE_THREADPOOL") == "1"


async def transform_route(request: Request) -> JSONResponse:
    body = await request.json()
    try:
        if THREADPOOL:
            result = await run_in_threadpool(transform, body["text"], body["operation"])
        else:
            result = transform(body["text"], body["operation"])
    except ValueError as err:
        return JSONResponse({"detail": str(err)}, status_code=400)
    return JSONResponse(result)


async def ping(request: Request) -> JSONResponse:
    return JSONResponse({"status": "healthy"})


app = Starlette(
    routes=[
        Route("/transform", transform_route, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
    ]
)
