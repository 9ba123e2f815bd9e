"""`flashctl emulator` as users start it: a real process serving RunPod REST v2 on loopback."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

from tests.servers import free_port, wait_for_status


@pytest.mark.slow
def test_emulator_command_serves_the_api_with_bearer_auth_and_keeps_state(tmp_path):
    port = free_port()
    state = tmp_path / "state.json"
    command = [
        sys.executable,
        "-m",
        "flashctl",
        "emulator",
        "--port",
        str(port),
        "--api-key",
        "test-key",
        "--state",
        str(state),
    ]
    base = f"http://127.0.0.1:{port}/v2/serverless"
    auth = {"Authorization": "Bearer test-key"}
    body = {
        "name": "demo-api",
        "type": "LOAD_BALANCER",
        "image": "x/y:1",
        "scaling": {"type": "REQUEST_COUNT", "requestCount": 4},
        "cpu": [{"id": "cpu5c", "vcpuCount": 2}],
    }
    for round_ in range(2):  # the second process starts from the first one's state file
        emulator = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            wait_for_status(f"http://127.0.0.1:{port}/_emulator/requests", 200, process=emulator)
            assert httpx.get(base).status_code == 401
            if round_ == 0:
                created = httpx.post(base, json=body, headers=auth)
                assert created.status_code == 201, created.text
            listed = httpx.get(base, headers=auth).json()["endpoints"]
            assert [e["name"] for e in listed] == ["demo-api"]
        finally:
            emulator.send_signal(signal.SIGTERM)
            emulator.communicate(timeout=30)
        assert emulator.returncode == 0
