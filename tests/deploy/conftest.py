"""Fixtures for the deploy tests: an emulator on a free loopback port (contract-checked at
teardown by the RunPod fixtures reused from tests/runpod), the environment that points the CLI
at it with a canary key, small projects on disk, and the emulator's request counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from flashctl.deploy import connect
from flashctl.emulator.server import BackgroundEmulator
from tests.runpod.conftest import (  # noqa: F401  (fixtures, registered by import)
    CANARY_KEY,
    FAST_RETRY,
    contract_exemptions,
    isolated_environment,
    official,
    start_emulator,
)

HANDLERS = """\
def hello(name: str = "world"):
    return {"hello": name}
"""


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process CLI runs retry quickly (subprocess runs keep the real policy)."""
    monkeypatch.setitem(connect.CLIENT_OPTIONS, "retry", FAST_RETRY)


@dataclass
class Deploy:
    """An emulator and the environment that points flashctl at it."""

    emulator: BackgroundEmulator
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.emulator.url

    def endpoints(self) -> list[dict[str, Any]]:
        return self.emulator.emulator.state.list()

    def names(self) -> list[str]:
        return sorted(e["name"] for e in self.endpoints())

    def by_name(self, name: str) -> dict[str, Any]:
        (found,) = [e for e in self.endpoints() if e["name"] == name]
        return found

    def counts(self) -> Counter[str]:
        return Counter(self.emulator.emulator.log.snapshot()["counts"])

    def writes(self, counts: Counter[str]) -> int:
        return sum(n for route, n in counts.items() if not route.startswith("GET "))


@pytest.fixture
def deploy(start_emulator: Callable[..., BackgroundEmulator]) -> Deploy:  # noqa: F811 (fixture)
    emulator = start_emulator(worker_ready_delay=0.2, retry_after=0)
    return Deploy(emulator, {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": emulator.url})


def create_raw(deploy: Deploy, name: str, env: dict[str, str]) -> dict[str, Any]:
    """An endpoint made outside flashctl (another tool, another project)."""
    body = {
        "name": name,
        "type": "LOAD_BALANCER",
        "image": "someone/else:1",
        "env": env,
        "scaling": {"type": "REQUEST_COUNT", "requestCount": 1},
        "cpu": [{"id": "cpu3c", "vcpuCount": 2}],
    }
    response = requests.post(
        f"{deploy.url}/v2/serverless",
        json=body,
        headers={"Authorization": f"Bearer {CANARY_KEY}"},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def endpoint_yaml(key: str, image: str = "acme/app:1", workers: str = "{min: 0, max: 3}") -> str:
    return f"""\
  {key}:
    image: {image}
    compute:
      cpu: [{{flavor: cpu5c, vcpus: 2}}]
    scaling:
      workers: {workers}
    routes:
      - {{method: GET, path: /hello, handler: "handlers:hello"}}
"""


@pytest.fixture
def write_project(tmp_path: Path) -> Callable[..., Path]:
    """Writes flash.yaml (project `shop`, the given endpoint blocks) and a handler module."""

    def write(*endpoints: str, project: str = "shop", extra: str = "") -> Path:
        (tmp_path / "handlers.py").write_text(HANDLERS)
        path = tmp_path / "flash.yaml"
        text = f"version: 1\nproject: {project}\nendpoints:\n" + "".join(endpoints) + extra
        path.write_text(text)
        return path

    return write
