"""Request and response bodies: JSON, msgpack, size limits and content types."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import msgpack
import pytest
from flashctl_runtime import Route
from flashctl_runtime.bodies import read_body
from flashctl_runtime.errors import BodyTooLarge
from starlette.requests import Request


def add(x: int, y: int) -> int:
    return x + y


def stats(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "max": max(values)}


def test_msgpack_body_is_decoded_by_content_type(serve):
    client = serve(Route("POST", "/add", add))
    response = client.post(
        "/add",
        content=msgpack.packb({"x": 2, "y": 3}),
        headers={"content-type": "application/msgpack"},
    )
    assert response.status_code == 200
    assert response.json() == 5


def test_msgpack_result_when_accept_asks_for_it(serve):
    client = serve(Route("POST", "/stats", stats))
    response = client.post(
        "/stats", json={"values": [3, 1.5, 2]}, headers={"accept": "application/msgpack"}
    )
    assert response.headers["content-type"] == "application/msgpack"
    assert msgpack.unpackb(response.content) == {"min": 1.5, "max": 3}


def test_msgpack_round_trip_in_and_out(serve):
    def echo(blob: bytes | None = None, items: list[int] | None = None):
        return {"blob": blob, "items": items}

    client = serve(Route("POST", "/echo", echo))
    payload = {"blob": b"\x00\x01", "items": [1, 2]}
    response = client.post(
        "/echo",
        content=msgpack.packb(payload, use_bin_type=True),
        headers={"content-type": "application/msgpack", "accept": "application/msgpack"},
    )
    assert msgpack.unpackb(response.content) == payload


def test_bad_msgpack_gives_422(serve):
    client = serve(Route("POST", "/add", add))
    response = client.post("/add", content=b"\xc1", headers={"content-type": "application/msgpack"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "msgpack_invalid"


def test_bad_json_gives_422(serve):
    client = serve(Route("POST", "/add", add))
    response = client.post(
        "/add", content=b'{"x": 1,', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["type"] == "json_invalid"
    assert problem["loc"][0] == "body"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_and_give_422(serve, token):
    client = serve(Route("POST", "/add", add))
    body = f'{{"a": {token}, "b": 1}}'.encode()
    response = client.post("/add", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["type"] == "json_invalid"
    assert token.lstrip("-") in problem["msg"]


def test_body_that_is_not_an_object_gives_422(serve):
    client = serve(Route("POST", "/add", add))
    response = client.post("/add", json=[1, 2])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_json_with_charset_and_no_content_type_are_accepted(serve):
    client = serve(Route("POST", "/add", add))
    with_charset = client.post(
        "/add",
        content=b'{"x":1,"y":1}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert with_charset.json() == 2
    bare = client.post("/add", content=b'{"x":1,"y":2}', headers={"content-type": ""})
    assert bare.json() == 3


def test_unsupported_content_type_gives_415(serve):
    client = serve(Route("POST", "/add", add))
    response = client.post("/add", content=b"x=1", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert "text/plain" in response.json()["detail"]


def test_body_over_the_routes_max_body_gives_413(serve):
    client = serve(Route("POST", "/add", add, max_body=16))
    response = client.post("/add", json={"x": 1, "y": 2, "padding": "x" * 32})
    assert response.status_code == 413
    assert set(response.json()) == {"detail", "request_id"}


def test_settings_max_body_applies_when_the_route_has_none(serve):
    client = serve(Route("POST", "/add", add), max_body=16)
    assert client.post("/add", json={"x": 1, "y": 2}).status_code == 200
    assert client.post("/add", json={"x": 1, "y": 2, "z": "0" * 20}).status_code == 413


def test_streamed_body_is_refused_once_it_passes_the_limit(serve):
    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            yield b"0123456789"

    def size(data: bytes):
        return len(data)

    client = serve(Route("POST", "/size", size, max_body=25))
    response = client.post("/size", content=chunks())  # chunked: no Content-Length
    assert response.status_code == 413


def test_body_reading_stops_at_the_chunk_that_passes_the_limit():
    calls = 0

    async def endless() -> dict[str, object]:
        nonlocal calls
        calls += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    with pytest.raises(BodyTooLarge):
        anyio.run(read_body, endless, 3000)
    assert calls == 3


def test_request_handler_reading_too_much_gets_413(serve):
    async def raw(request: Request):
        return len(await request.body())

    client = serve(Route("POST", "/raw", raw, max_body=8))
    assert client.post("/raw", content=iter([b"1234", b"5678", b"9"])).status_code == 413
    assert client.post("/raw", content=iter([b"1234", b"5678"])).json() == 8


def test_bad_content_length_gives_400(serve):
    client = serve(Route("POST", "/add", add))
    response = client.post(
        "/add",
        content=b"{}",
        headers={"content-length": "lots", "content-type": "application/json"},
    )
    assert response.status_code == 400
