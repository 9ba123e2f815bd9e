"""Per-request headers and the JSON log line: X-Request-ID, Server-Timing, one line each."""

from __future__ import annotations

import asyncio
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from flashctl_runtime import Route, create_app, logs


def get_user(user_id: int) -> dict[str, int]:
    return {"id": user_id}


def crash() -> None:
    raise KeyError("boom")


def test_one_log_line_per_request_with_every_field(serve, logged):
    client = serve(Route("POST", "/users/{user_id:int}", get_user))
    logged()  # start-up lines
    response = client.post("/users/5", content=b"{}", headers={"content-type": "application/json"})
    [line] = logged("request")
    assert set(line) == {
        "ts",
        "level",
        "event",
        "request_id",
        "trace_id",
        "span_id",
        "method",
        "route",
        "status",
        "exec_ms",
        "bytes_in",
        "bytes_out",
        "error",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert line["level"] == "info"
    assert line["request_id"] == response.headers["x-request-id"]
    assert response.headers["traceparent"] == f"00-{line['trace_id']}-{line['span_id']}-00"
    assert line["method"] == "POST"
    assert line["route"] == "/users/{user_id:int}"  # the template, not the raw path
    assert line["status"] == 200
    assert isinstance(line["exec_ms"], float)
    assert line["bytes_in"] == 2
    assert line["bytes_out"] == len(response.content)
    assert line["error"] is None


def test_log_line_of_a_500_names_the_error_and_keeps_the_traceback(serve, logged):
    client = serve(Route("GET", "/crash", crash))
    logged()
    client.get("/crash")
    [line] = logged("request")
    assert line["status"] == 500
    assert line["level"] == "error"
    assert line["error"] == "KeyError"
    assert "Traceback" in line["traceback"]


def test_log_line_of_a_404_has_no_route(serve, logged):
    client = serve(Route("GET", "/a", lambda: "a"))
    logged()
    client.get("/nowhere")
    [line] = logged("request")
    assert line["status"] == 404
    assert line["route"] is None


def test_startup_and_shutdown_are_logged_as_json_lines(serve, logged):
    client = serve(Route("GET", "/a", lambda: "a"), Route("GET", "/b", lambda: "b"))
    [startup] = logged("startup")
    assert startup["routes"] == 2
    client.__exit__(None, None, None)
    assert [line["event"] for line in logged()] == ["draining", "shutdown"]


def test_given_request_id_is_echoed(serve, logged):
    client = serve(Route("GET", "/a", lambda: "a"))
    logged()
    response = client.get("/a", headers={"x-request-id": "req-123.abc"})
    assert response.headers["x-request-id"] == "req-123.abc"
    assert logged("request")[0]["request_id"] == "req-123.abc"


def test_request_id_is_generated_when_absent(serve):
    client = serve(Route("GET", "/a", lambda: "a"))
    first = client.get("/a").headers["x-request-id"]
    second = client.get("/a").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


@pytest.mark.parametrize("given", ["x" * 200, "has space", 'quote"d', ""])
def test_unsafe_request_id_is_replaced(serve, given):
    client = serve(Route("GET", "/a", lambda: "a"))
    response = client.get("/a", headers={"x-request-id": given})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_error_body_carries_the_request_id(serve):
    client = serve(Route("GET", "/crash", crash))
    response = client.get("/crash", headers={"x-request-id": "trace-me"})
    assert response.json()["request_id"] == "trace-me"


def test_server_timing_is_present_on_every_response(serve):
    client = serve(Route("GET", "/a", lambda: "a"))
    for path in ("/a", "/nowhere", "/ping"):
        timing = client.get(path).headers["server-timing"]
        assert re.fullmatch(r"app;dur=\d+\.\d{3}", timing)


class _Stdout:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        pass


def test_lines_of_requests_finishing_together_share_one_write(monkeypatch):
    out = _Stdout()
    monkeypatch.setattr(sys, "stdout", out)

    async def main() -> None:
        logs.write("a")
        logs.write("b")
        assert out.writes == []  # not yet: other requests may finish in this turn
        await asyncio.sleep(0)
        assert out.writes == ["a\nb\n"]

    asyncio.run(main())


def test_life_cycle_lines_are_written_at_once_with_what_is_pending(monkeypatch):
    out = _Stdout()
    monkeypatch.setattr(sys, "stdout", out)

    async def main() -> None:
        logs.write("a")
        logs.emit("draining")

    asyncio.run(main())
    assert len(out.writes) == 1
    assert out.writes[0].startswith("a\n{")


def test_concurrent_requests_each_get_their_log_line(serve, logged):
    async def pause(ms: int):
        await asyncio.sleep(ms / 1000)
        return ms

    client = serve(Route("GET", "/pause", pause))
    logged()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda ms: client.get(f"/pause?ms={ms}").json(), range(0, 80, 5)))
    assert len(results) == 16
    assert len(logged("request")) == 16


def test_the_line_of_a_request_is_written_by_the_end_of_the_loops_turn(monkeypatch):
    out = _Stdout()
    monkeypatch.setattr(sys, "stdout", out)
    app = create_app([Route("GET", "/a", lambda: "a")])
    scope = {"type": "http", "method": "GET", "path": "/a", "query_string": b"", "headers": []}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        pass

    async def main() -> list[str]:
        await app(scope, receive, send)
        assert out.writes == []  # other requests may still finish in this turn
        await asyncio.sleep(0)
        return list(out.writes)

    [written] = asyncio.run(main())
    assert '"route":"/a"' in written


def test_timestamps_are_utc_to_the_millisecond_across_second_boundaries():
    # the text is reused within a millisecond and the date part within a second
    assert logs.timestamp(1_700_000_000.9991) == "2023-11-14T22:13:20.999Z"
    assert logs.timestamp(1_700_000_000.9999) == "2023-11-14T22:13:20.999Z"
    assert logs.timestamp(1_700_000_001.0004) == "2023-11-14T22:13:21.000Z"
    assert logs.timestamp(1_700_000_001.0524) == "2023-11-14T22:13:21.052Z"
    assert logs.timestamp(1_600_000_000.5) == "2020-09-13T12:26:40.500Z"
