"""What the service refuses before routing, and hostile bodies: the rules of issue 13 checked
in-process (the raw-socket corpus in test_runtime_wire.py checks them through both servers).

Paths go straight to the ASGI app, since HTTP clients resolve dot segments before sending.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import msgpack
import pytest
from flashctl_runtime import Route, Settings, create_app
from flashctl_runtime.wire import MAX_HEADERS, path_problem


def echo(value: Any = None) -> Any:
    return value


def anything(path: str) -> dict[str, str]:
    return {"caught": path}


def item(item_id: int) -> int:
    return item_id


def blob() -> dict[str, bytes]:
    return {"b": b"\x00"}


APP = create_app(
    [
        Route("POST", "/echo", echo),
        Route("GET", "/blob", blob),
        Route("GET", "/items/{item_id:int}", item),
        Route("GET", "/{path:path}", anything),
    ],
    Settings(docs=True),
)


def call(
    path: str,
    *,
    raw_path: bytes | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    version: str = "1.1",
) -> tuple[int, dict[bytes, bytes], Any]:
    """One GET through the ASGI app with the scope a server would build."""
    scope = {
        "type": "http",
        "http_version": version,
        "method": "GET",
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers if headers is not None else [(b"host", b"t")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(APP, scope, receive, send)
    head = dict(sent[0]["headers"])
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return sent[0]["status"], head, json.loads(body)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/a//b", "has an empty segment (//)"),
        ("/./execute", "has a dot segment (/./ or /../)"),
        ("/a/..", "has a dot segment (/./ or /../)"),
        ("/a\\b", "has a backslash"),
        ("x", "must start with /"),
        ("/execute\x00", "has an encoded control character"),
        ("/execute\t", "has an encoded control character"),
    ],
)
def test_ambiguous_paths_are_named(path, problem):
    assert path_problem(path, None) == problem


@pytest.mark.parametrize("path", ["/", "/a/b", "/.well-known/x", "/a/.b", "/v1.2/x", "/a..b/c"])
def test_plain_paths_have_no_problem(path):
    assert path_problem(path, path.encode()) is None


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/./execute", b"/%2e/execute"),
        ("//execute", b"/%2Fexecute"),
        ("/a/../execute", b"/a/../execute"),
        ("/a\\execute", b"/a%5cexecute"),
        ("/files/a/b", b"/files/a%2Fb"),
    ],
)
def test_dot_segments_and_encoded_slashes_are_400_not_routed(path, raw):
    status, _, body = call(path, raw_path=raw)
    assert status == 400
    assert body["detail"].startswith("Path ")


@pytest.mark.parametrize(
    "path",
    [
        "/EXECUTE",
        "/Execute/run",
        "/execute ",
        "/ execute",
        "/execute;x",
        "/execute/",
        "/PING",
        "/ping/",
        "/Docs",
    ],
)
def test_other_spellings_of_the_runtime_s_paths_are_404(path):
    status, _, body = call(path)
    assert (status, body["detail"]) == (404, "Not Found")


def test_a_catch_all_still_serves_ordinary_paths():
    assert call("/files/a.txt")[2] == {"caught": "files/a.txt"}
    assert call("/ping")[2] == {"status": "healthy"}


@pytest.mark.parametrize(
    "framing",
    [
        [(b"content-length", b"6"), (b"transfer-encoding", b"chunked")],
        [(b"transfer-encoding", b"chunked"), (b"content-length", b"6")],
        [(b"content-length", b"6"), (b"content-length", b"0")],
    ],
)
def test_two_framings_are_400_and_close_the_connection(framing):
    status, head, _ = call("/ok", headers=[(b"host", b"t"), *framing])
    assert status == 400
    assert head[b"connection"] == b"close"


@pytest.mark.parametrize("version", ["9.9", "2.0", "0.9"])
def test_an_unknown_http_version_is_505(version):
    status, head, _ = call("/ok", version=version)
    assert status == 505
    assert head[b"connection"] == b"close"


def test_http_2_is_refused_without_a_connection_header():
    status, head, _ = call("/ok", version="2", headers=[(b"content-length", b"1")] * 2)
    assert status == 400
    assert b"connection" not in head  # a connection-specific field is an error in HTTP/2


def test_more_header_fields_than_the_limit_is_431():
    headers = [(b"x-%d" % n, b"v") for n in range(MAX_HEADERS + 1)]
    assert call("/ok", headers=headers)[0] == 431
    assert call("/ok", headers=headers[:MAX_HEADERS])[0] == 200


def test_a_path_integer_past_the_digit_limit_is_422():
    status, _, body = call("/items/" + "9" * 5000)
    assert status == 422
    assert body["detail"][0]["loc"] == ["path"]


DEEP = b'{"value":' + b"[" * 1000 + b"]" * 1000 + b"}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (DEEP, "nested too deeply"),
        (b'{"value":"\\ud800"}', "lone surrogate"),
        (b'{"value":{"a\\uDFFFb":1}}', "lone surrogate"),
        (b'{"value":' + b"9" * 5000 + b"}", "too many digits"),
    ],
)
def test_hostile_json_bodies_are_422(serve, body, message):
    response = serve(Route("POST", "/echo", echo)).post(
        "/echo", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert message in response.json()["detail"][0]["msg"]


def test_a_surrogate_pair_is_one_character(serve):
    response = serve(Route("POST", "/echo", echo)).post(
        "/echo", content=b'{"value":"\\ud83d\\ude00 \\\\ud800"}'
    )
    assert response.json() == "\U0001f600 \\ud800"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (msgpack.ExtType(5, b"x"), "extension type 5 is not supported"),
        (msgpack.Timestamp(1, 0), "timestamps are not supported"),
        (msgpack.Timestamp(2**33, 5), "timestamps are not supported"),
    ],
)
def test_msgpack_extensions_are_422(serve, value, message):
    response = serve(Route("POST", "/echo", echo)).post(
        "/echo",
        content=msgpack.packb({"value": [1, value]}),
        headers={"content-type": "application/msgpack"},
    )
    assert response.status_code == 422
    assert message in response.json()["detail"][0]["msg"]


def test_bytes_the_json_response_cannot_carry_are_406_and_msgpack_carries_them(serve):
    client = serve(Route("GET", "/blob", blob))
    refused = client.get("/blob")
    assert refused.status_code == 406
    assert "application/msgpack" in refused.json()["detail"]
    carried = client.get("/blob", headers={"accept": "application/msgpack"})
    assert msgpack.unpackb(carried.content) == {"b": b"\x00"}


def test_an_int_msgpack_cannot_carry_is_406_and_json_carries_it(serve):
    client = serve(Route("POST", "/echo", echo))
    refused = client.post("/echo", json={"value": 2**64}, headers={"accept": "application/msgpack"})
    assert refused.status_code == 406
    assert "application/json" in refused.json()["detail"]
    assert client.post("/echo", json={"value": 2**64}).json() == 2**64


def test_a_msgpack_body_nested_deeper_than_json_goes_is_406_as_json(serve):
    client = serve(Route("POST", "/echo", echo))
    deep = b"\x81\xa5value" + b"\x91" * 1000 + b"\x90"
    headers = {"content-type": "application/msgpack"}
    refused = client.post("/echo", content=deep, headers=headers)
    assert refused.status_code == 406
    carried = client.post(
        "/echo", content=deep, headers={**headers, "accept": "application/msgpack"}
    )
    assert carried.status_code == 200
