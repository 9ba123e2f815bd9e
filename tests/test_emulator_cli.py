"""`flashctl emulator` as users start it: a real process serving RunPod REST v2 on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

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


def _state_with_big_endpoints(path, count: int) -> None:
    """A state file that takes a while to rewrite, so that a kill lands mid-write."""
    from flashctl.emulator.state import EmulatorState

    state = EmulatorState()
    for number in range(count):
        body = {
            "name": f"big-{number}",
            "type": "LOAD_BALANCER",
            "image": "x/y:1",
            "env": {"PADDING": "p" * 20_000},
            "scaling": {"type": "REQUEST_COUNT", "requestCount": 1},
            "cpu": [{"id": "cpu5c", "vcpuCount": 2}],
        }
        state.create(body)
    state.path = path
    state.save()


@pytest.mark.slow
def test_a_killed_emulator_leaves_no_temp_file_behind_its_next_start(tmp_path):
    state = tmp_path / "state.json"
    _state_with_big_endpoints(state, 100)  # about 2 MB: each save takes a while
    port = free_port()
    command = [sys.executable, "-m", "flashctl", "emulator", "--port", str(port)]
    command += ["--api-key", "test-key", "--state", str(state)]
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": "Bearer test-key"}

    def leftovers() -> list[str]:
        return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".state.json."))

    def keep_patching(endpoint_id: str, stop: threading.Event) -> None:
        with httpx.Client(timeout=5) as client:
            for attempt in range(1000):
                if stop.is_set():
                    return
                try:
                    body = {"workers": {"max": 3 + attempt % 2}}
                    client.patch(f"{base}/v2/serverless/{endpoint_id}", json=body, headers=auth)
                except httpx.HTTPError:
                    return  # killed

    killed_mid_write = 0
    for _round in range(2):
        emulator = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        stop = threading.Event()
        try:
            wait_for_status(f"{base}/_emulator/requests", 200, process=emulator)
            assert leftovers() == []  # the last kill's temp file is gone once it serves
            (first, *_) = httpx.get(f"{base}/v2/serverless", headers=auth).json()["endpoints"]
            patcher = threading.Thread(target=keep_patching, args=(first["id"], stop))
            patcher.start()
            deadline = time.monotonic() + 20
            while not leftovers() and time.monotonic() < deadline:
                pass  # poll the folder; SIGKILL the moment a save is under way
            os.kill(emulator.pid, signal.SIGKILL)
        finally:
            stop.set()
            emulator.kill()
            emulator.communicate(timeout=30)
        patcher.join(timeout=30)
        killed_mid_write += bool(leftovers())

    assert killed_mid_write > 0  # the kills did land mid-write
    emulator = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_status(f"{base}/_emulator/requests", 200, process=emulator)
        listed = httpx.get(f"{base}/v2/serverless", headers=auth).json()["endpoints"]
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.communicate(timeout=30)
    assert leftovers() == []
    assert len(listed) == 100  # and the state is the last complete one


@pytest.mark.slow
def test_emulator_command_enforces_rate_limits_when_asked(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "flashctl", "emulator", "--port", str(port)]
    emulator = subprocess.Popen(
        [*command, "--rate-limits", "hour=2/3600"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for_status(f"http://127.0.0.1:{port}/_emulator/requests", 200, process=emulator)
        auth = {"Authorization": "Bearer any-key"}
        answers = [httpx.get(f"http://127.0.0.1:{port}/v2/serverless", headers=auth) for _ in "abc"]
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.communicate(timeout=30)
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["RateLimit-Policy"] == '"hour";q=2;w=3600'
    assert int(answers[2].headers["Retry-After"]) >= 1

    bad = subprocess.run(
        [*command, "--rate-limits", "hour=many"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2
    assert "--rate-limits: 'hour=many' is not NAME=QUOTA/SECONDS" in bad.stderr
    assert "Traceback" not in bad.stderr
