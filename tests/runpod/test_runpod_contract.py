"""The emulator's own schemas and responses against RunPod's official OpenAPI document.

(Each test using the `emulator` fixture is also contract-checked at teardown; see conftest.)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from flashctl.emulator.schema import schema_errors
from flashctl.runpod.client import RunPodClient

Body = Callable[..., dict[str, Any]]

CPU_BODY = {
    "name": "cpu-api",
    "type": "LOAD_BALANCER",
    "image": "python:3.11-slim",
    "cpu": [{"id": "cpu5c", "vcpuCount": 2}, {"id": "cpu5g", "vcpuCount": 4}],
    "scaling": {"type": "REQUEST_COUNT", "requestCount": 1},
    "env": {"PORT": "8000"},
}
QUEUE_BODY = {
    "name": "jobs",
    "type": "QUEUE",
    "image": "acme/jobs:1",
    "gpu": {
        "pools": ["AMPERE_24"],
        "allowedCudaVersions": ["12.8"],
        "excludedTypes": ["NVIDIA L4"],
    },
    "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4.5},
    "workers": {"min": 0, "max": 5, "idleTimeout": 5},
    "registry": None,
    "templateId": "tmpl123",
}


def mutated(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`base` with the field at dotted `path` set to `value` (or removed, for `...`)."""
    body = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = body
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return body


CREATE_CASES = [
    ("name", ""),
    ("name", ...),
    ("type", ...),
    ("type", "load_balancer"),
    ("image", ...),
    ("scaling", ...),
    ("scaling", {"type": "QUEUE_DELAY", "queueDelay": 4}),
    ("scaling", {"type": "REQUEST_COUNT", "requestCount": 0}),
    ("scaling.extra", 1),
    ("gpu.pools", []),
    ("gpu.pools", ...),
    ("gpu.count", 0),
    ("gpu.minCudaVersion", "12"),
    ("gpu.minCudaVersion", ""),
    ("gpu.excludedTypes", ["-NVIDIA L4"]),
    ("gpu.excludedTypes", ["a", "a"]),
    ("gpu.unknown", True),
    ("workers.min", -1),
    ("workers.idleTimeout", 0),
    ("workers.idleTimeout", 3601),
    ("workers.extra", 1),
    ("env.PORT", 8000),
    ("disk", 0),
    ("ports", "8000/http"),
    ("registry", None),
    ("registry", 5),
    ("flashboot", "ON"),
    ("flashboot", "PRIORITY_FLASHBOOT"),
    ("timeout", 5000),
    ("dataCenterIds", []),
    ("gpu.minCudaVersion", "12.4"),
    ("args", "--fast"),
    ("timeout", 1.5),
    ("dataCenterIds", "US-KS-2"),
    ("networkVolumes", [1]),
    ("id", "abc"),
    ("cpu", []),
]
UPDATE_CASES = [
    ({"name": ""}),
    ({"type": "QUEUE"}),
    ({"workers": {"min": 1}}),
    ({"workers": {"idleTimeout": 0}}),
    ({"gpu": {"count": 2}}),
    ({"gpu": {"minCudaVersion": ""}}),
    ({"gpu": {"excludedTypes": ["NVIDIA L4"]}}),
    ({"gpu": {"pools": ["AMPERE_24"], "excludedTypes": ["NVIDIA L4"]}}),
    ({"cpu": [{"id": "cpu5c", "vcpuCount": 2, "memory": 4}]}),
    ({"scaling": {"type": "QUEUE_DELAY", "queueDelay": 0.1}}),
    ({"env": {"A": "1"}, "image": "x", "templateId": ""}),
    ({"createdAt": "2026-01-01T00:00:00Z"}),
    ({}),
]


BASES = {"queue-gpu": QUEUE_BODY, "lb-cpu": CPU_BODY}


@pytest.mark.parametrize(
    ("base", "path", "value"),
    [
        (name, path, value)
        for name, base in BASES.items()
        for path, value in CREATE_CASES
        if "." not in path or path.split(".")[0] in base
    ],
)
def test_emulator_create_schema_agrees_with_runpods(
    official: Any, base: str, path: str, value: Any
) -> None:
    body = mutated(BASES[base], path, value)

    official_verdict = not official.errors("CreateEndpointRequest", body)
    emulator_verdict = not schema_errors(body, create=True)

    assert emulator_verdict == official_verdict, (
        body,
        official.errors("CreateEndpointRequest", body),
    )


def test_base_create_bodies_are_valid(official: Any, lb_body: Body) -> None:
    for body in (QUEUE_BODY, CPU_BODY, lb_body()):
        assert official.errors("CreateEndpointRequest", body) == []
        assert schema_errors(body, create=True) == []


@pytest.mark.parametrize("body", UPDATE_CASES)
def test_emulator_update_schema_agrees_with_runpods(official: Any, body: dict[str, Any]) -> None:
    official_verdict = not official.errors("UpdateEndpointRequest", body)

    assert (not schema_errors(body, create=False)) == official_verdict


def test_every_kind_of_emulator_response_matches_runpods_schema(
    official: Any, client: RunPodClient, lb_body: Body
) -> None:
    created = client.create_endpoint(lb_body(workers={"min": 1, "max": 2}))
    cpu = client.create_endpoint(CPU_BODY)
    queue = client.create_endpoint({k: v for k, v in QUEUE_BODY.items() if k != "templateId"})
    responses = {
        "Endpoint": [created, cpu, queue, client.get_endpoint(created["id"])],
        "ListEndpointsResponse": [{"endpoints": client.list_endpoints()}],
        "ListEndpointWorkersResponse": [client.list_workers(created["id"])],
        "ListGpuTypesResponse": [{"gpus": client.catalog("gpus")}],
        "ListCpuTypesResponse": [{"cpus": client.catalog("cpus")}],
        "ListDataCentersResponse": [{"dataCenters": client.catalog("datacenters")}],
    }

    for name, bodies in responses.items():
        for body in bodies:
            assert official.errors(name, body) == [], name


def test_contract_check_catches_a_bad_body_and_a_bad_response(official: Any) -> None:
    logged = [
        {
            "seq": 1,
            "method": "POST",
            "path": "/v2/serverless",
            "template": "/v2/serverless",
            "user_agent": "flashctl/0.1.0",
            "request_body": {"name": "x"},
            "status": 201,
            "response_body": {"id": "x"},
        }
    ]

    violations = official.contract_violations(logged)

    assert any(v.startswith("client body of POST /v2/serverless (#1)") for v in violations)
    assert any(
        v.startswith("201 response of POST /v2/serverless (#1) vs Endpoint") for v in violations
    )


def test_contract_check_catches_a_bad_log_event(official: Any) -> None:
    good = 'id: 1\ndata: {"ts":"2026-06-01T12:05:04Z","source":"system","line":"ok"}'
    bad_source = 'id: 2\ndata: {"ts":"2026-06-01T12:05:04Z","source":"kernel","line":"x"}'
    no_id = 'data: {"ts":"2026-06-01T12:05:04Z","source":"container","line":"x"}'
    bad_ts = 'id: 4\ndata: {"ts":"yesterday","source":"container","line":"x"}'
    text = "\n\n".join([good, ": keep-alive", bad_source, no_id, bad_ts, "id: 5\ndata: {cut"])
    logged = [
        {
            "seq": 1,
            "method": "GET",
            "path": "/v2/serverless/e/workers/w/logs",
            "template": "/v2/serverless/{id}/workers/{workerId}/logs",
            "user_agent": "flashctl/0.1.0",
            "request_body": None,
            "status": 200,
            "response_body": text,
        }
    ]

    violations = official.contract_violations(logged)

    assert len(violations) == 3, violations
    assert "'kernel' is not one of ['container', 'system']" in violations[0]
    assert "event without an id" in violations[1]
    assert "ts is not a date-time" in violations[2]
