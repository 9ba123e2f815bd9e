"""A whole ASGI app as an endpoint (`app: "main:app"`): the runtime keeps /ping, the refusals,
the limits, the request id, timing and log line, and runs the app's own lifespan; everything
else is the app's. Plain Starlette and raw ASGI apps here (FastAPI: tests/test_asgi_projects.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from flashctl_runtime import create_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from tests.runtime.test_runtime_ping import wait_for_ping


@pytest.fixture
def serve_app(serve: Any) -> Any:
    """``serve_app(app, **settings)`` -> a started TestClient over the service wrapping it."""
    return lambda app, **settings: serve(app=app, **settings)


def items_app(events: list[str] | None = None, startup_seconds: float = 0.0) -> Starlette:
    events = events if events is not None else []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        await asyncio.sleep(startup_seconds)
        events.append("startup")
        yield {"model": "loaded"}
        events.append("shutdown")

    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["item_id"], "model": request.state.model})

    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"size": len(body)})

    async def slow(request: Request) -> PlainTextResponse:
        await asyncio.sleep(float(request.query_params.get("s", "0.3")))
        return PlainTextResponse("done")

    async def broken(request: Request) -> PlainTextResponse:
        raise RuntimeError("boom")

    inner = Starlette(routes=[Route("/{name}", lambda r: PlainTextResponse(r.path_params["name"]))])
    return Starlette(
        routes=[
            Route("/items/{item_id:int}", item),
            Route("/echo", echo, methods=["POST"]),
            Route("/slow", slow),
            Route("/broken", broken),
            Route("/ping", lambda r: PlainTextResponse("the app's own ping")),
            Route("/openapi.json", lambda r: JSONResponse({"openapi": "the app's"})),
            Mount("/sub", app=inner),
        ],
        lifespan=lifespan,
    )


def test_an_app_is_served_with_the_runtimes_headers_and_log_line(serve_app, logged):
    client = serve_app(items_app())
    wait_for_ping(client, 200)
    logged()
    response = client.get("/items/7", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response.json() == {"id": 7, "model": "loaded"}  # lifespan state reaches requests
    assert response.headers["x-request-id"] == "abc-123"
    assert response.headers["server-timing"].startswith("app;dur=")
    assert "traceparent" in response.headers
    assert client.get("/sub/x").text == "x"
    lines = logged("request")
    assert [(line["route"], line["status"]) for line in lines] == [
        ("/items/{item_id:int}", 200),  # the app's route template, not the path
        ("/sub/{name}", 200),
    ]
    assert lines[0]["request_id"] == "abc-123"
    client.get("/no/such/path")
    assert logged("request")[0]["route"] == "/no/such/path"  # unknown: the path


def test_ping_metrics_and_execute_stay_the_runtimes(serve_app):
    client = serve_app(items_app(), metrics=True)
    wait_for_ping(client, 200)
    assert client.get("/ping").json() == {"status": "healthy"}  # not the app's own /ping
    assert client.get("/metrics").status_code == 200
    for path in ("/execute", "/EXECUTE", "/execute/x", "/Ping"):
        assert client.post(path, json={}).status_code == 404, path


def test_ping_is_204_until_the_apps_lifespan_has_started_then_200(serve_app):
    events: list[str] = []
    client = serve_app(items_app(events, startup_seconds=0.5))
    assert client.get("/ping").status_code == 204
    assert client.get("/ping?ready=1").status_code == 503  # Kubernetes' readiness probe
    assert client.get("/items/1").status_code == 503  # routes wait for the start-up too
    wait_for_ping(client, 200)
    assert events == ["startup"]
    client.__exit__(None, None, None)
    assert events == ["startup", "shutdown"]  # the app's own shutdown ran


def test_the_startup_hook_runs_and_then_the_apps_lifespan(serve_app):
    events: list[str] = []
    client = serve_app(items_app(events), startup=lambda: events.append("hook"))
    wait_for_ping(client, 200)
    assert events == ["hook", "startup"]


def test_an_app_whose_startup_fails_is_reported_and_ping_turns_503(serve_app, logged):
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("no model")
        yield

    client = serve_app(Starlette(routes=[], lifespan=lifespan))
    wait_for_ping(client, 503)
    failed = logged("startup_failed")
    assert failed and "no model" in failed[0]["traceback"]


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI 3 app without lifespan support: it raises on anything but HTTP."""
    if scope["type"] != "http":
        raise RuntimeError("http only")
    body = b"raw " + scope["path"].encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_a_raw_asgi_app_without_lifespan_is_served(serve_app):
    client = serve_app(raw_app)
    wait_for_ping(client, 200)
    response = client.get("/anything/at/all")
    assert response.text == "raw /anything/at/all"
    assert "x-request-id" in response.headers


def test_a_body_over_max_body_is_refused_413_declared_or_streamed(serve_app):
    client = serve_app(items_app(), max_body=100)
    wait_for_ping(client, 200)
    assert client.post("/echo", content=b"x" * 100).json() == {"size": 100}
    declared = client.post("/echo", content=b"x" * 101)
    assert declared.status_code == 413
    assert "request_id" in declared.json()

    def chunks() -> Iterator[bytes]:
        for _ in range(5):
            yield b"y" * 40

    streamed = client.post("/echo", content=chunks())  # chunked: no Content-Length
    assert streamed.status_code == 413  # not the app's 500 from its error middleware


def test_request_timeout_answers_504_and_none_means_no_cap(serve_app):
    capped = serve_app(items_app(), request_timeout=0.2)
    wait_for_ping(capped, 200)
    response = capped.get("/slow", params={"s": "5"})
    assert response.status_code == 504
    assert "0.2 s" in response.json()["detail"]
    uncapped = serve_app(items_app(), request_timeout=None)
    wait_for_ping(uncapped, 200)
    assert uncapped.get("/slow", params={"s": "0.3"}).text == "done"


def test_max_concurrency_refuses_the_request_past_it_503(serve_app):
    entered, release = threading.Event(), threading.Event()

    async def wait(request: Request) -> PlainTextResponse:
        entered.set()
        deadline = time.monotonic() + 10
        while not release.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return PlainTextResponse("done")

    client = serve_app(Starlette(routes=[Route("/wait", wait)]), max_concurrency=1)
    wait_for_ping(client, 200)
    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(client.get("/wait").status_code))
    first.start()
    assert entered.wait(10)
    second = client.get("/wait")
    release.set()
    first.join(10)
    assert second.status_code == 503 and second.headers["retry-after"] == "1"
    assert results == [200]


def test_rate_limit_answers_429(serve_app):
    client = serve_app(items_app(), rate_limit=(1, 60.0))
    wait_for_ping(client, 200)
    assert client.get("/items/1").status_code == 200
    limited = client.get("/items/1")
    assert limited.status_code == 429 and "retry-after" in limited.headers


def test_the_apps_own_docs_are_served_only_when_docs_are_on(serve_app):
    off = serve_app(items_app())
    wait_for_ping(off, 200)
    assert off.get("/openapi.json").status_code == 404
    on = serve_app(items_app(), docs=True)
    wait_for_ping(on, 200)
    assert on.get("/openapi.json").json() == {"openapi": "the app's"}


def test_an_app_error_is_500_with_the_request_id_and_logged(serve_app, logged):
    client = serve_app(items_app())
    wait_for_ping(client, 200)
    logged()
    response = client.get("/broken")
    assert response.status_code == 500
    line = logged("request")[0]
    assert line["status"] == 500 and line["error"] == "RuntimeError"


def test_an_app_that_sends_no_response_gets_500(serve_app):
    async def silent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        return None

    client = serve_app(silent)
    wait_for_ping(client, 200)
    assert client.get("/x").status_code == 500


def test_while_draining_ping_is_503_and_the_app_still_serves(serve_app):
    client = serve_app(items_app())
    wait_for_ping(client, 200)
    client.app.drain()  # what the server calls on SIGTERM
    assert client.get("/ping").status_code == 503
    assert client.get("/items/2").status_code == 200  # in-flight and queued requests finish


def test_routes_and_an_app_together_are_refused():
    from flashctl_runtime import Route as RuntimeRoute

    with pytest.raises(ValueError, match="routes or an app"):
        create_app([RuntimeRoute("GET", "/a", lambda: 1)], app=raw_app)


def test_route_templates_read_from_fastapis_included_routers_and_starlettes_mounts():
    from types import SimpleNamespace

    from flashctl_runtime.mounted import route_template

    # FastAPI 0.16x keeps included routers: the route's own path lacks the router's prefix
    fastapi = {
        "route": SimpleNamespace(path="/items/{item_id}"),
        "fastapi": {"effective_route_context": SimpleNamespace(path="/cpu/items/{item_id}")},
    }
    assert route_template(fastapi, "") == "/cpu/items/{item_id}"
    mounted = {"route": SimpleNamespace(path="/{name}"), "root_path": "/svc/sub"}
    assert route_template(mounted, "/svc") == "/sub/{name}"
    assert route_template({}, "") is None


SERVED_APP = """
import asyncio
import contextlib

from flashctl_runtime import Settings, create_app
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

entered = 0


@contextlib.asynccontextmanager
async def lifespan(app):
    print('{"event": "app_started"}', flush=True)
    yield
    print('{"event": "app_stopped"}', flush=True)


async def slow(request):
    global entered
    entered += 1
    await asyncio.sleep(1.0)
    return PlainTextResponse("done")


async def count(request):
    return PlainTextResponse(str(entered))


user_app = Starlette(routes=[Route("/slow", slow), Route("/entered", count)], lifespan=lifespan)
app = create_app([], Settings(title="served", drain_timeout=10.0), app=user_app)
"""


@pytest.mark.slow
@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_sigterm_lets_in_flight_app_requests_finish_then_stops_the_app(tmp_path, server):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from tests.servers import free_port, start_runtime, wait_for_status

    (tmp_path / "served_app.py").write_text(SERVED_APP)
    port = free_port()
    log = tmp_path / "server.log"
    process = start_runtime(tmp_path, "served_app:app", server, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_status(f"{base}/ping", 200, timeout=30, process=process)
        with ThreadPoolExecutor(5) as pool:
            futures = [pool.submit(httpx.get, f"{base}/slow", timeout=15.0) for _ in range(5)]
            deadline = time.monotonic() + 10
            while httpx.get(f"{base}/entered").text != "5":
                assert time.monotonic() < deadline, "the requests never reached the app"
                time.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            responses = [future.result(timeout=15) for future in futures]
        assert [r.text for r in responses] == ["done"] * 5
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    events = [line for line in log.read_text().splitlines() if '"event"' in line]
    order = [e for e in ("app_started", "ready", "draining", "app_stopped", "shutdown")
             if any(f'"{e}"' in line for line in events)]  # fmt: skip
    assert order == ["app_started", "ready", "draining", "app_stopped", "shutdown"]
    first = {e: next(i for i, line in enumerate(events) if f'"{e}"' in line) for e in order}
    assert first["draining"] < first["app_stopped"] < first["shutdown"]
