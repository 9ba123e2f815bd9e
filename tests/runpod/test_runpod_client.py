"""The REST client over real HTTP against the emulator: calls, retries, errors, redaction."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from flashctl import catalog
from flashctl.emulator.server import BackgroundEmulator
from flashctl.errors import DeployError
from flashctl.runpod.client import RunPodClient, Timeouts
from flashctl.runpod.errors import RunPodAPIError, RunPodConnectionError
from flashctl.runpod.retry import RetryPolicy

CANARY = "rpa_CANARY0123456789abcdefCANARY"  # the key conftest's emulator and client use

Body = Callable[..., dict[str, Any]]


def script(emulator: BackgroundEmulator, *faults: str, match: str | None = None) -> None:
    response = requests.post(
        f"{emulator.url}/_emulator/faults",
        json={"faults": [{"kind": kind, "match": match} for kind in faults]},
        timeout=5,
    )
    assert response.status_code == 204, response.text


def stored_names(emulator: BackgroundEmulator) -> list[str]:
    return [endpoint["name"] for endpoint in emulator.emulator.state.list()]


def test_endpoint_lifecycle_round_trips(client: RunPodClient, lb_body: Body) -> None:
    created = client.create_endpoint(lb_body())
    endpoint_id = created["id"]

    assert client.get_endpoint(endpoint_id) == created
    assert [e["id"] for e in client.list_endpoints()] == [endpoint_id]
    updated = client.update_endpoint(endpoint_id, {"workers": {"min": 1, "max": 5}})
    assert updated["workers"] == {"min": 1, "max": 5, "idleTimeout": 60}
    assert client.list_workers(endpoint_id)["summary"]["total"] == 1
    client.delete_endpoint(endpoint_id)
    assert client.list_endpoints() == []


def test_load_balancer_url_is_request_urls_base(client: RunPodClient, lb_body: Body) -> None:
    created = client.create_endpoint(lb_body())

    assert created["requestUrls"]["base"] == f"https://{created['id']}.api.runpod.ai"


def test_catalogs_are_lists(client: RunPodClient) -> None:
    pools = {gpu["pool"] for gpu in client.catalog("gpus")}

    assert {"AMPERE_80", "ADA_24", "BLACKWELL_180"} <= pools
    assert {cpu["id"] for cpu in client.catalog("cpus")} == {
        "cpu3c",
        "cpu3g",
        "cpu3m",
        "cpu5c",
        "cpu5g",
        "cpu5m",
    }
    assert any(dc["id"] == "US-KS-2" for dc in client.catalog("datacenters"))


def test_the_emulator_serves_flashctls_catalog(client: RunPodClient, lb_body: Body) -> None:
    served = {(gpu["id"], gpu["pool"], gpu["memory"]) for gpu in client.catalog("gpus")}
    l40_only = {
        "pools": ["ADA_48_PRO"],
        "excludedTypes": ["NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation"],
    }

    assert served == {(gpu.id, gpu.pool, gpu.memory_gb) for gpu in catalog.GPU_TYPES}
    assert {dc["id"] for dc in client.catalog("datacenters")} == set(catalog.DATA_CENTERS)
    # Types, pools and data centers validation accepts are ones the emulator accepts.
    created = client.create_endpoint(lb_body(gpu=l40_only, dataCenterIds=["EUR-IS-1"]))
    assert created["gpu"]["excludedTypes"] == l40_only["excludedTypes"]


def test_calls_are_counted_per_method_and_path_template(
    client: RunPodClient, lb_body: Body
) -> None:
    created = client.create_endpoint(lb_body())
    client.get_endpoint(created["id"])
    client.get_endpoint(created["id"])
    client.list_endpoints()

    assert client.request_counts == {
        ("POST", "/v2/serverless"): 1,
        ("GET", "/v2/serverless/{id}"): 2,
        ("GET", "/v2/serverless"): 1,
    }


def test_429_is_retried_after_the_servers_retry_after(
    emulator: BackgroundEmulator, client: RunPodClient
) -> None:
    script(emulator, "429")
    started = time.monotonic()

    assert client.list_endpoints() == []

    assert time.monotonic() - started >= 1.0  # the emulator's Retry-After: 1
    assert client.request_counts[("GET", "/v2/serverless")] == 2


def test_503_and_500_are_retried_with_backoff(
    emulator: BackgroundEmulator, client: RunPodClient
) -> None:
    script(emulator, "503", "500", "503")

    assert client.list_endpoints() == []
    assert client.request_counts[("GET", "/v2/serverless")] == 4


def test_retries_stop_after_the_attempt_limit(
    emulator: BackgroundEmulator, make_client: Callable[..., RunPodClient]
) -> None:
    client = make_client(emulator.url, retry=RetryPolicy(attempts=3, base_delay=0.01))
    script(emulator, *["503"] * 5)

    with pytest.raises(RunPodAPIError) as raised:
        client.list_endpoints()

    assert raised.value.status == 503
    assert "after 3 attempts" in str(raised.value)
    assert client.request_counts[("GET", "/v2/serverless")] == 3


def test_a_retry_after_beyond_the_budget_fails_at_once(
    start_emulator: Callable[..., BackgroundEmulator],
    make_client: Callable[..., RunPodClient],
) -> None:
    emulator = start_emulator(retry_after=30)
    client = make_client(emulator.url, retry=RetryPolicy(budget=2.0))
    script(emulator, "429")
    started = time.monotonic()

    with pytest.raises(RunPodAPIError, match=r"RunPod failed listing endpoints \(429\)") as raised:
        client.list_endpoints()

    assert time.monotonic() - started < 1.0
    assert "asked to retry after 30 s, beyond the 2 s" in str(raised.value)


def test_a_lost_create_response_does_not_create_a_duplicate(
    emulator: BackgroundEmulator, client: RunPodClient, lb_body: Body
) -> None:
    script(emulator, "drop_after", match="POST /v2/serverless")

    created = client.create_endpoint(lb_body("shop-api"))

    assert stored_names(emulator) == ["shop-api"]
    assert created["id"] == emulator.emulator.state.list()[0]["id"]
    assert client.request_counts[("POST", "/v2/serverless")] == 1


def test_another_projects_endpoint_of_the_same_name_is_not_taken_for_a_lost_create(
    emulator: BackgroundEmulator, client: RunPodClient, lb_body: Body
) -> None:
    theirs = client.create_endpoint(lb_body("shop-api", env={"FLASHCTL_PROJECT": "billing"}))
    script(emulator, "drop", match="POST /v2/serverless")  # lost before it was carried out

    created = client.create_endpoint(lb_body("shop-api"))

    assert created["id"] != theirs["id"]
    assert created["env"]["FLASHCTL_PROJECT"] == "shop"
    assert stored_names(emulator) == ["shop-api", "shop-api"]


def test_a_create_is_not_resent_when_its_landing_cannot_be_checked(
    emulator: BackgroundEmulator, client: RunPodClient, lb_body: Body
) -> None:
    script(emulator, "drop_after", match="POST /v2/serverless")
    script(emulator, *["503"] * 4, match="GET /v2/serverless")  # the check's list fails

    with pytest.raises(RunPodConnectionError) as raised:
        client.create_endpoint(lb_body("shop-api"))

    assert "while creating endpoint 'shop-api'" in str(raised.value)
    assert "It may have been carried out" in str(raised.value)
    assert client.request_counts[("POST", "/v2/serverless")] == 1
    assert stored_names(emulator) == ["shop-api"]


def test_a_create_that_failed_before_landing_is_sent_again_once(
    emulator: BackgroundEmulator, client: RunPodClient, lb_body: Body
) -> None:
    script(emulator, "drop", "503", match="POST /v2/serverless")

    client.create_endpoint(lb_body("shop-api"))

    assert stored_names(emulator) == ["shop-api"]
    assert client.request_counts[("POST", "/v2/serverless")] == 3
    assert client.request_counts[("GET", "/v2/serverless")] == 2  # checked before each resend


def test_a_rate_limited_create_is_resent_without_listing(
    start_emulator: Callable[..., BackgroundEmulator],
    make_client: Callable[..., RunPodClient],
    lb_body: Body,
) -> None:
    emulator = start_emulator(retry_after=0)
    client = make_client(emulator.url)
    script(emulator, "429", match="POST /v2/serverless")

    client.create_endpoint(lb_body())

    assert client.request_counts[("GET", "/v2/serverless")] == 0
    assert stored_names(emulator) == ["shop-api"]


def test_a_lost_delete_response_counts_as_deleted(
    emulator: BackgroundEmulator, client: RunPodClient, lb_body: Body
) -> None:
    endpoint_id = client.create_endpoint(lb_body())["id"]
    script(emulator, "drop_after", match="DELETE /v2/serverless/{id}")

    client.delete_endpoint(endpoint_id, name="shop-api")

    assert stored_names(emulator) == []


def test_rejected_key_names_its_source_and_never_the_key(
    emulator: BackgroundEmulator, make_client: Callable[..., RunPodClient]
) -> None:
    wrong = "rpa_WRONGKEY_" + CANARY[::-1]
    client = make_client(emulator.url, key=wrong)

    with pytest.raises(RunPodAPIError) as raised:
        client.list_endpoints()

    message = str(raised.value)
    assert raised.value.status == 401
    assert "RunPod rejected the API key from RUNPOD_API_KEY (401)" in message
    assert wrong not in message and wrong not in repr(raised.value)
    assert client.request_counts[("GET", "/v2/serverless")] == 1  # a 401 is not retried


def test_bad_request_detail_and_endpoint_name_are_shown(
    client: RunPodClient, lb_body: Body
) -> None:
    body = lb_body("shop-api", cpu=[{"id": "cpu5c", "vcpuCount": 4}])  # and gpu: both

    with pytest.raises(RunPodAPIError) as raised:
        client.create_endpoint(body)

    error = raised.value
    assert (error.status, error.method, error.path) == (400, "POST", "/v2/serverless")
    assert error.endpoint_name == "shop-api"
    assert str(error) == (
        "RunPod rejected creating endpoint 'shop-api' (400): "
        "exactly one of gpu or cpu must be given"
    )
    assert error.exit_code == 1


def test_validation_errors_are_listed_one_per_line(
    client: RunPodClient, lb_body: Body, contract_exemptions: list[str]
) -> None:
    contract_exemptions.append("('idle' was unexpected)")
    endpoint_id = client.create_endpoint(lb_body())["id"]

    with pytest.raises(RunPodAPIError) as raised:
        client.update_endpoint(endpoint_id, {"workers": {"min": 1, "max": 2}, "idle": 5})

    assert raised.value.status == 422
    assert raised.value.errors
    assert str(raised.value).splitlines()[1].startswith("  - $: ")


def test_unknown_endpoint_is_a_404_error(client: RunPodClient) -> None:
    with pytest.raises(RunPodAPIError, match=r"reading endpoint nosuchid000000 \(404\)"):
        client.get_endpoint("nosuchid000000")


def test_unreachable_api_says_so_with_the_url(make_client: Callable[..., RunPodClient]) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}", retry=RetryPolicy(attempts=2, base_delay=0))

    with pytest.raises(RunPodConnectionError) as raised:
        client.list_endpoints()

    assert str(raised.value).startswith(
        f"Could not reach the RunPod API at http://127.0.0.1:{port}/v2/serverless "
        "while listing endpoints: connection refused (2 attempts)."
    )
    assert isinstance(raised.value, DeployError)


def test_a_slow_answer_is_a_read_timeout(
    start_emulator: Callable[..., BackgroundEmulator],
    make_client: Callable[..., RunPodClient],
) -> None:
    emulator = start_emulator(latency_ms=400)
    client = make_client(
        emulator.url,
        timeouts=Timeouts(connect=1.0, read=0.1),
        retry=RetryPolicy(attempts=2, base_delay=0),
    )

    with pytest.raises(RunPodConnectionError, match=r"no response within 0.1 s \(2 attempts\)"):
        client.list_endpoints()


def test_debug_log_shows_requests_with_the_key_redacted(
    client: RunPodClient, lb_body: Body, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flashctl.runpod")

    client.create_endpoint(lb_body())

    (record,) = [r for r in caplog.records if r.name == "flashctl.runpod"]
    assert record.getMessage().startswith(f"POST {client.base_url}/v2/serverless -> 201 in ")
    assert "'Authorization': '[redacted]'" in record.getMessage()


def test_canary_key_never_reaches_logs_or_errors(
    emulator: BackgroundEmulator,
    client: RunPodClient,
    make_client: Callable[..., RunPodClient],
    lb_body: Body,
    caplog: pytest.LogCaptureFixture,
    contract_exemptions: list[str],
) -> None:
    contract_exemptions.append("('bogus' was unexpected)")
    caplog.set_level(logging.DEBUG)
    texts = [repr(client), repr(client.credentials), str(client.credentials)]
    script(emulator, "429", "drop", "drop_after", "503")
    created = client.create_endpoint(lb_body())
    client.update_endpoint(created["id"], {"image": "ghcr.io/acme/shop:2"})
    failing = [
        lambda: client.create_endpoint(lb_body(cpu=[{"id": "cpu5c", "vcpuCount": 2}])),
        lambda: client.update_endpoint(created["id"], {"bogus": CANARY[:4]}),
        lambda: client.get_endpoint("missing0000000"),
        lambda: make_client("http://127.0.0.1:9", retry=RetryPolicy(attempts=1)).list_endpoints(),
    ]
    for call in failing:
        with pytest.raises(DeployError) as raised:
            call()
        error = raised.value
        texts += [str(error), repr(error), *map(str, error.args), str(error.__cause__)]

    assert all(CANARY not in text for text in texts)
    assert CANARY not in caplog.text
    assert all(CANARY not in str(record.args) for record in caplog.records)
