"""``Settings(metrics=True)``: Prometheus text at ``/metrics``, checked by a strict parser."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading

import httpx
import pytest
from flashctl_runtime import HTTPError, Route, Settings, create_app
from flashctl_runtime.metrics import BUCKETS, Metrics

from tests.runtime.exposition import parse, series
from tests.servers import free_port, wait_for_status

DURATION = "http_server_request_duration_seconds"


def add(a: int, b: int):
    return a + b


def boom():
    raise KeyError("lost")


def teapot():
    raise HTTPError(418, "short and stout")


def scrape(client) -> list:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.text)


def count(samples, route: str, status: str, method: str = "GET") -> float:
    [sample] = series(
        samples,
        DURATION + "_count",
        http_route=route,
        http_response_status_code=status,
        http_request_method=method,
    )
    return sample.value


def test_requests_are_counted_by_route_template_method_and_status(serve):
    client = serve(
        Route("GET", "/add", add),
        Route("GET", "/users/{user_id:int}", lambda user_id: user_id),
        Route("GET", "/boom", boom),
        metrics=True,
    )
    for _ in range(3):
        assert client.get("/add?a=1&b=2").status_code == 200
    assert client.get("/add?a=x&b=2").status_code == 422
    for user in (1, 2):
        assert client.get(f"/users/{user}").status_code == 200
    assert client.get("/boom").status_code == 500
    assert client.get("/nowhere").status_code == 404
    samples = scrape(client)
    assert count(samples, "/add", "200") == 3
    assert count(samples, "/add", "422") == 1
    assert count(samples, "/users/{user_id:int}", "200") == 2  # the template, not the path
    assert count(samples, "/boom", "500") == 1
    assert count(samples, "", "404") == 1  # no route matched: no http_route
    assert all(s.labels["worker"] == "0" for s in samples)
    # the scrape itself is the one request in flight
    [active] = series(samples, "http_server_active_requests")
    assert active.value == 1
    errors = {
        (s.labels["http_route"], s.labels["error_type"]): s.value
        for s in series(samples, "flashctl_errors_total")
    }
    assert errors == {("/boom", "KeyError"): 1, ("/add", "RequestValidationError"): 1}
    # the scrape counts once the next one comes
    assert count(scrape(client), "/metrics", "200") == 1


def test_histogram_has_the_opentelemetry_buckets_and_each_request_in_its_own():
    metrics = Metrics(worker="0")
    for seconds in (0.001, 0.005, 0.0051, 0.3, 10.0, 12.5):
        metrics.observe("POST", "/infer", 200, seconds, None)
    samples = parse(metrics.render().decode())
    buckets = {
        s.labels["le"]: s.value for s in series(samples, DURATION + "_bucket", http_route="/infer")
    }
    assert list(buckets) == [*(f"{b:g}" for b in BUCKETS), "+Inf"]
    assert BUCKETS == (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
    # bounds are inclusive (le): 0.005 is in the first bucket, 0.0051 in the second
    assert buckets["0.005"] == 2
    assert buckets["0.01"] == 3
    assert buckets["0.25"] == 3
    assert buckets["0.5"] == 4
    assert buckets["10"] == 5
    assert buckets["+Inf"] == 6
    [total] = series(samples, DURATION + "_sum")
    assert total.value == pytest.approx(0.001 + 0.005 + 0.0051 + 0.3 + 10.0 + 12.5)


def test_a_real_request_lands_in_the_bucket_its_duration_belongs_to(serve):
    client = serve(Route("GET", "/add", add), metrics=True)
    client.get("/add?a=1&b=2")
    samples = scrape(client)
    [total] = series(samples, DURATION + "_sum", http_route="/add")
    first = next(
        float(s.labels["le"])
        for s in series(samples, DURATION + "_bucket", http_route="/add")
        if s.value == 1
    )
    below = [b for b in BUCKETS if b < first]
    assert total.value <= first and (not below or total.value > below[-1])


def test_a_method_outside_the_standard_ones_is_counted_as_other(serve):
    client = serve(Route("GET", "/add", add), metrics=True)
    client.request("BREW", "/add")
    samples = scrape(client)
    assert [s.labels["http_request_method"] for s in series(samples, DURATION + "_count")] == [
        "_OTHER"
    ]


def test_concurrency_and_rate_limit_rejections_are_counted(serve):
    entered, release = threading.Event(), threading.Event()

    def hold():
        entered.set()
        release.wait(5)
        return "done"

    client = serve(Route("GET", "/hold", hold), max_concurrency=1, metrics=True)
    holder = threading.Thread(target=lambda: client.get("/hold"))
    holder.start()
    try:
        assert entered.wait(5)
        assert [client.get("/hold").status_code for _ in range(2)] == [503, 503]
    finally:
        release.set()
        holder.join(5)
    rejected = {s.labels["reason"]: s.value for s in scrape(client) if "reason" in s.labels}
    assert rejected == {"concurrency": 2, "rate_limit": 0}

    limited = serve(Route("GET", "/a", lambda: "a"), rate_limit=(1, 60.0), metrics=True)
    assert [limited.get("/a").status_code for _ in range(3)] == [200, 429, 429]
    rejected = {s.labels["reason"]: s.value for s in scrape(limited) if "reason" in s.labels}
    assert rejected == {"concurrency": 0, "rate_limit": 2}


def test_http_errors_are_counted_by_type_with_their_own_status(serve):
    client = serve(Route("GET", "/teapot", teapot), metrics=True)
    client.get("/teapot")
    samples = scrape(client)
    assert count(samples, "/teapot", "418") == 1
    [error] = series(samples, "flashctl_errors_total")
    assert error.labels["error_type"] == "HTTPError" and error.value == 1


def test_startup_duration_is_exported_once_the_hook_has_run(serve):
    async def load():
        await asyncio.sleep(0.01)

    client = serve(Route("GET", "/add", add), startup=load, metrics=True)
    deadline = 200
    while client.get("/ping").status_code != 200 and deadline:  # bounded: 200 polls
        deadline -= 1
    [startup] = series(scrape(client), "flashctl_startup_duration_seconds")
    assert startup.value >= 0.01

    without = serve(Route("GET", "/add", add), metrics=True)
    [startup] = series(scrape(without), "flashctl_startup_duration_seconds")
    assert startup.value == 0


def test_label_values_are_escaped_as_the_format_requires():
    metrics = Metrics(worker='w"1')
    route = '/a\\b"c\nd'
    metrics.observe("GET", route, 500, 0.1, "Weird\\Error")
    samples = parse(metrics.render().decode())
    assert {s.labels["http_route"] for s in series(samples, DURATION + "_count")} == {route}
    [error] = series(samples, "flashctl_errors_total")
    assert error.labels["error_type"] == "Weird\\Error"
    assert error.labels["worker"] == 'w"1'


def test_the_worker_label_comes_from_the_serving_process(monkeypatch):
    monkeypatch.setenv("FLASHCTL_WORKER", "3")
    samples = parse(Metrics().render().decode())
    assert {s.labels["worker"] for s in samples} == {"3"}


def test_metrics_answers_get_and_head_only(serve):
    client = serve(Route("GET", "/add", add), metrics=True)
    assert client.head("/metrics").status_code == 200
    assert client.head("/metrics").content == b""
    response = client.post("/metrics")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/metrics/", "/METRICS", "/Metrics;x", "/metrics//"])
def test_other_spellings_of_metrics_never_reach_a_catch_all_route(serve, path):
    client = serve(Route("GET", "/{rest:path}", lambda rest: rest), metrics=True)
    assert client.get(path).status_code in (400, 404)
    assert client.get("/metrics").status_code == 200


def test_metrics_off_means_404_even_behind_a_catch_all(serve):
    client = serve(Route("GET", "/{rest:path}", lambda rest: rest))
    assert client.get("/metrics").status_code == 404
    assert client.get("/other").json() == "other"


@pytest.mark.parametrize("metrics", [True, False])
def test_a_route_at_metrics_is_refused_at_start_up(metrics):
    with pytest.raises(ValueError, match="reserved"):
        create_app([Route("GET", "/metrics", add)], Settings(metrics=metrics))


@pytest.mark.parametrize(
    "text",
    [
        "a_total 1",  # no final line feed
        'a_total{x="1"} 1\na_total{x="1"} 2\n',  # one series twice
        'a_total{x="\\t"} 1\n',  # an escape the format does not have
        "# TYPE h histogram\n"
        'h_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',  # not cumulative
        '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',  # no +Inf bucket
        'a{x="1"} 1\nb 1\na{x="2"} 2\n',  # a family's samples apart
        "a 1\n# TYPE a counter\n",  # TYPE after the samples
        "a one\n",
    ],
)
def test_the_exposition_reader_refuses_what_the_format_forbids(text):
    with pytest.raises(ValueError):
        parse(text)


SERVED = textwrap.dedent(
    """
    from flashctl_runtime import Route, Settings, create_app


    def add(a: int, b: int):
        return a + b


    app = create_app([Route("GET", "/add", add)], Settings(title="scraped", metrics=True))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("server", "workers"), [("hypercorn", "1"), ("uvicorn", "1"), ("hypercorn", "2")]
)
def test_a_real_server_is_scraped_after_real_requests(tmp_path, server, workers):
    (tmp_path / "scraped_app.py").write_text(SERVED)
    port = free_port()
    command = [sys.executable, "-m", "flashctl_runtime.serve", "scraped_app:app"]
    command += ["--server", server, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", workers]
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_status(base + "/ping", 200, timeout=30)
        with httpx.Client(base_url=base, timeout=5.0) as client:  # one connection: one worker
            for _ in range(5):
                assert client.get("/add", params={"a": 1, "b": 2}).json() == 3
            response = client.get("/metrics")
        assert response.status_code == 200
        samples = parse(response.text)
        workers_seen = {s.labels["worker"] for s in samples}
        assert len(workers_seen) == 1 and workers_seen <= {str(i) for i in range(int(workers))}
        assert count(samples, "/add", "200") == 5
        if workers == "2":  # each process labels its own: new connections reach both
            for _ in range(200):
                text = httpx.get(base + "/metrics", timeout=5.0).text
                workers_seen |= {s.labels["worker"] for s in parse(text)}
                if workers_seen == {"0", "1"}:
                    break
            assert workers_seen == {"0", "1"}
    finally:
        process.terminate()
        process.wait(30)
        log.close()
