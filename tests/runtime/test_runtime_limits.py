"""Load shedding: 503 over max_concurrency, 429 over rate_limit; /ping is exempt from both."""

from __future__ import annotations

import threading

from flashctl_runtime import Route
from flashctl_runtime.limits import RateLimit


def test_over_max_concurrency_gives_503_with_retry_after(serve):
    entered, release = threading.Event(), threading.Event()

    def hold():
        entered.set()
        release.wait(5)
        return "done"

    client = serve(Route("GET", "/hold", hold), max_concurrency=1)
    first: list[int] = []
    holder = threading.Thread(target=lambda: first.append(client.get("/hold").status_code))
    holder.start()
    try:
        assert entered.wait(5)
        response = client.get("/hold")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert set(response.json()) == {"detail", "request_id"}
        assert client.get("/ping").status_code == 200  # exempt
    finally:
        release.set()
        holder.join(5)
    assert first == [200]
    assert client.get("/hold").status_code == 200  # the slot was given back


def test_over_rate_limit_gives_429_with_retry_after(serve):
    client = serve(Route("GET", "/a", lambda: "a"), rate_limit=(2, 60.0))
    assert [client.get("/a").status_code for _ in range(2)] == [200, 200]
    response = client.get("/a")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert set(response.json()) == {"detail", "request_id"}


def test_ping_is_exempt_from_the_rate_limit(serve):
    client = serve(Route("GET", "/a", lambda: "a"), rate_limit=(1, 60.0))
    assert client.get("/a").status_code == 200
    assert [client.get("/ping").status_code for _ in range(5)] == [200] * 5


def test_rate_limit_is_counted_per_client():
    limit = RateLimit(1, 10.0)
    assert limit.retry_after("10.0.0.1", now=0.0) is None
    assert limit.retry_after("10.0.0.2", now=0.0) is None
    assert limit.retry_after("10.0.0.1", now=1.0) == 9


def test_rate_limit_refills_over_time():
    limit = RateLimit(2, 1.0)
    assert [limit.retry_after("c", now=0.0) for _ in range(3)] == [None, None, 1]
    assert limit.retry_after("c", now=0.6) is None


def test_rate_limit_forgets_idle_clients_past_its_size():
    limit = RateLimit(1, 1.0)
    limit.max_clients = 10
    for n in range(11):
        limit.retry_after(f"c{n}", now=float(n))
    assert len(limit._buckets) < 11
