"""Fixtures for the RunPod client and emulator tests: an emulator on a free loopback port, a
client pointed at it, and RunPod's official schemas to check what passes between them.

Every test that uses `emulator` gets a contract check at teardown: each body the flashctl client
sent validates against the official `CreateEndpointRequest` / `UpdateEndpointRequest`, and each
emulator response against the official schema for its route (`Endpoint`, `ListEndpointsResponse`,
`ErrorResponse`, ...), read from the extract of RunPod's OpenAPI document in tests/data/runpod.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flashctl.emulator.server import BackgroundEmulator
from flashctl.runpod.client import RunPodClient, Timeouts
from flashctl.runpod.credentials import Credentials
from flashctl.runpod.retry import RetryPolicy
from tests.runpod_schemas import OfficialSchemas, load_official

CANARY_KEY = "rpa_CANARY0123456789abcdefCANARY"
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)
# settle 0: the emulator lists a new endpoint at once unless a test gives it a `list_lag`.
FAST_RETRY = RetryPolicy(attempts=4, budget=10.0, base_delay=0.01, max_delay=0.05, settle=0.0)


@pytest.fixture(scope="session")
def official() -> OfficialSchemas:
    return load_official()


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
