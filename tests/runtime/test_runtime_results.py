"""Results: JSON, bytes, a Starlette Response, and generators streamed as NDJSON or SSE."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator

from flashctl_runtime import HTTPError, Route
from starlette.responses import PlainTextResponse


def count(n: int = 3) -> Iterator[dict[str, int]]:
    for i in range(n):
        yield {"i": i}


async def acount(n: int = 3) -> AsyncIterator[dict[str, int]]:
    for i in range(n):
        await asyncio.sleep(0)
        yield {"i": i}


def test_json_able_result_is_200_json(serve):
    client = serve(Route("GET", "/value", lambda: {"a": [1, 2.5, None, "é"]}))
    response = client.get("/value")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == '{"a":[1,2.5,null,"é"]}'.encode()


def test_dataclass_and_array_like_results_are_json(serve):
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    class Array:
        def tolist(self) -> list[int]:
            return [1, 2]

    client = serve(
        Route("GET", "/point", lambda: Point(1, 2)), Route("GET", "/array", lambda: Array())
    )
    assert client.get("/point").json() == {"x": 1, "y": 2}
    assert client.get("/array").json() == [1, 2]


def test_nan_and_infinity_are_sent_as_null(serve):
    class Array:
        def tolist(self) -> list[float]:
            return [1.0, float("-inf")]

    def overflow():
        return {"values": [float("inf"), 2.5, float("nan")], "array": Array(), "label": "NaN"}

    client = serve(Route("GET", "/overflow", overflow))
    response = client.get("/overflow")
    assert response.status_code == 200
    assert response.json() == {"values": [None, 2.5, None], "array": [1.0, None], "label": "NaN"}


def test_bytes_result_is_octet_stream(serve):
    client = serve(Route("GET", "/blob", lambda: b"\x89PNG"))
    response = client.get("/blob")
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == b"\x89PNG"


def test_starlette_response_is_passed_through_with_runtime_headers(serve):
    def teapot():
        return PlainTextResponse("short and stout", status_code=418, headers={"x-pot": "1"})

    client = serve(Route("GET", "/teapot", teapot))
    response = client.get("/teapot", headers={"x-request-id": "tea-1"})
    assert response.status_code == 418
    assert response.text == "short and stout"
    assert response.headers["x-pot"] == "1"
    assert response.headers["x-request-id"] == "tea-1"
    assert response.headers["server-timing"].startswith("app;dur=")


def test_sync_generator_streams_ndjson(serve):
    client = serve(Route("GET", "/count", count))
    response = client.get("/count?n=3")
    assert response.headers["content-type"] == "application/x-ndjson"
    assert [json.loads(line) for line in response.text.splitlines()] == [
        {"i": 0},
        {"i": 1},
        {"i": 2},
    ]


def test_async_generator_streams_ndjson(serve):
    client = serve(Route("GET", "/count", acount))
    response = client.get("/count?n=2")
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.text == '{"i":0}\n{"i":1}\n'


def test_sync_generator_streams_events_when_accept_asks(serve):
    client = serve(Route("GET", "/count", count))
    response = client.get("/count?n=2", headers={"accept": "text/event-stream"})
    assert response.headers["content-type"] == "text/event-stream"
    assert response.text == 'data: {"i":0}\n\ndata: {"i":1}\n\n'


def test_async_generator_streams_events_when_accept_asks(serve):
    client = serve(Route("POST", "/count", acount))
    response = client.post("/count", json={"n": 2}, headers={"accept": "text/event-stream"})
    assert response.text == 'data: {"i":0}\n\ndata: {"i":1}\n\n'


def test_empty_generator_is_an_empty_stream(serve):
    client = serve(Route("GET", "/count", count))
    response = client.get("/count?n=0")
    assert response.status_code == 200
    assert response.content == b""


def test_generator_failing_before_its_first_item_gets_its_status(serve):
    def refuse():
        raise HTTPError(409, "busy")
        yield  # pragma: no cover - makes this a generator

    client = serve(Route("GET", "/refuse", refuse))
    response = client.get("/refuse")
    assert response.status_code == 409
    assert response.json()["detail"] == "busy"


def test_generator_raising_value_error_before_its_first_item_gives_400(serve):
    async def check(n: int):
        if n < 0:
            raise ValueError("n must be >= 0")
        yield n

    client = serve(Route("GET", "/check", check))
    response = client.get("/check?n=-1")
    assert response.status_code == 400
    assert response.json()["detail"] == "n must be >= 0"


def test_generator_failing_midway_ends_with_an_error_record(serve):
    async def partial():
        yield {"i": 0}
        raise RuntimeError("model crashed")

    client = serve(Route("GET", "/partial", partial))
    lines = [json.loads(line) for line in client.get("/partial").text.splitlines()]
    assert lines[0] == {"i": 0}
    assert lines[1]["error"]["status"] == 500
    assert lines[1]["error"]["detail"] == "Internal Server Error"


def test_sync_handler_returning_a_generator_is_streamed(serve):
    def make():
        return (i * i for i in range(3))

    client = serve(Route("GET", "/squares", make))
    assert client.get("/squares").text == "0\n1\n4\n"
