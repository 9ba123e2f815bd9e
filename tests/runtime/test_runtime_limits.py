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


def test_rate_limit_keeps_at_most_max_clients_forgetting_the_one_seen_longest_ago():
    limit = RateLimit(1, 60.0)
    limit.max_clients = 10
    for n in range(10):
        assert limit.retry_after(f"c{n}", now=0.0) is None
    assert limit.retry_after("c0", now=1.0) == 59  # c0 is now the most recent
    for n in range(10, 25):  # none of them idle: all within the window
        limit.retry_after(f"c{n}", now=2.0)
    assert len(limit._buckets) == 10
    assert limit.retry_after("c1", now=3.0) is None  # forgotten: a full bucket again
    assert limit.retry_after("c24", now=3.0) == 59  # remembered


def _spoofing(client, addresses, **headers):
    return [
        client.get("/a", headers={"X-Forwarded-For": address, **headers}).status_code
        for address in addresses
    ]


def test_x_forwarded_for_is_ignored_without_trusted_proxies(serve):
    client = serve(Route("GET", "/a", lambda: "a"), rate_limit=(2, 60.0))
    assert _spoofing(client, ["1.1.1.1", "2.2.2.2", "3.3.3.3"]) == [200, 200, 429]


def test_behind_one_proxy_the_rightmost_x_forwarded_for_entry_is_the_client(serve):
    client = serve(Route("GET", "/a", lambda: "a"), rate_limit=(2, 60.0), trusted_proxies=1)
    # two clients behind the same proxy address have a bucket each
    assert _spoofing(client, ["1.1.1.1", "1.1.1.1", "2.2.2.2", "2.2.2.2"]) == [200] * 4
    # values the client prepends itself do not give it a new bucket
    assert _spoofing(client, ["9.9.9.9, 1.1.1.1", "8.8.8.8,1.1.1.1"]) == [429, 429]
    # two header lines are one list
    response = client.get(
        "/a", headers=[("X-Forwarded-For", "7.7.7.7"), ("X-Forwarded-For", "2.2.2.2")]
    )
    assert response.status_code == 429


def test_with_two_trusted_proxies_the_second_entry_from_the_right_counts(serve):
    client = serve(Route("GET", "/a", lambda: "a"), rate_limit=(1, 60.0), trusted_proxies=2)
    assert _spoofing(client, ["6.6.6.6, 1.1.1.1, 10.0.0.5", "5.5.5.5, 1.1.1.1, 10.0.0.6"]) == [
        200,
        429,
    ]
    # fewer entries than proxies: the header cannot be trusted, the peer address counts
    assert _spoofing(client, ["3.3.3.3", "4.4.4.4"]) == [200, 429]
