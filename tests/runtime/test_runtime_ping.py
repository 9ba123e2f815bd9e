"""/ping and the startup hook: 204 while it runs, 200 when ready, 503 if it failed or draining."""

from __future__ import annotations

import asyncio
import threading
import time

from flashctl_runtime import Route, Settings, create_app
from starlette.testclient import TestClient


def wait_for_ping(client: TestClient, status: int, query: str = "", timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = client.get("/ping" + query).status_code
        if seen == status:
            return
        time.sleep(0.02)
    raise AssertionError(f"/ping{query} did not answer {status} within {timeout}s (last {seen})")


def test_ping_is_200_healthy_without_a_startup_hook(serve):
    client = serve(Route("GET", "/a", lambda: "a"))
    response = client.get("/ping")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


def test_ping_is_204_while_the_startup_hook_runs_then_200(serve):
    release = threading.Event()
    client = serve(Route("GET", "/a", lambda: "a"), startup=lambda: release.wait(5))
    try:
        response = client.get("/ping")
        assert response.status_code == 204
        assert response.content == b""
    finally:
        release.set()
    wait_for_ping(client, 200)


def test_ready_probe_is_503_until_the_hook_finishes(serve):
    release = threading.Event()
    client = serve(Route("GET", "/a", lambda: "a"), startup=lambda: release.wait(5))
    try:
        assert client.get("/ping?ready=1").status_code == 503
    finally:
        release.set()
    wait_for_ping(client, 200, "?ready=1")


def test_routes_answer_503_until_the_service_is_ready(serve):
    release = threading.Event()
    client = serve(Route("GET", "/a", lambda: "a"), startup=lambda: release.wait(5))
    try:
        response = client.get("/a")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
    finally:
        release.set()
    wait_for_ping(client, 200)
    assert client.get("/a").status_code == 200


def test_async_startup_hook_runs_in_the_background(serve):
    async def load():
        await asyncio.sleep(0.2)

    client = serve(Route("GET", "/a", lambda: "a"), startup=load)
    assert client.get("/ping").status_code == 204
    wait_for_ping(client, 200)


def test_failing_startup_hook_gives_503_and_is_logged(serve, logged):
    def load():
        raise RuntimeError("weights missing")

    client = serve(Route("GET", "/a", lambda: "a"), startup=load)
    wait_for_ping(client, 503)
    assert client.get("/ping?ready=1").status_code == 503
    assert client.get("/a").status_code == 503
    [failure] = logged("startup_failed")
    assert failure["level"] == "error"
    assert failure["error"] == "RuntimeError"


def test_ping_is_503_while_draining_but_routes_still_answer(serve):
    client = serve(Route("GET", "/a", lambda: "a"))
    client.app.drain()  # what the server calls on SIGTERM
    assert client.get("/ping").status_code == 503
    assert client.get("/a").status_code == 200


def test_a_hook_is_run_once_per_start(serve):
    calls: list[int] = []
    client = serve(Route("GET", "/a", lambda: "a"), startup=lambda: calls.append(1))
    wait_for_ping(client, 200)
    assert calls == [1]


def test_without_lifespan_a_service_with_a_hook_is_not_ready():
    app = create_app([Route("GET", "/a", lambda: "a")], Settings(startup=lambda: None))
    client = TestClient(app)  # no `with`: the server never started the app
    assert client.get("/ping").status_code == 204


def test_health_check_path_answers_as_ping_and_ping_still_does(serve, monkeypatch):
    monkeypatch.setenv("HEALTH_CHECK_PATH", "/healthz")  # RunPod's setting, from the endpoint env
    release = threading.Event()
    client = serve(Route("GET", "/a", lambda: "a"), startup=lambda: release.wait(5))
    try:
        assert client.get("/healthz").status_code == 204
        assert client.get("/healthz?ready=1").status_code == 503
    finally:
        release.set()
    wait_for_ping(client, 200)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "healthy"}
    assert client.post("/healthz").status_code == 405
    assert client.get("/a").status_code == 200
