"""The emulator over raw HTTP: RunPod's status codes and errors, workers, persistence, faults."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from flashctl.emulator.server import BackgroundEmulator, create_emulator
from flashctl.errors import DeployError, UsageError

KEY = "rpa_CANARY0123456789abcdefCANARY"  # the key conftest's emulators require
AUTH = {"Authorization": f"Bearer {KEY}"}
Body = Callable[..., dict[str, Any]]
Start = Callable[..., BackgroundEmulator]


def call(emulator: BackgroundEmulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("headers", AUTH)
    return requests.request(method, emulator.url + path, timeout=5, **kwargs)


def create(emulator: BackgroundEmulator, body: dict[str, Any]) -> dict[str, Any]:
    response = call(emulator, "POST", "/v2/serverless", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.mark.parametrize(
    ("headers", "detail"),
    [({}, "missing bearer token"), ({"Authorization": "Bearer nope"}, "invalid bearer token")],
)
def test_requests_without_the_right_bearer_key_get_401(
    emulator: BackgroundEmulator, headers: dict[str, str], detail: str
) -> None:
    response = call(emulator, "GET", "/v2/serverless", headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {"title": "Unauthorized", "status": 401, "detail": detail}


def test_without_a_configured_key_any_bearer_key_is_accepted(start_emulator: Start) -> None:
    emulator = start_emulator(api_key=None)

    response = call(emulator, "GET", "/v2/serverless", headers={"Authorization": "Bearer x"})

    assert response.status_code == 200


def test_status_codes_follow_runpod(emulator: BackgroundEmulator, lb_body: Body) -> None:
    created = create(emulator, lb_body())
    path = f"/v2/serverless/{created['id']}"

    assert call(emulator, "GET", path).status_code == 200
    assert call(emulator, "PATCH", path, json={"timeout": 60000}).status_code == 200
    assert call(emulator, "DELETE", path).status_code == 204
    assert call(emulator, "DELETE", path).status_code == 404
    assert call(emulator, "GET", path).json()["detail"] == "endpoint not found"
    assert call(emulator, "PATCH", path, json={}).status_code == 404
    assert call(emulator, "GET", path + "/workers").status_code == 404
    assert call(emulator, "PUT", path).status_code == 405
    assert call(emulator, "GET", "/v2/pods").status_code == 404


def test_ids_and_request_urls_are_shaped_like_runpods(
    emulator: BackgroundEmulator, lb_body: Body
) -> None:
    balancer = create(emulator, lb_body(env={"HEALTH_CHECK_PATH": "/healthz"}))
    queue = create(
        emulator,
        lb_body("jobs", type="QUEUE", scaling={"type": "QUEUE_DELAY", "queueDelay": 4}),
    )

    assert len(balancer["id"]) == 14 and balancer["id"].isalnum() and balancer["id"].islower()
    assert balancer["requestUrls"] == {
        "base": f"https://{balancer['id']}.api.runpod.ai",
        "health": f"https://{balancer['id']}.api.runpod.ai/healthz",
    }
    assert queue["requestUrls"]["runSync"] == f"https://api.runpod.ai/v2/{queue['id']}/runsync"


def test_server_defaults_are_filled_in(emulator: BackgroundEmulator) -> None:
    created = create(
        emulator,
        {
            "name": "bare",
            "type": "LOAD_BALANCER",
            "image": "python:3.11-slim",
            "cpu": [{"id": "cpu5c", "vcpuCount": 4}],
            "scaling": {"type": "REQUEST_COUNT", "requestCount": 1},
        },
    )

    assert created["workers"] == {"min": 0, "max": 3, "idleTimeout": 10}
    assert (created["timeout"], created["flashboot"], created["gpu"]) == (300000, "OFF", None)
    assert created["cpu"] == [{"id": "cpu5c", "vcpuCount": 4, "memory": 8}]


def test_duplicate_names_are_allowed_as_on_runpod(
    emulator: BackgroundEmulator, lb_body: Body
) -> None:
    first, second = create(emulator, lb_body()), create(emulator, lb_body())

    assert first["id"] != second["id"]
    names = [e["name"] for e in call(emulator, "GET", "/v2/serverless").json()["endpoints"]]
    assert names == ["shop-api", "shop-api"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"type": "SOMETHING"}, "$.type: 'SOMETHING' is not one of"),
        ({"workers": {"min": -1}}, "$.workers.min: -1 is less than the minimum of 0"),
        ({"bogus": 1}, "$: Additional properties are not allowed ('bogus' was unexpected)"),
        ({"scaling": {"type": "QUEUE_DELAY", "queueDelay": 2}}, "$.scaling"),
        ({"image": None}, "$.image: None is not of type 'string'"),
    ],
)
def test_schema_violations_get_422_with_one_error_each(
    emulator: BackgroundEmulator, lb_body: Body, change: dict[str, Any], error: str
) -> None:
    response = call(emulator, "POST", "/v2/serverless", json=lb_body(**change))

    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == "Request validation failed."
    assert any(line.startswith(error) for line in problem["errors"]), problem["errors"]


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"cpu": [{"id": "cpu5c", "vcpuCount": 2}]}, "exactly one of gpu or cpu must be given"),
        ({"gpu": {"pools": ["AMPERE_99"]}}, "gpu.pools: unknown pool 'AMPERE_99'"),
        ({"workers": {"min": 4, "max": 2}}, "workers.min (4) is greater than workers.max (2)"),
        (
            {
                "gpu": {
                    "pools": ["ADA_24"],
                    "allowedCudaVersions": ["12.4"],
                    "minCudaVersion": "12.1",
                }
            },
            "gpu.allowedCudaVersions and gpu.minCudaVersion are mutually exclusive",
        ),
    ],
)
def test_rule_violations_get_400(
    emulator: BackgroundEmulator, lb_body: Body, change: dict[str, Any], detail: str
) -> None:
    response = call(emulator, "POST", "/v2/serverless", json=lb_body(**change))

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


def test_malformed_json_gets_400(emulator: BackgroundEmulator) -> None:
    response = call(emulator, "POST", "/v2/serverless", data=b"{nope", headers=AUTH)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("request body is not valid JSON")


def test_compute_family_cannot_change_on_update(
    emulator: BackgroundEmulator, lb_body: Body
) -> None:
    created = create(emulator, lb_body())

    response = call(
        emulator,
        "PATCH",
        f"/v2/serverless/{created['id']}",
        json={"cpu": [{"id": "cpu5c", "vcpuCount": 2}]},
    )

    assert response.status_code == 400
    assert "compute family is fixed" in response.json()["detail"]


def test_patch_changes_only_the_given_fields(emulator: BackgroundEmulator, lb_body: Body) -> None:
    created = create(emulator, lb_body())

    response = call(
        emulator,
        "PATCH",
        f"/v2/serverless/{created['id']}",
        json={"workers": {"max": 9}, "gpu": {"count": 2}},
    )

    updated = response.json()
    assert updated["workers"] == {**created["workers"], "max": 9}
    assert updated["gpu"] == {**created["gpu"], "count": 2}
    assert {k: v for k, v in updated.items() if k not in ("workers", "gpu")} == {
        k: v for k, v in created.items() if k not in ("workers", "gpu")
    }


def workers(emulator: BackgroundEmulator, endpoint_id: str) -> dict[str, Any]:
    return dict(call(emulator, "GET", f"/v2/serverless/{endpoint_id}/workers").json())


def test_workers_become_ready_after_a_create(emulator: BackgroundEmulator, lb_body: Body) -> None:
    created = create(emulator, lb_body(workers={"min": 2, "max": 3}))

    before = workers(emulator, created["id"])
    time.sleep(0.25)  # the fixture's worker_ready_delay is 0.2 s
    after = workers(emulator, created["id"])

    assert before["summary"]["initializing"] == 2
    assert after["summary"] == {**before["summary"], "initializing": 0, "idle": 2}
    assert all(w["startedAt"] and w["gpuTypeId"] for w in after["workers"])


def test_an_image_change_restarts_workers_and_scaling_does_not(
    emulator: BackgroundEmulator, lb_body: Body
) -> None:
    created = create(emulator, lb_body(workers={"min": 1, "max": 3}))
    path = f"/v2/serverless/{created['id']}"
    time.sleep(0.25)
    ready = workers(emulator, created["id"])

    call(emulator, "PATCH", path, json={"scaling": {"type": "REQUEST_COUNT", "requestCount": 8}})
    after_scaling = workers(emulator, created["id"])
    call(emulator, "PATCH", path, json={"image": "ghcr.io/acme/shop:2"})
    after_image = workers(emulator, created["id"])

    assert after_scaling == ready
    assert after_image["endpointVersion"] == ready["endpointVersion"] + 1
    # The running worker is now stale; a rolling update replaces it (test_deploy_rollout.py).
    (stale,) = after_image["workers"]
    assert (stale["id"], stale["isStale"]) == (ready["workers"][0]["id"], True)


def test_state_survives_a_restart(start_emulator: Start, tmp_path: Path, lb_body: Body) -> None:
    state = tmp_path / "state" / "emulator.json"
    first = start_emulator(state=state)
    created = create(first, lb_body())
    first.stop()

    second = start_emulator(state=state)

    assert call(second, "GET", f"/v2/serverless/{created['id']}").json() == created
    assert [p.name for p in state.parent.iterdir()] == ["emulator.json"]  # no temp files left
    assert json.loads(state.read_text())["format"] == 1


def test_an_unreadable_state_file_is_an_error_naming_it(tmp_path: Path) -> None:
    state = tmp_path / "emulator.json"
    state.write_text("{not json")

    with pytest.raises(DeployError, match=r"emulator state file .*emulator\.json"):
        create_emulator(state)


def test_out_of_range_options_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="--fail-rate"):
        create_emulator(fail_rate=1.5)


def test_429_carries_retry_after_and_ratelimit_headers(emulator: BackgroundEmulator) -> None:
    requests.post(f"{emulator.url}/_emulator/faults", json={"faults": [{"kind": "429"}]}, timeout=5)

    limited = call(emulator, "GET", "/v2/serverless")
    normal = call(emulator, "GET", "/v2/serverless")

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["RateLimit"] == '"minute";r=0;t=1'
    assert "RateLimit-Policy" in limited.headers
    assert normal.status_code == 200 and "RateLimit" in normal.headers


def test_a_dropped_connection_gives_no_usable_response(emulator: BackgroundEmulator) -> None:
    requests.post(
        f"{emulator.url}/_emulator/faults", json={"faults": [{"kind": "drop"}]}, timeout=5
    )

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        call(emulator, "GET", "/v2/serverless")


def fault_sequence(emulator: BackgroundEmulator, count: int) -> list[int | None]:
    statuses: list[int | None] = []
    for _ in range(count):
        try:
            statuses.append(call(emulator, "GET", "/v2/serverless").status_code)
        except requests.exceptions.ChunkedEncodingError:
            statuses.append(None)
    return statuses


def test_seeded_faults_are_reproducible(start_emulator: Start) -> None:
    runs = [fault_sequence(start_emulator(fail_rate=0.5, seed=seed), 30) for seed in (7, 7, 8)]

    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert {429, 500, 503, None, 200} <= set(runs[0]) | set(runs[2])


def test_request_log_counts_per_route_and_reset_clears_all(
    emulator: BackgroundEmulator, lb_body: Body
) -> None:
    created = create(emulator, lb_body())
    call(emulator, "GET", f"/v2/serverless/{created['id']}")
    call(emulator, "GET", "/v2/serverless", headers={})

    log = requests.get(f"{emulator.url}/_emulator/requests", timeout=5).json()
    reset = requests.post(f"{emulator.url}/_emulator/reset", timeout=5)

    assert log["counts"] == {
        "GET /v2/serverless": 1,
        "GET /v2/serverless/{id}": 1,
        "POST /v2/serverless": 1,
    }
    assert [entry["status"] for entry in log["requests"]] == [201, 200, 401]
    assert reset.status_code == 204
    assert requests.get(f"{emulator.url}/_emulator/requests", timeout=5).json()["total"] == 0
    assert call(emulator, "GET", "/v2/serverless").json() == {"endpoints": []}


@pytest.mark.slow
def test_module_entry_point_serves_until_sigterm(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "flashctl.emulator", "--port", str(port), "--api-key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                response = requests.get(
                    f"http://127.0.0.1:{port}/v2/serverless", headers=AUTH, timeout=1
                )
                break
            except requests.exceptions.ConnectionError:
                assert process.poll() is None, process.communicate()[1].decode()
                assert time.monotonic() < deadline, "the emulator did not start within 15 s"
                time.sleep(0.05)
        assert response.json() == {"endpoints": []}
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr.decode()
    assert f"Running on http://127.0.0.1:{port}" in stderr.decode()


DEEP = b"[" * 1000 + b"]" * 1000


@pytest.mark.parametrize(
    ("headers", "body", "status", "detail"),
    [
        ({}, DEEP, 401, "missing bearer token"),
        (AUTH, DEEP, 400, "request body is not valid JSON: nested deeper than 32 levels"),
        (AUTH, b'{"name": NaN}', 400, "request body is not valid JSON: NaN is not a JSON value"),
        (AUTH, b'{"timeout": Infinity}', 400, "request body is not valid JSON: Infinity is not"),
        ({"Authorization": "Bearer rpa_\u00e9\u00e8".encode()}, b"{}", 401, "invalid bearer token"),
        ({"Authorization": "Bearer rpa_\u0416".encode()}, b"{}", 401, "invalid bearer token"),
    ],
    ids=["deep-no-key", "deep", "nan", "infinity", "latin-1-key", "utf-8-key"],
)
def test_hostile_requests_get_runpods_errors_not_a_500(
    emulator: BackgroundEmulator, headers: dict[str, Any], body: bytes, status: int, detail: str
) -> None:
    response = call(emulator, "POST", "/v2/serverless", data=body, headers=headers)

    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith(detail)  # ErrorResponse: checked at teardown


@pytest.mark.parametrize("count", [2.0, 1e308, True])
def test_a_number_that_is_not_an_integer_is_a_422_where_runpod_wants_one(
    emulator: BackgroundEmulator, lb_body: Body, count: Any
) -> None:
    response = call(
        emulator, "POST", "/v2/serverless", json=lb_body(cpu=[{"id": "cpu5c", "vcpuCount": count}])
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [f"$.cpu[0].vcpuCount: {count!r} is not of type 'integer'"]


def test_an_unauthenticated_body_is_neither_kept_nor_parsed(emulator: BackgroundEmulator) -> None:
    body = json.dumps({"env": {"BIG": "x" * 500_000}}).encode()

    response = call(emulator, "POST", "/v2/serverless", data=body, headers={})

    assert response.status_code == 401
    (logged,) = emulator.emulator.log.snapshot()["requests"]
    assert logged["status"] == 401 and logged["request_body"] is None


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_gets_413_and_is_not_kept(
    emulator: BackgroundEmulator, chunked: bool
) -> None:
    from flashctl.emulator.app import MAX_BODY

    chunk = b" " * 65536
    size = MAX_BODY + len(chunk)
    body = (chunk for _ in range(size // len(chunk))) if chunked else b" " * size

    response = call(emulator, "POST", "/v2/serverless", data=body)

    assert response.status_code == 413
    assert response.json()["detail"] == f"request body is larger than {MAX_BODY} bytes"
    assert emulator.emulator.log.snapshot()["requests"][0]["request_body"] is None
    assert call(emulator, "GET", "/v2/serverless").status_code == 200  # still serving


def test_workers_beyond_the_accounts_quota_get_400(
    emulator: BackgroundEmulator, lb_body: Body
) -> None:
    from flashctl.emulator.schema import WORKER_QUOTA

    huge = call(
        emulator, "POST", "/v2/serverless", json=lb_body(workers={"min": 300_000, "max": 300_000})
    )
    first = create(emulator, lb_body(workers={"min": 0, "max": WORKER_QUOTA - 10}))
    second = call(emulator, "POST", "/v2/serverless", json=lb_body(workers={"max": 11}))
    raised = call(
        emulator,
        "PATCH",
        f"/v2/serverless/{first['id']}",
        json={"workers": {"max": WORKER_QUOTA + 1}},
    )

    assert huge.status_code == 400
    assert huge.json()["detail"] == (
        f"workers.max (300000) is more than the account's worker quota leaves: {WORKER_QUOTA} "
        f"of {WORKER_QUOTA} (workers.max summed over endpoints)"
    )
    assert second.status_code == 400 and "leaves: 10 of" in second.json()["detail"]
    assert raised.status_code == 400 and f"leaves: {WORKER_QUOTA} of" in raised.json()["detail"]
    assert [e["id"] for e in call(emulator, "GET", "/v2/serverless").json()["endpoints"]] == [
        first["id"]
    ]
