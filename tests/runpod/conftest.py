"""Fixtures for the RunPod client and emulator tests: an emulator on a free loopback port, a
client pointed at it, and RunPod's official schemas to check what passes between them.

Every test that uses `emulator` gets a contract check at teardown: each body the flashctl client
sent validates against the official `CreateEndpointRequest` / `UpdateEndpointRequest`, and each
emulator response against the official schema for its route (`Endpoint`, `ListEndpointsResponse`,
`ErrorResponse`, ...), read from RunPod's OpenAPI document in ../shared/research.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from flashctl.runpod.client import RunPodClient, Timeouts
from flashctl.runpod.credentials import Credentials
from flashctl.runpod.emulator import BackgroundEmulator
from flashctl.runpod.retry import RetryPolicy

CANARY_KEY = "rpa_CANARY0123456789abcdefCANARY"
OPENAPI_ENV = "FLASHCTL_RUNPOD_OPENAPI"
OPENAPI_PATH = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "research" / ("runpod-openapi-v2.json")
)
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)
FAST_RETRY = RetryPolicy(attempts=4, budget=10.0, base_delay=0.01, max_delay=0.05)

# (method, route template, status class) -> the official schema of that response body
RESPONSE_SCHEMAS = {
    ("GET", "/v2/serverless"): "ListEndpointsResponse",
    ("POST", "/v2/serverless"): "Endpoint",
    ("GET", "/v2/serverless/{id}"): "Endpoint",
    ("PATCH", "/v2/serverless/{id}"): "Endpoint",
    ("GET", "/v2/serverless/{id}/workers"): "ListEndpointWorkersResponse",
    ("GET", "/v2/catalog/gpus"): "ListGpuTypesResponse",
    ("GET", "/v2/catalog/cpus"): "ListCpuTypesResponse",
    ("GET", "/v2/catalog/datacenters"): "ListDataCentersResponse",
}
REQUEST_SCHEMAS = {
    ("POST", "/v2/serverless"): "CreateEndpointRequest",
    ("PATCH", "/v2/serverless/{id}"): "UpdateEndpointRequest",
}


class OfficialSchemas:
    """Validators for `#/components/schemas/<name>` of RunPod's OpenAPI 3.1 document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource("urn:runpod-openapi", resource)
        self._formats = FormatChecker()
        # jsonschema checks date-time only with an optional package; this is enough here.
        self._formats.checks("date-time", ValueError)(_is_date_time)
        self._validators: dict[str, Draft202012Validator] = {}

    def errors(self, name: str, instance: Any) -> list[str]:
        if name not in self.document["components"]["schemas"]:
            raise KeyError(f"the OpenAPI document has no schema {name!r}")
        if name not in self._validators:
            self._validators[name] = Draft202012Validator(
                {"$ref": f"urn:runpod-openapi#/components/schemas/{name}"},
                registry=self._registry,
                format_checker=self._formats,
            )
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in self._validators[name].iter_errors(instance)
        ]

    def contract_violations(self, logged: list[dict[str, Any]]) -> list[str]:
        """What in an emulator request log breaks the official schemas."""
        found = []
        for entry in logged:
            route = (entry["method"], entry["template"])
            where = f"{entry['method']} {entry['path']} (#{entry['seq']})"
            if entry["user_agent"].startswith("flashctl/") and route in REQUEST_SCHEMAS:
                for error in self.errors(REQUEST_SCHEMAS[route], entry["request_body"]):
                    found.append(f"client body of {where}: {error}")
            status = entry["status"]
            if status is None or status == 204:
                continue
            name = "ErrorResponse" if status >= 400 else RESPONSE_SCHEMAS.get(route)
            if name is None:
                found.append(f"response of {where}: no official schema for this route")
                continue
            for error in self.errors(name, entry["response_body"]):
                found.append(f"{status} response of {where} vs {name}: {error}")
        return found


def _is_date_time(value: object) -> bool:
    # fromisoformat reads a trailing "Z" only from Python 3.11 on.
    if isinstance(value, str):
        datetime.fromisoformat(value.removesuffix("Z") + ("+00:00" if value.endswith("Z") else ""))
    return True


@pytest.fixture(scope="session")
def official() -> OfficialSchemas:
    path = Path(os.environ.get(OPENAPI_ENV) or OPENAPI_PATH).resolve()
    if not path.is_file():
        pytest.fail(
            f"RunPod's OpenAPI document is missing: looked for {path} (the shared research "
            f"folder beside the repository, or ${OPENAPI_ENV}). The contract tests need it.",
            pytrace=False,
        )
    return OfficialSchemas(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No real key, API URL or proxy from the developer's shell; HOME is an empty folder."""
    for name in ("RUNPOD_API_KEY", "FLASHCTL_API_URL", *PROXY_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def contract_exemptions() -> list[str]:
    """Text of contract violations a test commits on purpose (an invalid body sent to get a 422)."""
    return []


@pytest.fixture
def start_emulator(
    official: OfficialSchemas, contract_exemptions: list[str]
) -> Iterator[Callable[..., BackgroundEmulator]]:
    """Start emulators with given options; all are stopped and contract-checked at teardown."""
    started: list[BackgroundEmulator] = []

    def start(**options: Any) -> BackgroundEmulator:
        options.setdefault("api_key", CANARY_KEY)
        started.append(BackgroundEmulator(**options).start())
        return started[-1]

    yield start
    violations = []
    for emulator in started:
        emulator.stop()
        logged = emulator.emulator.log.snapshot()["requests"]
        violations += [
            violation
            for violation in official.contract_violations(logged)
            if not any(exempt in violation for exempt in contract_exemptions)
        ]
    if violations:
        pytest.fail("RunPod contract broken:\n" + "\n".join(violations), pytrace=False)


@pytest.fixture
def emulator(start_emulator: Callable[..., BackgroundEmulator]) -> BackgroundEmulator:
    return start_emulator(worker_ready_delay=0.2)


@pytest.fixture
def make_client() -> Iterator[Callable[..., RunPodClient]]:
    clients: list[RunPodClient] = []

    def make(url: str, key: str = CANARY_KEY, **options: Any) -> RunPodClient:
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("timeouts", Timeouts(connect=2.0, read=5.0))
        clients.append(RunPodClient(Credentials(key, "RUNPOD_API_KEY"), url, **options))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(emulator: BackgroundEmulator, make_client: Callable[..., RunPodClient]) -> RunPodClient:
    return make_client(emulator.url)


@pytest.fixture
def lb_body() -> Callable[..., dict[str, Any]]:
    """Makes load-balancer create bodies like those flashctl's spec builder sends."""
    return make_lb_body


def make_lb_body(name: str = "shop-api", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "type": "LOAD_BALANCER",
        "image": "ghcr.io/acme/shop:1",
        "ports": ["8000/http"],
        "env": {"PORT": "8000", "PORT_HEALTH": "8000", "FLASHCTL_PROJECT": "shop"},
        "gpu": {"pools": ["AMPERE_80", "ADA_48_PRO"], "count": 1, "minCudaVersion": "12.4"},
        "disk": 20,
        "workers": {"min": 0, "max": 3, "idleTimeout": 60},
        "scaling": {"type": "REQUEST_COUNT", "requestCount": 4},
        "timeout": 30000,
        "flashboot": "FLASHBOOT",
    }
    body.update(changes)
    return body
