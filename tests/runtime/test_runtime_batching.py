"""``Route(..., batch=Batch(...))``: concurrent requests grouped into one handler call."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import msgpack
import pytest
from flashctl_runtime import Batch, HTTPError, Method, Route, create_app
from flashctl_runtime.settings import Settings

from tests.runtime.exposition import parse, series
from tests.runtime.test_runtime_ping import wait_for_ping
from tests.servers import free_port, start_runtime, wait_for_status

WAIT = 10.0  # a generous per-test bound for gates; no assertion depends on timing


class Recorder:
    """A sync batch handler that doubles numbers and records every batch it was given."""

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        return [item * 2 for item in items]


def post_all(client, path: str, bodies: list[Any], **kwargs: Any) -> list[Any]:
    with ThreadPoolExecutor(len(bodies)) as pool:
        futures = [pool.submit(client.post, path, json=body, **kwargs) for body in bodies]
        return [future.result(timeout=WAIT) for future in futures]


def test_concurrent_requests_are_one_call_and_each_gets_its_own_result(serve):
    handler = Recorder()
    # a full batch starts at once: the (long) wait never passes, so all four share one call
    client = serve(Route("POST", "/double", handler, batch=Batch(max_size=4, max_wait_ms=60_000)))
    responses = post_all(client, "/double", [1, 2, 3, 4])
    assert [r.status_code for r in responses] == [200] * 4
    assert [r.json() for r in responses] == [2, 4, 6, 8]
    assert len(handler.batches) == 1
    assert sorted(handler.batches[0]) == [1, 2, 3, 4]


def test_a_lone_request_is_answered_once_the_wait_is_over(serve):
    handler = Recorder()
    client = serve(Route("POST", "/double", handler, batch=Batch(max_size=32, max_wait_ms=5)))
    response = client.post("/double", json=21)
    assert response.status_code == 200
    assert response.json() == 42
    assert handler.batches == [[21]]


def test_more_requests_than_max_size_make_several_batches_none_larger(serve):
    handler = Recorder()
    client = serve(Route("POST", "/double", handler, batch=Batch(max_size=3, max_wait_ms=20)))
    responses = post_all(client, "/double", list(range(10)))
    assert [r.json() for r in responses] == [2 * i for i in range(10)]
    assert sorted(x for batch in handler.batches for x in batch) == list(range(10))
    assert max(len(batch) for batch in handler.batches) <= 3


def fails_some(items: list[int]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item == 404:
            out.append(HTTPError(404, f"no item {item}"))
        elif item < 0:
            out.append(ValueError("negative"))
        elif item == 0:
            out.append(KeyError("zero"))
        else:
            out.append(item)
    return out


def test_an_exception_in_the_results_fails_only_its_request_with_its_mapped_status(serve):
    client = serve(Route("POST", "/f", fails_some, batch=Batch(max_size=4, max_wait_ms=60_000)))
    responses = post_all(client, "/f", [7, 404, -1, 0])
    assert [r.status_code for r in responses] == [200, 404, 400, 500]
    assert responses[0].json() == 7
    assert responses[1].json()["detail"] == "no item 404"
    assert responses[2].json()["detail"] == "negative"
    assert responses[3].json()["detail"] == "Internal Server Error"


def teapot(items: list[int]) -> list[int]:
    raise HTTPError(418, "short and stout")


def crashes(items: list[int]) -> list[int]:
    raise KeyError("model fell over")


def test_a_batch_that_raises_fails_every_request_in_it_with_the_mapped_status(serve, logged):
    client = serve(
        Route("POST", "/tea", teapot, batch=Batch(max_size=3, max_wait_ms=60_000)),
        Route("POST", "/crash", crashes, batch=Batch(max_size=3, max_wait_ms=60_000)),
    )
    tea = post_all(client, "/tea", [1, 2, 3])
    assert [(r.status_code, r.json()["detail"]) for r in tea] == [(418, "short and stout")] * 3
    crashed = post_all(client, "/crash", [1, 2, 3])
    assert [r.status_code for r in crashed] == [500] * 3
    lines = [line for line in logged("request") if line["route"] == "/crash"]
    assert [line["error"] for line in lines] == ["KeyError"] * 3
    assert all("model fell over" in line["traceback"] for line in lines)


def one_short(items: list[int]) -> list[int]:
    return items[1:]


def not_a_list(items: list[int]) -> dict[str, int]:
    return {"n": len(items)}


@pytest.mark.parametrize(
    ("handler", "got"), [(one_short, "returned 1 results for 2"), (not_a_list, "returned a dict")]
)
def test_a_result_that_is_not_one_per_request_fails_the_batch_with_500_and_one_log_line(
    serve, logged, handler, got
):
    client = serve(Route("POST", "/b", handler, batch=Batch(max_size=2, max_wait_ms=60_000)))
    logged()
    responses = post_all(client, "/b", [1, 2])
    assert [r.status_code for r in responses] == [500, 500]
    assert [r.json()["detail"] for r in responses] == ["Internal Server Error"] * 2
    [failed] = logged("batch_failed")
    assert failed["level"] == "error"
    assert failed["route"] == "/b"
    assert got in failed["error"]
    assert "one result per request" in failed["error"]


def echo(items: list[Any]) -> list[Any]:
    return [{"got": item} for item in items]


def test_bodies_are_parsed_from_json_or_msgpack_and_answered_as_each_caller_accepts(serve):
    client = serve(Route("POST", "/echo", echo, batch=Batch(max_size=2, max_wait_ms=60_000)))
    packed = msgpack.packb({"x": [1, 2]})
    with ThreadPoolExecutor(2) as pool:
        as_json = pool.submit(client.post, "/echo", json={"x": "text"})
        as_msgpack = pool.submit(
            client.post,
            "/echo",
            content=packed,
            headers={"content-type": "application/msgpack", "accept": "application/msgpack"},
        )
        first, second = as_json.result(WAIT), as_msgpack.result(WAIT)
    assert first.json() == {"got": {"x": "text"}}
    assert second.headers["content-type"] == "application/msgpack"
    assert msgpack.unpackb(second.content) == {"got": {"x": [1, 2]}}


def test_a_bad_body_is_refused_alone_and_never_reaches_the_batch(serve):
    handler = Recorder()
    client = serve(Route("POST", "/double", handler, batch=Batch(max_size=8, max_wait_ms=1)))
    bad = client.post("/double", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 422
    query = client.post("/double?x=1", json=1)
    assert query.status_code == 422
    assert client.post("/double", json=5).json() == 10
    assert handler.batches == [[5]]


def test_a_request_past_its_deadline_while_queued_gets_504_and_leaves_the_queue(serve):
    handler = Recorder()
    batch = Batch(max_size=2, max_wait_ms=60_000)
    client = serve(Route("POST", "/double", handler, timeout=0.2, batch=batch))
    lonely = client.post("/double", json=1)
    assert lonely.status_code == 504
    responses = post_all(client, "/double", [2, 3])
    assert [r.json() for r in responses] == [4, 6]
    assert [sorted(b) for b in handler.batches] == [[2, 3]]  # the expired one was not sent


class Gate:
    """A sync batch handler that holds every batch until ``release`` and counts how many
    batches run at the same time."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.go = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.batches: list[list[int]] = []

    def __call__(self, items: list[int]) -> list[int]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.batches.append(list(items))
        self.entered.release()
        self.go.wait(WAIT)
        with self.lock:
            self.running -= 1
        return items


def test_requests_past_max_concurrency_are_refused_each_with_503(serve):
    gate = Gate()
    client = serve(
        Route("POST", "/g", gate, batch=Batch(max_size=2, max_wait_ms=60_000)), max_concurrency=2
    )
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(client.post, "/g", json=i) for i in (1, 2)]
        assert gate.entered.acquire(timeout=WAIT)
        refused = client.post("/g", json=3)
        gate.go.set()
        assert [f.result(WAIT).status_code for f in held] == [200, 200]
    assert refused.status_code == 503


@pytest.mark.parametrize("concurrency", [1, 2])
def test_sync_batches_of_a_route_run_one_at_a_time_unless_configured(serve, concurrency):
    gate = Gate()
    batch = Batch(max_size=1, max_wait_ms=0, concurrency=concurrency)
    client = serve(Route("POST", "/g", gate, batch=batch))
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client.post, "/g", json=i) for i in range(4)]
        for _ in range(concurrency):  # as many batches start as are allowed...
            assert gate.entered.acquire(timeout=WAIT)
        # ...and no more while they are held
        assert not gate.entered.acquire(timeout=0.3)
        gate.go.set()
        assert sorted(f.result(WAIT).json() for f in futures) == [0, 1, 2, 3]
    assert gate.most == concurrency
    assert len(gate.batches) == 4


async def async_double(items: list[int]) -> list[int]:
    await asyncio.sleep(0)
    return [item * 2 for item in items]


class Model:
    def __init__(self) -> None:
        self.scale = 0

    def setup(self) -> None:
        self.scale = 3

    def predict(self, items: list[int]) -> list[int]:
        return [item * self.scale for item in items]


def test_async_functions_and_methods_of_a_class_handler_are_batch_handlers(serve):
    batch = Batch(max_size=2, max_wait_ms=60_000)
    client = serve(
        Route("POST", "/async", async_double, batch=batch),
        Route("POST", "/model", Method(Model, "predict"), batch=batch),
    )
    wait_for_ping(client, 200)
    assert [r.json() for r in post_all(client, "/async", [1, 2])] == [2, 4]
    assert [r.json() for r in post_all(client, "/model", [1, 2])] == [3, 6]


def test_every_request_of_a_batch_writes_its_own_log_line(serve, logged):
    client = serve(
        Route("POST", "/double", Recorder(), batch=Batch(max_size=3, max_wait_ms=60_000))
    )
    logged()
    post_all(client, "/double", [1, 2, 3])
    lines = logged("request")
    assert len(lines) == 3
    assert {line["route"] for line in lines} == {"/double"}
    assert len({line["request_id"] for line in lines}) == 3


def two_params(items: list[int], scale: int) -> list[int]:
    return items


def no_params() -> list[int]:
    return []


def streams(items: list[int]):
    yield from items


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route("GET", "/b", Recorder(), batch=Batch()), "use POST, PUT or PATCH"),
        (Route("POST", "/b/{id}", Recorder(), batch=Batch()), "cannot have path parameters"),
        (Route("POST", "/b", two_params, batch=Batch()), "exactly one parameter"),
        (Route("POST", "/b", no_params, batch=Batch()), "exactly one parameter"),
        (Route("POST", "/b", streams, batch=Batch()), "cannot stream"),
    ],
)
def test_a_batched_route_no_request_could_use_fails_at_start_up(route, message):
    with pytest.raises(ValueError, match=message):
        create_app([route])


@pytest.mark.parametrize("kwargs", [{"max_size": 0}, {"max_wait_ms": -1}, {"concurrency": 0}])
def test_batch_settings_out_of_range_are_refused(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Batch(**kwargs)


def typed(items: list[dict[str, int]]) -> list[float]:
    return [0.0 for _ in items]


def test_the_openapi_document_describes_one_request_and_one_result(serve):
    client = serve(Route("POST", "/t", typed, batch=Batch()), docs=True)
    operation = client.get("/openapi.json").json()["paths"]["/t"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"type": "object", "additionalProperties": {"type": "integer"}}
    result = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert result == {"type": "number"}


def test_batch_sizes_and_waits_are_histograms_in_metrics(serve):
    client = serve(
        Route("POST", "/double", Recorder(), batch=Batch(max_size=3, max_wait_ms=60_000)),
        metrics=True,
    )
    post_all(client, "/double", [1, 2, 3])
    samples = parse(client.get("/metrics").text)
    [size_count] = series(samples, "flashctl_batch_size_count", http_route="/double")
    [size_sum] = series(samples, "flashctl_batch_size_sum", http_route="/double")
    assert (size_count.value, size_sum.value) == (1, 3)
    [two] = series(samples, "flashctl_batch_size_bucket", http_route="/double", le="2")
    [four] = series(samples, "flashctl_batch_size_bucket", http_route="/double", le="4")
    assert (two.value, four.value) == (0, 1)
    [waits] = series(samples, "flashctl_batch_wait_seconds_count", http_route="/double")
    assert waits.value == 3


def test_metrics_off_adds_no_batch_series(serve):
    client = serve(Route("POST", "/double", Recorder(), batch=Batch(max_size=1)))
    assert client.post("/double", json=1).json() == 2
    assert client.get("/metrics").status_code == 404


def test_settings_reach_the_batched_route_timeout():
    app = create_app([Route("POST", "/b", Recorder(), batch=Batch())], Settings(request_timeout=7))
    [operation] = app.operations
    assert operation.timeout == 7
    assert operation.batcher is not None


SERVED_APP = """
import time

from flashctl_runtime import Batch, Route, Settings, create_app

entered = [0]


def slow(items: list) -> list:
    entered[0] += len(items)
    time.sleep(0.5)
    return [{"item": item, "batch": len(items)} for item in items]


app = create_app(
    [
        Route("POST", "/slow", slow, batch=Batch(max_size=4, max_wait_ms=50)),
        Route("POST", "/late", slow, timeout=0.1, batch=Batch(max_size=4, max_wait_ms=50)),
        Route("GET", "/entered", lambda: entered[0]),
    ],
    Settings(metrics=True),
)
"""


@pytest.fixture
def served(tmp_path):
    (tmp_path / "batched_app.py").write_text(SERVED_APP)
    processes = []

    def start(server: str) -> tuple[Any, str]:
        port = free_port()
        log = tmp_path / f"{server}.log"
        process = start_runtime(tmp_path, "batched_app:app", server, port, log)
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        wait_for_status(f"{base}/ping", 200, timeout=30)
        return process, base

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def active(base: str) -> float:
    [gauge] = series(parse(httpx.get(f"{base}/metrics").text), "http_server_active_requests")
    return gauge.value


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_sigterm_lets_queued_and_running_batches_answer_every_request(served, server):
    process, base = served(server)
    limits = httpx.Limits(max_connections=8)
    with (
        httpx.Client(base_url=base, timeout=15.0, limits=limits) as client,
        ThreadPoolExecutor(8) as pool,
    ):
        futures = [pool.submit(client.post, "/slow", json=i) for i in range(8)]
        deadline = time.monotonic() + WAIT
        # all eight have arrived (the scrape is the ninth) and the first batch is running
        while active(base) < 9 or httpx.get(f"{base}/entered").json() < 1:
            assert time.monotonic() < deadline, "the requests never all arrived"
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        responses = [future.result(timeout=WAIT) for future in futures]
    assert [r.status_code for r in responses] == [200] * 8
    assert sorted(r.json()["item"] for r in responses) == list(range(8))
    assert process.wait(WAIT) == 0


def test_over_a_real_server_each_request_keeps_its_own_deadline_and_log_line(served, tmp_path):
    process, base = served("hypercorn")
    limits = httpx.Limits(max_connections=4)
    with (
        httpx.Client(base_url=base, timeout=15.0, limits=limits) as client,
        ThreadPoolExecutor(4) as pool,
    ):
        late = [pool.submit(client.post, "/late", json=i) for i in range(4)]
        statuses = [future.result(timeout=WAIT).status_code for future in late]
        assert statuses == [504] * 4
        assert client.post("/slow", json="after").json()["item"] == "after"
    process.send_signal(signal.SIGTERM)
    assert process.wait(WAIT) == 0
    lines = [
        json.loads(line)
        for line in (tmp_path / "hypercorn.log").read_text().splitlines()
        if line.startswith('{"ts"') and '"event":"request"' in line
    ]
    late_lines = [line for line in lines if line["route"] == "/late"]
    assert [line["status"] for line in late_lines] == [504] * 4
