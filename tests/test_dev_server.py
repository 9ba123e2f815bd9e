"""`flashctl dev` in a real subprocess: serves the example's routes and reloads on change."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLE, ROOT
from tests.servers import free_port, start_interruptible, stop, wait_for_status


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLE, tmp_path / "flash.yaml")
    shutil.copytree(ROOT / "examples" / "seed", tmp_path / "examples" / "seed")
    return tmp_path / "flash.yaml"


def start_dev(project: Path, port: int) -> subprocess.Popen[str]:
    return start_interruptible(
        [sys.executable, "-m", "flashctl", "-f", str(project), "dev", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_dev_serves_the_example_and_reloads_after_a_handler_change(project: Path):
    port = free_port()
    dev = start_dev(project, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_status(f"{base}/cpu/ping", 200, timeout=60, process=dev)
        wait_for_status(f"{base}/gpu/ping", 200, timeout=30, process=dev)
        ok = httpx.post(f"{base}/cpu/transform", json={"text": "hello", "operation": "uppercase"})
        assert (ok.status_code, ok.json()) == (200, "HELLO")
        bad = httpx.post(f"{base}/cpu/transform", json={"text": "hello", "operation": "shout"})
        assert bad.status_code == 400
        assert "unknown operation 'shout'" in bad.json()["detail"]
        assert httpx.get(f"{base}/cpu/docs").status_code == 200  # docs always on under dev
        computed = httpx.post(f"{base}/gpu/compute", json={"numbers": [3, 4]})
        assert computed.json() == {"count": 2, "sum_of_squares": 25}

        handler = project.parent / "examples" / "seed" / "cpu_worker.py"
        handler.write_text(
            handler.read_text().replace(
                '"title": str.title,',
                '"title": str.title,\n    "shout": lambda t: t.upper() + "!",',
            )
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                again = httpx.post(
                    f"{base}/cpu/transform", json={"text": "hi", "operation": "shout"}
                )
                if again.status_code == 200:
                    break
            except httpx.HTTPError:
                pass  # the server is restarting
            time.sleep(0.2)
        else:
            pytest.fail("dev did not pick up the handler change within 60 s")
        assert again.json() == "HI!"
    finally:
        output = stop(dev)
    assert dev.returncode == 0, output
    assert f"POST   {base}/cpu/transform" in output
    assert "reloaded" in output
    assert "Traceback" not in output


def test_sigterm_stops_dev_and_the_server_it_started(project: Path):
    port = free_port()
    dev = start_dev(project, port)
    try:
        wait_for_status(f"http://127.0.0.1:{port}/cpu/ping", 200, timeout=60, process=dev)
    finally:
        output = stop(dev, signal.SIGTERM)
    assert dev.returncode == 0, output
    assert "Traceback" not in output
    with socket.socket() as sock:  # the server is gone too: its port can be bound again
        sock.bind(("127.0.0.1", port))
