"""`flashctl status` shows each endpoint's recent spend from `GET /v2/billing/serverless`, and
still shows the rest when billing cannot be read."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import requests

from flashctl.emulator.server import BackgroundEmulator
from flashctl.emulator.state import EmulatorState
from tests.deploy.conftest import CANARY_KEY, Deploy, endpoint_yaml

HOURS = 10
CPU_RATE = 2 * 0.03  # cpu5c at 2 vCPUs, $/h in the emulator's catalog


def seeded_emulator(start_emulator: Callable[..., BackgroundEmulator], tmp_path: Path) -> Deploy:
    """An emulator whose `shop-api` has had one worker running for HOURS hours."""
    state_file = tmp_path / "state.json"
    earlier = EmulatorState(state_file, clock=lambda: time.time() - HOURS * 3600)
    earlier.create(
        {
            "name": "shop-api",
            "type": "LOAD_BALANCER",
            "image": "acme/app:1",
            "env": {"FLASHCTL_PROJECT": "shop"},
            "workers": {"min": 1, "max": 3},
            "scaling": {"type": "REQUEST_COUNT", "requestCount": 1},
            "cpu": [{"id": "cpu5c", "vcpuCount": 2}],
        }
    )
    emulator = start_emulator(state=state_file, worker_ready_delay=0.2, retry_after=0)
    return Deploy(emulator, {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": emulator.url})


def test_status_shows_the_spend_of_each_endpoint(
    run_cli, start_emulator, write_project, tmp_path: Path
):
    deploy = seeded_emulator(start_emulator, tmp_path)
    path = write_project(endpoint_yaml("api"), endpoint_yaml("web"))

    text = run_cli("status", "-f", str(path), env=deploy.env)
    data = json.loads(run_cli("status", "-f", str(path), "--format", "json", env=deploy.env).stdout)

    assert text.exit_code == 0, text
    lines = [line.split() for line in text.stdout.splitlines()]
    assert lines[0][-1] == "SPEND"
    (api,) = [line for line in lines if line[0] == "shop-api"]
    assert api[-1] == f"${HOURS * CPU_RATE:.2f}"  # 10 h of one worker
    (web,) = [line for line in lines if line[0] == "shop-web"]
    assert web[-1] == "-"  # not deployed
    assert "USD over the last 7 days" in text.stdout
    spend = {e["name"]: e["spend"] for e in data["endpoints"]}
    assert spend == {"shop-api": round(HOURS * CPU_RATE, 2), "shop-web": None}
    assert data["spend_error"] is None and data["spend_days"] == 7


def test_status_without_billing_says_spend_unavailable_and_still_exits_0(
    run_cli, deploy: Deploy, write_project
):
    path = write_project(endpoint_yaml("api"))
    assert run_cli("apply", "-f", str(path), "--yes", env=deploy.env).exit_code == 0
    faults = [{"kind": "503", "match": "GET /v2/billing/serverless"}] * 8  # every retry too
    requests.post(f"{deploy.url}/_emulator/faults", json={"faults": faults}, timeout=5)

    text = run_cli("status", "-f", str(path), env=deploy.env)
    data = json.loads(run_cli("status", "-f", str(path), "--format", "json", env=deploy.env).stdout)

    assert text.exit_code == 0, text
    assert "spend unavailable:" in text.stdout and "503" in text.stdout
    (api,) = [line.split() for line in text.stdout.splitlines() if line.startswith("shop-api")]
    assert api[-1] == "?"
    assert data["endpoints"][0]["spend"] is None
    assert "503" in data["spend_error"]
