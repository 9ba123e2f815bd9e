"""`GET /v2/billing/serverless` in the emulator: spend that follows from its own workers' run
time and the catalog's prices, in RunPod's buckets, valid against the official schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flashctl.emulator import billing
from flashctl.emulator.server import BackgroundEmulator
from flashctl.emulator.state import EmulatorState
from flashctl.runpod.client import RunPodClient
from flashctl.runpod.errors import RunPodAPIError
from tests.runpod_schemas import OfficialSchemas

DAY0 = 1_780_000_000 - 1_780_000_000 % 86_400  # a midnight, UTC
CPU_RATE = 2 * 0.03  # cpu5c at 2 vCPUs, $/h (the emulator catalog's serverless price)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def cpu_body(name: str = "shop-api", workers_min: int = 1) -> dict[str, Any]:
    return {
        "name": name,
        "type": "LOAD_BALANCER",
        "image": "acme/app:1",
        "env": {"FLASHCTL_PROJECT": "shop"},
        "workers": {"min": workers_min, "max": 3},
        "scaling": {"type": "REQUEST_COUNT", "requestCount": 1},
        "cpu": [{"id": "cpu5c", "vcpuCount": 2}],
    }


def amounts(answer: dict[str, Any], endpoint_id: str) -> list[float]:
    return [r["totalAmount"] for r in answer["records"] if r["serverlessId"] == endpoint_id]


def test_spend_is_worker_time_at_the_catalog_price(official: OfficialSchemas) -> None:
    clock = Clock(DAY0 + 3600)
    state = EmulatorState(clock=clock, worker_ready_delay=0)
    busy = state.create(cpu_body())  # one worker from 01:00
    idle = state.create(cpu_body("shop-web", workers_min=0))  # none
    clock.now = DAY0 + 3 * 3600
    state.update(busy["id"], {"workers": {"min": 0}})  # the worker goes at 03:00: 2 h
    clock.now = DAY0 + 86_400 + 600  # the next day

    answer = billing.serverless_billing(*state.usage(), {"bucketSize": "day", "lastN": "2"})

    assert official.errors("ListServerlessBillingResponse", answer) == []
    assert amounts(answer, busy["id"]) == [pytest.approx(2 * CPU_RATE), 0.0]
    assert amounts(answer, idle["id"]) == [0.0, 0.0]
    assert answer["records"][0]["cpuAmount"] == answer["records"][0]["totalAmount"]
    assert answer["metadata"]["totals"]["totalAmount"] == pytest.approx(2 * CPU_RATE)
    assert answer["metadata"]["query"]["startTime"] == "2026-05-28T00:00:00Z"
    assert answer["metadata"]["recordCount"] == 4
    assert answer["metadata"]["uniqueServerlessCount"] == 2


def test_running_workers_are_billed_up_to_now_by_the_hour() -> None:
    clock = Clock(DAY0)
    state = EmulatorState(clock=clock, worker_ready_delay=0)
    made = state.create({**cpu_body(), "workers": {"min": 2, "max": 3}})
    clock.now = DAY0 + 5400  # 01:30

    answer = billing.serverless_billing(*state.usage(), {"bucketSize": "hour", "lastN": "2"})

    assert [(r["startTime"][11:16], r["totalAmount"]) for r in answer["records"]] == [
        ("00:00", pytest.approx(2 * CPU_RATE)),
        ("01:00", pytest.approx(2 * CPU_RATE / 2)),
    ]
    assert answer["metadata"]["query"]["endTime"].endswith("T02:00:00Z")
    only = billing.serverless_billing(*state.usage(), {"lastN": "1", "serverlessId": "other123"})
    assert only["records"] == [] and only["metadata"]["query"]["serverlessId"] == "other123"
    assert made["id"] in {r["serverlessId"] for r in answer["records"]}


def test_a_gpu_worker_costs_its_placed_type_times_its_count() -> None:
    endpoint = {"gpu": {"pools": ["ADA_24"], "count": 2}, "cpu": None}
    price = billing.worker_price_per_hour(endpoint)

    assert price == pytest.approx(2 * 1.1)  # ADA_24's serverless price in the emulator catalog


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"bucketSize": "minute"}, "bucketSize must be one of"),
        ({"lastN": "0"}, "lastN must be an integer of at least 1"),
        ({"lastN": "2", "startTime": "2026-01-01T00:00:00Z"}, "cannot be combined"),
        ({"startTime": "yesterday"}, "startTime must be an RFC 3339 date-time"),
    ],
)
def test_bad_queries_are_refused(params: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        billing.serverless_billing(DAY0, [], params)


def test_a_time_window_snaps_to_bucket_boundaries() -> None:
    answer = billing.serverless_billing(
        DAY0,
        [],
        {
            "startTime": "2026-01-15T10:00:00Z",
            "endTime": "2026-03-02T00:00:00Z",
            "bucketSize": "month",
        },
    )

    query = answer["metadata"]["query"]
    assert (query["startTime"], query["endTime"]) == (
        "2026-01-01T00:00:00Z",
        "2026-04-01T00:00:00Z",
    )


def test_the_route_answers_over_http(
    emulator: BackgroundEmulator,
    client: RunPodClient,
    lb_body: Callable[..., dict[str, Any]],
) -> None:
    made = client.create_endpoint(lb_body(workers={"min": 1, "max": 2}))

    answer = client.serverless_billing(bucket_size="hour", last=2)

    assert {r["serverlessId"] for r in answer["records"]} == {made["id"]}
    assert all(r["totalAmount"] >= 0 for r in answer["records"])
    with pytest.raises(RunPodAPIError, match="bucketSize must be one of"):
        client.serverless_billing(bucket_size="minute")
    assert client.request_counts[("GET", "/v2/billing/serverless")] == 2  # a 400: no retry
