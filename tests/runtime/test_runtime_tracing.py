"""W3C trace context on every request, and server spans sent to an OTLP/HTTP JSON collector
(a stdlib HTTP server on 127.0.0.1 standing in for one)."""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from flashctl_runtime import HTTPError, Route, Settings, create_app
from flashctl_runtime.tracing import (
    Exporter,
    Sampler,
    Span,
    encode_span,
    parse_traceparent,
    sampler_from_env,
    traces_url,
)
from starlette.testclient import TestClient

from tests.runtime.exposition import parse, series
from tests.servers import free_port, wait_for_status

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])")


def get_user(user_id: int):
    return {"id": user_id}


def broken():
    raise RuntimeError("no")


def refuse():
    raise HTTPError(403, "no")


class Collector:
    """Records every OTLP/HTTP request it gets: path, headers and JSON body."""

    def __init__(self, status: int = 200, keep_alive: bool = False) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.clients: list[tuple[str, int]] = []  # the address each request came from
        self.arrived = threading.Condition()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with collector.arrived:
                    collector.clients.append(self.client_address)
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    collector.requests.append((self.path, headers, json.loads(body)))
                    collector.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self) -> list[dict[str, Any]]:
        return [
            span
            for _, _, body in self.requests
            for resource in body["resourceSpans"]
            for scope in resource["scopeSpans"]
            for span in scope["spans"]
        ]

    def wait_for_spans(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.spans()) >= count, timeout)
        return self.spans()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.close()


@pytest.fixture
def exporting(monkeypatch, collector):
    """Services built now send their spans to ``collector`` every 50 ms."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "traced")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=collector%20key")
    return collector


def attributes(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_a_traceparent_is_continued_into_the_response_and_the_log_line(serve, logged):
    client = serve(Route("GET", "/users/{user_id:int}", get_user))
    logged()
    response = client.get("/users/7", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    assert response.status_code == 200
    trace_id, span_id, flags = TRACEPARENT.fullmatch(response.headers["traceparent"]).groups()
    assert trace_id == TRACE
    assert span_id != PARENT  # the server's own span, child of the caller's
    assert flags == "01"  # the caller's sampling decision is kept
    [line] = logged("request")
    assert (line["trace_id"], line["span_id"]) == (trace_id, span_id)


def test_without_a_traceparent_each_request_starts_its_own_trace(serve, logged):
    client = serve(Route("GET", "/users/{user_id:int}", get_user))
    logged()
    headers = [client.get("/users/1").headers["traceparent"] for _ in range(2)]
    ids = [TRACEPARENT.fullmatch(header).group(1) for header in headers]
    assert ids[0] != ids[1]
    assert [line["trace_id"] for line in logged("request")] == ids


@pytest.mark.parametrize(
    "header",
    [
        f"00-{TRACE}-{PARENT}",  # no flags
        f"00-{TRACE.upper()}-{PARENT}-01",  # upper-case hex
        f"00-{'0' * 32}-{PARENT}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"ff-{TRACE}-{PARENT}-01",  # version ff is forbidden
        f"00-{TRACE}-{PARENT}-01-extra",  # version 00 has nothing after the flags
        f"00-{TRACE}x-{PARENT}-01",
        f"00_{TRACE}_{PARENT}_01",
        "garbage",
        "",
        "00-" + "é" * 32 + f"-{PARENT}-01",
    ],
)
def test_an_invalid_traceparent_is_ignored_and_a_new_trace_started(serve, logged, header):
    client = serve(Route("GET", "/users/{user_id:int}", get_user))
    logged()
    response = client.get("/users/1", headers={"traceparent": header.encode("utf-8")})
    assert response.status_code == 200
    trace_id = TRACEPARENT.fullmatch(response.headers["traceparent"]).group(1)
    assert trace_id != TRACE
    [line] = logged("request")
    assert line["trace_id"] == trace_id and line["status"] == 200


def test_a_later_version_with_more_fields_is_continued():
    parent = parse_traceparent(f"01-{TRACE}-{PARENT}-03-what-comes-next".encode())
    assert parent is not None
    assert (parent.trace_id, parent.span_id, parent.sampled) == (
        TRACE.encode(),
        PARENT.encode(),
        True,
    )


def test_error_responses_and_a_handlers_own_response_carry_the_traceparent(serve):
    from starlette.responses import PlainTextResponse

    client = serve(
        Route("GET", "/broken", broken),
        Route("GET", "/own", lambda: PlainTextResponse("mine")),
    )
    for path in ("/broken", "/own", "/missing"):
        header = client.get(path, headers={"traceparent": f"00-{TRACE}-{PARENT}-00"}).headers
        assert TRACEPARENT.fullmatch(header["traceparent"]).group(1) == TRACE


def test_spans_reach_the_collector_with_trace_id_route_status_and_attributes(exporting):
    app = create_app(
        [Route("GET", "/users/{user_id:int}", get_user), Route("GET", "/broken", broken)],
        Settings(title="svc", version="1.2.3"),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        ok = client.get(
            "/users/7",
            headers={"traceparent": f"00-{TRACE}-{PARENT}-01", "tracestate": "congo=t61rcWkg"},
        )
        failed = client.get("/broken")
        spans = exporting.wait_for_spans(2)
    assert len(spans) == 2
    by_name = {span["name"]: span for span in spans}
    span = by_name["GET /users/{user_id:int}"]
    assert span["traceId"] == TRACE
    assert span["parentSpanId"] == PARENT
    assert span["spanId"] == TRACEPARENT.fullmatch(ok.headers["traceparent"]).group(2)
    assert span["kind"] == 2  # server
    assert span["traceState"] == "congo=t61rcWkg"
    assert span["flags"] == 0x301  # sampled, parent known to be remote
    assert span["status"] == {}  # unset: not an error
    assert int(span["endTimeUnixNano"]) >= int(span["startTimeUnixNano"]) > 0
    assert attributes(span) == {
        "http.request.method": "GET",
        "http.route": "/users/{user_id:int}",
        "http.response.status_code": "200",  # an int, in OTLP JSON as a string
        "url.path": "/users/7",
        "url.scheme": "http",
        "network.protocol.version": "1.1",
    }
    bad = by_name["GET /broken"]
    assert bad["traceId"] == TRACEPARENT.fullmatch(failed.headers["traceparent"]).group(1)
    assert "parentSpanId" not in bad
    assert bad["status"] == {"code": 2}  # error
    assert attributes(bad)["error.type"] == "RuntimeError"
    path, headers, body = exporting.requests[0]
    assert path == "/v1/traces"
    assert headers["content-type"] == "application/json"
    assert headers["x-api-key"] == "collector key"
    resource = {
        a["key"]: a["value"]["stringValue"]
        for a in body["resourceSpans"][0]["resource"]["attributes"]
    }
    assert resource == {"service.name": "traced", "service.version": "1.2.3"}


def test_a_4xx_is_not_a_server_span_error(exporting):
    app = create_app([Route("GET", "/refuse", refuse)], Settings())
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/refuse").status_code == 403
        [span] = exporting.wait_for_spans(1)
    assert span["status"] == {}
    assert attributes(span)["http.response.status_code"] == "403"


def test_the_last_spans_are_sent_at_shutdown(monkeypatch, collector):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.url + "/custom/traces")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")  # never on its own during the test
    app = create_app([Route("GET", "/users/{user_id:int}", get_user)], Settings())
    with TestClient(app) as client:
        for user in range(3):
            client.get(f"/users/{user}")
        assert collector.requests == []
    assert len(collector.spans()) == 3
    assert {path for path, _, _ in collector.requests} == {"/custom/traces"}


def test_a_caller_that_did_not_sample_is_not_exported(exporting):
    app = create_app([Route("GET", "/users/{user_id:int}", get_user)], Settings())
    with TestClient(app) as client:
        response = client.get("/users/1", headers={"traceparent": f"00-{TRACE}-{PARENT}-00"})
        assert response.headers["traceparent"].endswith("-00")
        assert client.get("/users/2").headers["traceparent"].endswith("-01")
    assert [span["name"] for span in exporting.spans()] == ["GET /users/{user_id:int}"]
    assert exporting.spans()[0]["traceId"] != TRACE


def _sampled_out(monkeypatch, sampler: str, ratio: str | None = None) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    if ratio is not None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", ratio)


def test_a_ratio_of_0_exports_nothing_yet_every_request_keeps_its_trace(
    monkeypatch, exporting, logged
):
    _sampled_out(monkeypatch, "traceidratio", "0")
    app = create_app([Route("GET", "/users/{user_id:int}", get_user)], Settings())
    with TestClient(app) as client:
        logged()
        headers = [client.get(f"/users/{n}").headers["traceparent"] for n in range(3)]
        lines = logged("request")
    # W3C: the trace id is still made, propagated and logged; only the span is not recorded
    found = [TRACEPARENT.fullmatch(header).groups() for header in headers]
    assert [flags for _, _, flags in found] == ["00", "00", "00"]
    assert [(line["trace_id"], line["span_id"]) for line in lines] == [
        (trace_id, span_id) for trace_id, span_id, _ in found
    ]
    assert len({trace_id for trace_id, _, _ in found}) == 3
    assert exporting.spans() == []  # sent at shutdown, had there been any


def test_parent_based_sampling_follows_the_caller_and_samples_new_traces_by_ratio(
    monkeypatch, exporting
):
    _sampled_out(monkeypatch, "parentbased_traceidratio", "0")
    app = create_app([Route("GET", "/users/{user_id:int}", get_user)], Settings())
    with TestClient(app) as client:
        sampled = client.get("/users/1", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
        assert sampled.headers["traceparent"].endswith("-01")
        new = client.get("/users/2")
        assert new.headers["traceparent"].endswith("-00")
    [span] = exporting.spans()
    assert (span["traceId"], span["parentSpanId"]) == (TRACE, PARENT)


@pytest.mark.parametrize(
    ("sampler", "caller_flags", "exported"),
    [
        ("always_off", "01", False),  # not parent-based: the caller's flag is not followed
        ("traceidratio", "00", True),  # ratio 1 (no argument)
        ("parentbased_always_off", "01", True),
        ("parentbased_always_on", "00", False),
    ],
)
def test_a_sampler_that_is_not_parent_based_decides_for_a_continued_trace_too(
    monkeypatch, exporting, sampler, caller_flags, exported
):
    _sampled_out(monkeypatch, sampler)
    app = create_app([Route("GET", "/users/{user_id:int}", get_user)], Settings())
    with TestClient(app) as client:
        headers = {"traceparent": f"00-{TRACE}-{PARENT}-{caller_flags}"}
        response = client.get("/users/1", headers=headers)
    trace_id, _, flags = TRACEPARENT.fullmatch(response.headers["traceparent"]).groups()
    assert trace_id == TRACE  # continued whatever is decided
    assert flags == ("01" if exported else "00")
    assert len(exporting.spans()) == (1 if exported else 0)


def test_the_ratio_sampler_decides_by_the_low_64_bits_of_the_trace_id():
    # as OpenTelemetry's TraceIdRatioBased: sampled when they are below ratio * 2**64, so
    # every service sampling a trace at the same ratio makes the same decision
    sampler = Sampler(0.25, parent_based=False)
    high = b"f" * 16
    assert sampler.sampled(high + b"3fffffffffffffff", None)
    assert not sampler.sampled(high + b"4000000000000000", None)
    assert Sampler(1.0).sampled(high + b"f" * 16, None)
    assert not Sampler(0.0).sampled(high + b"0" * 15 + b"1", None)
    draws = random.Random(17)
    ids = [b"%032x" % draws.getrandbits(128) for _ in range(2000)]
    assert 400 <= sum(sampler.sampled(trace_id, None) for trace_id in ids) <= 600


@pytest.mark.parametrize(
    ("env", "expected", "warning"),
    [
        ({}, Sampler(1.0, True), None),
        ({"OTEL_TRACES_SAMPLER": "always_off"}, Sampler(0.0, False), None),
        ({"OTEL_TRACES_SAMPLER": " TraceIdRatio ", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
         Sampler(0.1, False), None),
        ({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"},
         Sampler(0.5, True), None),
        ({"OTEL_TRACES_SAMPLER": "jaeger_remote"}, Sampler(1.0, True), "trace_sampler_unknown"),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"},
         Sampler(1.0, False), "trace_sampler_arg_invalid"),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "nan"},
         Sampler(1.0, False), "trace_sampler_arg_invalid"),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"},
         Sampler(1.0, False), "trace_sampler_arg_invalid"),
    ],
)  # fmt: skip
def test_the_sampler_follows_the_opentelemetry_variables(env, expected, warning, logged):
    logged()
    assert sampler_from_env(env) == expected
    warnings = [line["event"] for line in logged() if line["level"] == "warning"]
    assert warnings == ([] if warning is None else [warning])


def test_a_full_queue_drops_spans_and_counts_them_without_blocking():
    exporter = Exporter(
        "http://127.0.0.1:9/v1/traces", "svc", "1", env={"OTEL_BSP_MAX_QUEUE_SIZE": "2"}
    )
    span = Span(b"1" * 32, b"2" * 16, None, 0, 0.0, "GET", "/", "/", "http", "1.1", 200, None)
    for _ in range(5):
        exporter.submit(span)  # no thread started: nothing drains the queue
    assert (len(exporter.queue), exporter.dropped) == (2, 3)
    lines = parse("\n".join(exporter.metric_lines('worker="0"')) + "\n")
    assert series(lines, "flashctl_trace_spans_total", outcome="dropped")[0].value == 3


def test_batches_go_over_one_kept_alive_connection_and_a_dropped_one_is_reopened():
    collector = Collector(keep_alive=True)
    try:
        exporter = Exporter(collector.url + "/v1/traces", "svc", "1", env={})
        span = Span(b"1" * 32, b"2" * 16, None, 0, 0.0, "GET", "/", "/", "http", "1.1", 200, None)
        for _ in range(3):
            exporter._send([span])
        assert len(set(collector.clients)) == 1  # one connection for the three batches
        exporter._connection.sock.shutdown(socket.SHUT_RDWR)  # as a collector's idle timeout
        exporter._send([span, span])
        assert (exporter.exported, exporter.failed) == (5, 0)
        assert len(collector.spans()) == 5
        assert len(set(collector.clients)) == 2
        exporter.close()
    finally:
        collector.close()


def test_a_collector_that_is_down_never_fails_a_request(monkeypatch, serve, logged):
    refused = Collector()
    url = refused.url
    refused.close()  # nothing listens there now
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20sekret-token")
    client = serve(Route("GET", "/users/{user_id:int}", get_user), metrics=True)
    assert [client.get(f"/users/{n}").status_code for n in range(3)] == [200, 200, 200]
    app = client.app
    for _ in range(500):  # bounded: until the thread has tried
        if app.exporter.failed:
            break
        threading.Event().wait(0.01)
    assert app.exporter.failed >= 1
    text = client.get("/metrics").text
    assert series(parse(text), "flashctl_trace_spans_total", outcome="failed")[0].value >= 1
    lines = logged()
    [failure] = [line for line in lines if line["event"] == "trace_export_failed"]
    assert failure["url"] == url + "/v1/traces"
    assert "sekret" not in json.dumps(lines)


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "http://c:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:1/t"}, "http://c:1/t"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, None),
    ],
)
def test_the_traces_url_follows_the_opentelemetry_variables(env, url):
    assert traces_url(env) == url


SERVED = """
from flashctl_runtime import Route, Settings, create_app


def get_user(user_id: int):
    return {"id": user_id}


app = create_app([Route("GET", "/users/{user_id:int}", get_user)], Settings(title="served"))
"""


@pytest.mark.slow
@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_a_real_server_exports_the_span_of_a_traced_request(tmp_path, collector, server):
    (tmp_path / "traced_app.py").write_text(SERVED)
    port = free_port()
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url}
    env["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    command = [sys.executable, "-m", "flashctl_runtime.serve", "traced_app:app"]
    command += ["--server", server, "--host", "127.0.0.1", "--port", str(port)]
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_status(base + "/ping", 200, timeout=30)
        response = httpx.get(
            base + "/users/3", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"}, timeout=5.0
        )
        assert response.status_code == 200
        span_id = TRACEPARENT.fullmatch(response.headers["traceparent"]).group(2)
        for _ in range(100):  # bounded: /ping spans arrive too
            spans = collector.wait_for_spans(len(collector.spans()) + 1, timeout=0.2)
            if any(span["spanId"] == span_id for span in spans):
                break
        [span] = [span for span in collector.spans() if span["spanId"] == span_id]
        assert (span["traceId"], span["parentSpanId"]) == (TRACE, PARENT)
        assert span["name"] == "GET /users/{user_id:int}"
        assert attributes(span)["http.response.status_code"] == "200"
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def test_spans_of_the_same_kind_keep_their_own_ids_and_parents_in_one_batch():
    exporter = Exporter("http://127.0.0.1:9/v1/traces", "svc", "1", env={})
    caller = parse_traceparent(f"00-{TRACE}-{PARENT}-01".encode(), b"k=v")

    def span(trace: bytes, span_id: bytes, parent, status: int) -> Span:
        return Span(trace, span_id, parent, 2_000, 0.000001, "GET", "/u", "/u",
                    "http", "1.1", status, None)  # fmt: skip

    batch = [
        span(b"a" * 32, b"1" * 16, None, 200),
        span(TRACE.encode(), b"2" * 16, caller, 200),
        span(b"b" * 32, b"3" * 16, None, 500),
    ]
    encoded = [encode_span(item) for item in batch]
    spans = json.loads(exporter.payload(encoded))["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert [(s["traceId"], s["spanId"], s.get("parentSpanId")) for s in spans] == [
        ("a" * 32, "1" * 16, None),
        (TRACE, "2" * 16, PARENT),
        ("b" * 32, "3" * 16, None),
    ]
    assert [s["status"] for s in spans] == [{}, {}, {"code": 2}]
    assert spans[1]["traceState"] == "k=v" and "traceState" not in spans[0]
    assert [attributes(s)["http.response.status_code"] for s in spans] == ["200", "200", "500"]
    assert spans[0]["startTimeUnixNano"] == "1000" and spans[0]["endTimeUnixNano"] == "2000"
