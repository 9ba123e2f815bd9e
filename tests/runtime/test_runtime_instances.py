"""Class handlers: one instance per service, created (and set up) before /ping turns 200,
methods bound like functions, sync ones in the thread pool."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading

import httpx
import pytest
from flashctl_runtime import Method, Route

from tests.runtime.test_runtime_ping import wait_for_ping
from tests.servers import free_port, stop, wait_for_status


def counting_class() -> type:
    class Model:
        created = 0

        def __init__(self) -> None:
            type(self).created += 1
            self.weights = 2
            self.threads: list[str] = []

        def scale(self, x: int) -> dict:
            """Multiply by the weights."""
            self.threads.append(threading.current_thread().name)
            return {"y": x * self.weights}

        async def info(self) -> dict:
            return {"weights": self.weights, "created": type(self).created}

        def item(self, item_id: int, verbose: bool = False) -> dict:
            return {"id": item_id, "verbose": verbose}

    return Model


def test_one_instance_serves_every_route_of_its_class(serve):
    model = counting_class()
    client = serve(
        Route("POST", "/scale", Method(model, "scale")),
        Route("GET", "/info", Method(model, "info")),
    )
    wait_for_ping(client, 200)
    assert client.post("/scale", json={"x": 3}).json() == {"y": 6}
    assert client.post("/scale", json={"x": 4}).json() == {"y": 8}
    assert client.get("/info").json() == {"weights": 2, "created": 1}
    assert model.created == 1


def test_methods_bind_path_query_and_body_without_self(serve):
    model = counting_class()
    client = serve(
        Route("GET", "/items/{item_id}", Method(model, "item")),
        Route("POST", "/scale", Method(model, "scale")),
    )
    wait_for_ping(client, 200)
    assert client.get("/items/7?verbose=true").json() == {"id": 7, "verbose": True}
    assert client.post("/scale", json={"x": "nope"}).status_code == 422
    refused = client.post("/scale", json={"x": 1, "self": 2})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "self"]


def test_sync_methods_run_in_the_thread_pool(serve):
    model = counting_class()
    client = serve(Route("POST", "/scale", Method(model, "scale")))
    wait_for_ping(client, 200)
    client.post("/scale", json={"x": 1})
    seen = client.app.methods[0].bound.__self__.threads  # type: ignore[attr-defined]
    assert seen and all(name.startswith("flashctl-handler-") for name in seen)


def test_ping_is_204_and_routes_503_until_the_instance_exists(serve):
    release = threading.Event()

    class Slow:
        def __init__(self) -> None:
            release.wait(5)

        def hello(self) -> str:
            return "hi"

    client = serve(Route("GET", "/hello", Method(Slow, "hello")))
    try:
        assert client.get("/ping").status_code == 204
        assert client.get("/hello").status_code == 503
    finally:
        release.set()
    wait_for_ping(client, 200)
    assert client.get("/hello").json() == "hi"


@pytest.mark.parametrize("style", ["sync", "async"])
def test_setup_runs_once_after_init_before_ready(serve, style):
    calls: list[str] = []

    class Sync:
        def __init__(self) -> None:
            calls.append("init")

        def setup(self) -> None:
            calls.append(f"setup in {threading.current_thread().name}")

        def ready(self) -> list[str]:
            return calls

    class Async(Sync):
        async def setup(self) -> None:  # type: ignore[override]
            await asyncio.sleep(0)
            calls.append("async setup")

    cls = Sync if style == "sync" else Async
    client = serve(
        Route("GET", "/a", Method(cls, "ready")), Route("GET", "/b", Method(cls, "ready"))
    )
    wait_for_ping(client, 200)
    expected = "async setup" if style == "async" else "setup in flashctl-handler-0"
    assert client.get("/a").json() == ["init", expected]


def test_a_failing_constructor_fails_the_start(serve, logged):
    class Broken:
        def __init__(self) -> None:
            raise RuntimeError("no weights")

        def hello(self) -> str:
            return "hi"

    client = serve(Route("GET", "/hello", Method(Broken, "hello")))
    wait_for_ping(client, 503)
    assert client.get("/hello").status_code == 503
    [failed] = logged("startup_failed")
    assert failed["error"] == "RuntimeError"


def test_the_startup_hook_runs_before_the_instances(serve):
    calls: list[str] = []

    class Model:
        def __init__(self) -> None:
            calls.append("init")

        def hello(self) -> list[str]:
            return calls

    client = serve(Route("GET", "/h", Method(Model, "hello")), startup=lambda: calls.append("hook"))
    wait_for_ping(client, 200)
    assert client.get("/h").json() == ["hook", "init"]


def test_openapi_lists_the_method_without_self(serve):
    model = counting_class()
    client = serve(Route("POST", "/scale", Method(model, "scale")), docs=True)
    operation = client.get("/openapi.json").json()["paths"]["/scale"]["post"]
    assert operation["summary"] == "Multiply by the weights."
    assert list(
        operation["requestBody"]["content"]["application/json"]["schema"]["properties"]
    ) == ["x"]


@pytest.mark.parametrize("name", ["missing", "created", "helper"])
def test_a_name_that_is_not_a_plain_method_is_refused(name):
    class Model:
        created = 0

        @staticmethod
        def helper() -> None:
            return None

    with pytest.raises(ValueError, match=f"Model.{name} is not a method"):
        Method(Model, name)


WORKER_APP = """
import os

from flashctl_runtime import Method, Route, Settings, create_app

CREATED = []


class Model:
    def __init__(self):
        CREATED.append(os.getpid())

    def who(self) -> dict:
        return {"pid": os.getpid(), "instance": id(self), "created": len(CREATED)}


app = create_app([Route("GET", "/who", Method(Model, "who"))], Settings(title="workers"))
"""


@pytest.mark.slow
def test_each_worker_process_creates_its_own_single_instance(tmp_path):
    (tmp_path / "worker_app.py").write_text(WORKER_APP)
    port = free_port()
    command = [sys.executable, "-m", "flashctl_runtime.serve", "worker_app:app", "--host"]
    command += ["127.0.0.1", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_for_status(f"http://127.0.0.1:{port}/ping", 200, timeout=30, process=server)
        seen: dict[int, set[int]] = {}
        for _ in range(40):  # a new connection each time: either worker may answer
            answer = httpx.get(f"http://127.0.0.1:{port}/who", timeout=10)
            if answer.status_code != 200:  # the other worker may still be starting (503)
                continue
            who = answer.json()
            assert who["created"] == 1, who
            seen.setdefault(who["pid"], set()).add(who["instance"])
        assert seen and all(len(instances) == 1 for instances in seen.values()), seen
        assert server.pid not in seen  # the supervisor serves nothing itself
    finally:
        output = stop(server, signal.SIGTERM)
    assert "Traceback" not in output, output
