"""Hostile clients on the wire: a raw-socket corpus against both servers as real processes.

Each case is bytes a client could send to the rendered service on 127.0.0.1 and what the
service must do with them (issue 13): no smuggled request answered, no way to ``/execute``,
no 500 for bad input, bounded request heads and idle connections. Every socket has a timeout
and every loop a bound.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import pytest

from tests.servers import free_port, start_runtime, wait_for_status

pytestmark = pytest.mark.slow

SERVERS = ["hypercorn", "uvicorn"]
KEEP_ALIVE = 1.0  # seconds: short, so the idle cases do not wait long

APP = textwrap.dedent(
    """
    import asyncio
    from typing import Any

    from flashctl_runtime import Route, Settings, create_app


    def ok():
        return "ok"


    def echo(value: Any = None):
        return value


    def item(item_id: int):
        return item_id


    def anything(path: str):
        return {"caught": path}


    async def nap():
        await asyncio.sleep(2.5)  # longer than the keep-alive timeout the corpus serves with
        return "rested"


    def lines():
        yield {"n": 1}
        yield {"n": 2}


    app = create_app(
        [
            Route("GET", "/ok", ok),
            Route("POST", "/echo", echo),
            Route("GET", "/lines", lines),
            Route("GET", "/nap", nap),
            Route("GET", "/items/{item_id:int}", item),
            Route("GET", "/{path:path}", anything),
            Route("POST", "/{path:path}", anything),
        ],
        Settings(title="wire", docs=True),
    )
    """
)


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


@dataclass
class Exchange:
    """What came back on one connection: every complete response, and whether it closed."""

    answers: list[Answer] = field(default_factory=list)
    closed: bool = False

    @property
    def statuses(self) -> list[int]:
        return [answer.status for answer in self.answers]


def _parse(buffer: bytes) -> tuple[Answer, bytes] | None:
    """One complete response from the front of ``buffer`` and what follows it, or None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buffer[:end].split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    rest = buffer[end + 4 :]
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = b""
        while True:
            size_end = rest.find(b"\r\n")
            if size_end < 0:
                return None
            size = int(rest[:size_end].split(b";")[0], 16)
            if len(rest) < size_end + 2 + size + 2:
                return None
            body += rest[size_end + 2 : size_end + 2 + size]
            rest = rest[size_end + 2 + size + 2 :]
            if size == 0:
                return Answer(status, headers, body), rest
    length = int(headers.get(b"content-length", b"0"))
    if len(rest) < length:
        return None
    return Answer(status, headers, rest[:length]), rest[length:]


def converse(port: int, data: bytes, *, expect: int = 1, linger: float = 0.0) -> Exchange:
    """Send ``data`` on a fresh connection and collect responses until ``expect`` are complete,
    then ``linger`` seconds more for any the server should not have sent; stop early when it
    closes. Bounded by 10 s in all."""
    result = Exchange()
    buffer = b""
    deadline = time.monotonic() + 10.0
    quiet_until: float | None = None
    with socket.create_connection(("127.0.0.1", port), timeout=10.0) as sock:
        with contextlib.suppress(OSError):  # the server refused and closed while we still sent
            sock.sendall(data)
        while time.monotonic() < deadline:
            if quiet_until is not None:
                left = quiet_until - time.monotonic()
                if left <= 0:
                    break
                sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except OSError:
                result.closed = True
                break
            if not chunk:
                result.closed = True
                break
            buffer += chunk
            while (parsed := _parse(buffer)) is not None:
                answer, buffer = parsed
                result.answers.append(answer)
            if len(result.answers) >= expect and quiet_until is None:
                if linger <= 0:
                    break
                quiet_until = time.monotonic() + linger
    return result


def request(method: str, target: str, *headers: str, body: bytes = b"", version="1.1") -> bytes:
    lines = [f"{method} {target} HTTP/{version}", "Host: t", *headers]
    if body and not any(h.lower().startswith(("content-length", "transfer")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Served:
    server: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module", params=SERVERS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The corpus app under one server, started once per module as the container starts it."""
    server = request.param
    folder = tmp_path_factory.mktemp(f"wire-{server}")
    (folder / "wire_app.py").write_text(APP)
    port = free_port()
    log = folder / "server.log"
    keep_alive = ("--keep-alive", str(KEEP_ALIVE))
    process = start_runtime(folder, "wire_app:app", server, port, log, *keep_alive)
    try:
        wait_for_status(f"http://127.0.0.1:{port}/ping", 200, timeout=30.0)
        yield Served(server, port, process, log)
    finally:
        process.kill()
        process.wait(10)


def stream_then_collect(port: int, head: bytes, piece: bytes, total: int) -> Exchange:
    """Send ``head`` then ``piece`` until ``total`` bytes, stopping as soon as the server
    answers or closes (so a 50 MB header is not pushed into a server that refused it)."""
    result = Exchange()
    deadline = time.monotonic() + 20.0
    buffer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10.0) as sock:
        try:
            sock.sendall(head)
            sent = 0
            while sent < total and time.monotonic() < deadline:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(piece)
                sent += len(piece)
            else:
                sock.sendall(b"\r\n\r\n")
        except OSError:
            pass
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except OSError:
                result.closed = True
                break
            if not chunk:
                result.closed = True
                break
            buffer += chunk
            if (parsed := _parse(buffer)) is not None:
                result.answers.append(parsed[0])
                break
    return result


def detail_of(answer: Answer) -> object:
    assert answer.headers.get(b"content-type") == b"application/json", answer
    document = json.loads(answer.body)
    assert set(document) == {"detail", "request_id"}, document
    return document["detail"]


# --- 1. request smuggling --------------------------------------------------------------------

SMUGGLED = request("GET", "/ok")
SMUGGLING = {
    "content_length_then_chunked": ["Content-Length: 6", "Transfer-Encoding: chunked"],
    "chunked_then_content_length": ["Transfer-Encoding: chunked", "Content-Length: 6"],
    "chunked_after_a_tab": ["Content-Length: 6", "Transfer-Encoding:\tchunked"],
    "chunked_obs_folded": ["Content-Length: 6", "Transfer-Encoding:\r\n chunked"],
    "chunked_in_a_list": ["Content-Length: 6", "Transfer-Encoding: identity, chunked"],
    "chunked_upper_case": ["Content-Length: 6", "TRANSFER-ENCODING: CHUNKED"],
    "two_content_lengths": ["Content-Length: 5", "Content-Length: 0"],
}


@pytest.mark.parametrize("headers", SMUGGLING.values(), ids=SMUGGLING.keys())
def test_a_request_with_two_framings_is_refused_and_nothing_behind_it_is_answered(served, headers):
    head = request("POST", "/echo", "Content-Type: application/json", *headers)
    seen = converse(served.port, head + b"0\r\n\r\n" + SMUGGLED, expect=1, linger=KEEP_ALIVE + 1)
    assert len(seen.answers) <= 1, seen.statuses  # never a second answer on this connection
    assert all(answer.body != b'"ok"' for answer in seen.answers)
    if seen.answers:
        assert 400 <= seen.answers[0].status <= 501, seen.statuses  # 501: h11 knows no identity
    assert seen.closed


def test_a_chunked_request_alone_is_still_served(served):
    body = b'{"value": [1, 2]}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    head = request("POST", "/echo", "Content-Type: application/json", "Transfer-Encoding: chunked")
    seen = converse(served.port, head + chunked + SMUGGLED, expect=2)
    assert seen.statuses == [200, 200]
    assert [answer.body for answer in seen.answers] == [b"[1,2]", b'"ok"']


# --- 2. /execute by any spelling, /ping and the docs unshadowable ---------------------------

EXECUTE_SPELLINGS = [
    "/./execute",
    "/a/../execute",
    "/../execute",
    "/%2e/execute",
    "/%2E%2E/execute",
    "//execute",
    "/%2Fexecute",
    "/%2fexecute",
    "/EXECUTE",
    "/Execute/run",
    "/%65xecute",
    "/execute;run",
    "/execute/",
    "/execute%2Frun",
    "/a/%2e%2e/execute",
    "/execute/..",
    "/.%2e/execute",
    "/a/b/../../execute",
    "/%5Cexecute",
    "/\\execute",
    "/execute%00",
    "/execute%09",
    "/execute%20",
    "/%20execute",
]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("target", EXECUTE_SPELLINGS)
def test_execute_is_unreachable_by_any_spelling(served, target, method):
    seen = converse(served.port, request(method, target, body=b"{}" if method == "POST" else b""))
    answer = seen.answers[0]
    assert answer.status in (400, 404), (answer.status, answer.body)
    detail_of(answer)


BUILT_IN_SPELLINGS = [
    "/./ping",
    "//ping",
    "/PING",
    "/ping/",
    "/a/../ping",
    "/%2e/docs",
    "//openapi.json",
]


@pytest.mark.parametrize("target", BUILT_IN_SPELLINGS)
def test_built_in_routes_are_not_shadowed_by_a_catch_all(served, target):
    answer = converse(served.port, request("GET", target)).answers[0]
    assert b"caught" not in answer.body, (answer.status, answer.body)


@pytest.mark.parametrize(
    ("target", "body"),
    [
        ("/ok", b'"ok"'),
        ("/ping", b'{"status":"healthy"}'),
        ("/items/7", b"7"),
        ("/files/a.txt", b'{"caught":"files/a.txt"}'),
        ("/files/a%20b", b'{"caught":"files/a b"}'),
        ("/files/.hidden", b'{"caught":"files/.hidden"}'),
        ("/files/v1.2/x", b'{"caught":"files/v1.2/x"}'),
        ("/executed", b'{"caught":"executed"}'),
        ("/run/execute", b'{"caught":"run/execute"}'),
    ],
)
def test_ordinary_paths_still_route(served, target, body):
    answer = converse(served.port, request("GET", target)).answers[0]
    assert (answer.status, answer.body) == (200, body)


def test_openapi_document_is_still_served(served):
    answer = converse(served.port, request("GET", "/openapi.json")).answers[0]
    assert answer.status == 200
    assert json.loads(answer.body)["info"]["title"] == "wire"


# --- 3. 4xx, never 500, for client input -----------------------------------------------------

DEEP = 1000
CLIENT_INPUT = {
    "json_nested_1000_deep": ("json", b'{"value":' + b"[" * DEEP + b"]" * DEEP + b"}", "json"),
    "json_lone_surrogate": ("json", b'{"value":"\\ud800"}', "json"),
    "json_lone_surrogate_key": ("json", b'{"value":{"\\udfff":1}}', "json"),
    "json_5000_digit_int": ("json", b'{"value":' + b"9" * 5000 + b"}", "json"),
    "json_int_above_2_64_as_msgpack": (
        "json",
        b'{"value":' + str(2**70).encode() + b"}",
        "msgpack",
    ),
    "json_negative_int_below_minus_2_63_as_msgpack": (
        "json",
        b'{"value":' + str(-(2**64)).encode() + b"}",
        "msgpack",
    ),
    "msgpack_bin_as_json": ("msgpack", msgpack.packb({"value": {"b": b"\x00\xff"}}), "json"),
    "msgpack_ext_as_json": ("msgpack", msgpack.packb({"value": msgpack.ExtType(5, b"x")}), "json"),
    "msgpack_ext_as_msgpack": (
        "msgpack",
        msgpack.packb({"value": msgpack.ExtType(5, b"x")}),
        "msgpack",
    ),
    "msgpack_timestamp_as_json": (
        "msgpack",
        msgpack.packb({"value": msgpack.Timestamp(1, 0)}),
        "json",
    ),
    "msgpack_nested_1000_deep": ("msgpack", b"\x81\xa5value" + b"\x91" * DEEP + b"\x90", "json"),
    "msgpack_invalid_utf8": ("msgpack", b"\x81\xa5value\xa2\xff\xfe", "json"),
}
MEDIA = {"json": "application/json", "msgpack": "application/msgpack"}


@pytest.mark.parametrize(("kind", "body", "accept"), CLIENT_INPUT.values(), ids=CLIENT_INPUT.keys())
def test_hostile_bodies_get_a_4xx_with_the_usual_detail(served, kind, body, accept):
    head = [f"Content-Type: {MEDIA[kind]}", f"Accept: {MEDIA[accept]}"]
    answer = converse(served.port, request("POST", "/echo", *head, body=body)).answers[0]
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    assert detail_of(answer)


@pytest.mark.parametrize("target", ["/items/" + "9" * 5000, "/items/" + "1" * 4301])
def test_a_path_integer_past_the_conversion_limit_is_a_4xx(served, target):
    answer = converse(served.port, request("GET", target)).answers[0]
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    detail_of(answer)


@pytest.mark.parametrize(
    ("kind", "value", "accept"),
    [
        ("msgpack", {"b": b"\x00\xff"}, "msgpack"),
        ("json", 2**63, "msgpack"),
        ("json", 2**70, "json"),
        ("json", [[[1]]], "msgpack"),
        ("json", "é \U0001f600", "json"),
    ],
)
def test_values_each_format_can_carry_still_echo(served, kind, value, accept):
    body = msgpack.packb({"value": value}) if kind == "msgpack" else json.dumps({"value": value})
    head = [f"Content-Type: {MEDIA[kind]}", f"Accept: {MEDIA[accept]}"]
    answer = converse(served.port, request("POST", "/echo", *head, body=_bytes(body))).answers[0]
    assert answer.status == 200, answer.body[:300]
    decoded = msgpack.unpackb(answer.body) if accept == "msgpack" else json.loads(answer.body)
    assert decoded == value


def _bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def test_a_stream_is_still_sent_in_chunks(served):
    answer = converse(served.port, request("GET", "/lines")).answers[0]
    assert answer.status == 200
    assert answer.headers[b"transfer-encoding"] == b"chunked"
    assert answer.body == b'{"n":1}\n{"n":2}\n'


# --- 4. request heads and idle connections ---------------------------------------------------

KIB = 1024
HEADS = {
    "value_100_kib": (b"X-Big: ", b"a" * KIB, 100),
    "value_1_mib": (b"X-Big: ", b"a" * KIB, 1024),
    "name_100_kib": (b"X-", b"a" * KIB, 100),
    "ten_thousand_headers": (b"X-0: 0", b"\r\nX-1: 1", 10_000),
    "value_50_mib": (b"X-Big: ", b"a" * 64 * KIB, 800),
}


@pytest.mark.parametrize(("start", "piece", "count"), HEADS.values(), ids=HEADS.keys())
def test_an_oversized_request_head_is_refused(served, start, piece, count):
    head = b"GET /ok HTTP/1.1\r\nHost: t\r\n" + start
    if start == b"X-":  # a long name needs its colon and value after it
        seen = stream_then_collect(served.port, head + piece * count, b": v", 3)
    else:
        seen = stream_then_collect(served.port, head, piece, len(piece) * count)
    assert seen.statuses in ([], [400], [431]), seen.statuses
    assert seen.closed or seen.answers


def test_a_head_with_a_long_token_and_a_few_dozen_headers_is_served(served):
    headers = ["Authorization: Bearer " + "t" * 8 * KIB] + [f"X-{n}: {n}" for n in range(60)]
    answer = converse(served.port, request("GET", "/ok", *headers)).answers[0]
    assert (answer.status, answer.body) == (200, b'"ok"')


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except TimeoutError:
        return False
    except OSError:
        return True


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /ok HTTP/1.1\r\nHost: t\r\n", request("GET", "/ok")],
    ids=["nothing", "half_a_head", "one_request"],
)
def test_an_idle_connection_is_closed(served, sent):
    with socket.create_connection(("127.0.0.1", served.port), timeout=10.0) as sock:
        sock.sendall(sent)
        assert _closed_within(sock, KEEP_ALIVE + 5.0)


def test_the_idle_deadline_never_cuts_a_request_in_flight(served):
    head = request("GET", "/nap")
    with socket.create_connection(("127.0.0.1", served.port), timeout=10.0) as sock:
        sock.sendall(head[:10])  # a head in two reads, then a handler slower than keep-alive
        time.sleep(0.2)
        sock.sendall(head[10:])
        answer = b""
        while b'"rested"' not in answer:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {answer!r}"
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")


def test_a_body_sent_after_a_pause_is_still_read(served):
    head = request("POST", "/echo", "Content-Type: application/json", "Content-Length: 11")
    with socket.create_connection(("127.0.0.1", served.port), timeout=10.0) as sock:
        sock.sendall(head)
        time.sleep(KEEP_ALIVE + 0.5)
        sock.sendall(b'{"value":1}')
        answer = b""
        while b"\r\n\r\n1" not in answer:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {answer!r}"
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")


# --- 5. protocol versions --------------------------------------------------------------------


@pytest.mark.parametrize("version", ["9.9", "2.0", "1.2", "0.9"])
def test_an_unknown_http_version_is_not_served(served, version):
    seen = converse(served.port, request("GET", "/ok", version=version))
    assert all(answer.status in (400, 505) for answer in seen.answers), seen.statuses
    assert seen.answers or seen.closed


def test_http_1_0_keep_alive_with_a_pipelined_request_answers_the_first(served):
    first = request("GET", "/ok", "Connection: keep-alive", version="1.0")
    seen = converse(served.port, first + request("GET", "/ok", version="1.0"), expect=2)
    assert seen.statuses[:1] == [200], seen.statuses
    assert seen.answers[0].body == b'"ok"'
    assert seen.statuses in ([200], [200, 200])


def test_http_1_0_without_keep_alive_is_answered_and_closed(served):
    seen = converse(served.port, request("GET", "/ok", version="1.0"), expect=1, linger=2.0)
    assert seen.statuses == [200]
    assert seen.closed
