"""Errors and status codes: every failure is JSON with `detail` and `request_id`."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from flashctl_runtime import HTTPError, Route, Settings, create_app


def ok() -> str:
    return "ok"


def test_value_error_gives_400_with_its_message(serve):
    def parse(text: str):
        raise ValueError(f"cannot parse {text!r}")

    client = serve(Route("POST", "/parse", parse))
    response = client.post("/parse", json={"text": "x"})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "cannot parse 'x'",
        "request_id": response.headers["x-request-id"],
    }


def test_http_error_gives_its_status_detail_and_headers(serve):
    async def find(user_id: int):
        raise HTTPError(404, f"no user {user_id}", headers={"x-hint": "try 1"})

    client = serve(Route("GET", "/users/{user_id:int}", find))
    response = client.get("/users/7")
    assert response.status_code == 404
    assert response.json()["detail"] == "no user 7"
    assert response.headers["x-hint"] == "try 1"


def test_unexpected_exception_gives_500_without_traceback(serve):
    def crash():
        raise RuntimeError("secret internals at /srv/model.py")

    client = serve(Route("GET", "/crash", crash))
    response = client.get("/crash")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Internal Server Error",
        "request_id": response.headers["x-request-id"],
    }
    assert "Traceback" not in response.text
    assert "secret" not in response.text


def test_unserializable_result_gives_500_not_400(serve):
    client = serve(Route("GET", "/opaque", lambda: object()))
    assert client.get("/opaque").status_code == 500


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/execute", "/execute/", "/execute/job"])
def test_execute_is_404_for_any_method(serve, method, path):
    client = serve(Route("POST", "/run", ok))
    response = client.request(method, path)
    assert response.status_code == 404
    assert set(response.json()) == {"detail", "request_id"}


def test_execute_is_404_even_where_a_catch_all_route_would_match(serve):
    def anything(name: str, **extra: object):
        return name

    routes = [Route(method, "/{name:path}", anything) for method in ("GET", "POST")]
    client = serve(*routes)
    assert client.get("/other").json() == "other"
    assert client.get("/execute").status_code == 404
    assert client.post("/execute/job", json={"code": "print(1)"}).status_code == 404


def test_unknown_route_gives_404_json(serve):
    client = serve(Route("GET", "/known", ok))
    response = client.get("/unknown")
    assert response.status_code == 404
    assert response.json()["detail"] == "Not Found"
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_wrong_method_gives_405_json_with_allow(serve):
    client = serve(Route("GET", "/items", ok), Route("PUT", "/items", ok))
    response = client.post("/items")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, PUT"
    assert set(response.json()) == {"detail", "request_id"}


def test_head_is_served_for_get_routes_without_a_body(serve):
    client = serve(Route("GET", "/items", ok))
    response = client.head("/items")
    assert response.status_code == 200
    assert response.content == b""


def test_async_handler_over_its_timeout_gives_504(serve):
    async def slow():
        await asyncio.sleep(5)

    client = serve(Route("GET", "/slow", slow, timeout=0.1))
    started = time.monotonic()
    response = client.get("/slow")
    assert response.status_code == 504
    assert time.monotonic() - started < 2
    assert set(response.json()) == {"detail", "request_id"}


def test_sync_handler_over_its_timeout_gives_504_without_waiting_for_the_thread(serve):
    release = threading.Event()

    def blocking():
        release.wait(5)

    client = serve(Route("GET", "/blocking", blocking, timeout=0.1))
    started = time.monotonic()
    try:
        assert client.get("/blocking").status_code == 504
        assert time.monotonic() - started < 2
    finally:
        release.set()


def test_request_timeout_applies_when_the_route_has_none(serve):
    async def slow():
        await asyncio.sleep(5)

    client = serve(Route("GET", "/slow", slow), request_timeout=0.1)
    assert client.get("/slow").status_code == 504


def test_handler_raising_timeout_error_itself_is_a_500(serve):
    async def upstream():
        raise TimeoutError("upstream")

    client = serve(Route("GET", "/upstream", upstream, timeout=5))
    assert client.get("/upstream").status_code == 500


@pytest.mark.parametrize(
    "path", ["/ping", "/ping/", "/execute", "/execute/", "/execute/job", "/execute/{x}"]
)
def test_create_app_refuses_reserved_paths(path):
    with pytest.raises(ValueError, match="reserved"):
        create_app([Route("POST", path, ok)])


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
def test_create_app_refuses_docs_paths_only_when_docs_are_on(path):
    create_app([Route("GET", path, ok)], Settings(docs=False))
    with pytest.raises(ValueError, match="reserved"):
        create_app([Route("GET", path, ok)], Settings(docs=True))


def test_create_app_refuses_a_route_declared_twice():
    with pytest.raises(ValueError, match="twice"):
        create_app([Route("GET", "/a", ok), Route("get", "/a", ok)])


def test_create_app_refuses_a_path_parameter_the_handler_does_not_take():
    with pytest.raises(ValueError, match="user_id"):
        create_app([Route("GET", "/users/{user_id}", ok)])


def test_create_app_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="TRACE"):
        create_app([Route("TRACE", "/a", ok)])


def test_http_error_refuses_a_status_that_is_not_an_error():
    with pytest.raises(ValueError):
        HTTPError(200)
