"""`flashctl loadtest --local` against the seed example served by `flashctl dev` (a real server
in a subprocess): consistent numbers, and the SLO gate both ways."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, ROOT
from tests.servers import free_port, start_interruptible, stop, wait_for_status

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    root = tmp_path_factory.mktemp("served")
    shutil.copy(EXAMPLE, root / "flash.yaml")
    shutil.copytree(ROOT / "examples" / "seed", root / "examples" / "seed")
    port = free_port()
    command = [sys.executable, "-m", "flashctl", "-f", str(root / "flash.yaml"), "dev"]
    # The server logs a line per request: to a file, as a pipe nobody reads would fill and block.
    with (root / "dev.log").open("w") as log:
        dev = start_interruptible(
            [*command, "--port", str(port), "--no-reload"], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_for_status(f"http://127.0.0.1:{port}/users/ping", 200, timeout=60)
            yield root, port
        finally:
            stop(dev)


def with_slo(root: Path, slo: str) -> Path:
    """A copy of the served example's file with another `slo:` block (same endpoints)."""
    text = (root / "flash.yaml").read_text()
    path = root / f"slo-{abs(hash(slo))}.yaml"
    path.write_text(re.sub(r"(?ms)^slo:.*\Z", slo, text))
    return path


def test_numbers_add_up_against_the_served_example(run_cli, served):
    root, port = served

    result = run_cli(
        "loadtest", "-f", str(root / "flash.yaml"), "users", "--local", "--port", str(port),
        "-n", "150", "-c", "6", "--format", "json",
    )  # fmt: skip

    assert result.exit_code == 0, result
    report = json.loads(result.stdout)
    assert report["requests"] == 150 == report["succeeded"] + report["failed"]
    assert report["statuses"] == {"200": 150}
    latency, server = report["latency_ms"], report["server_ms"]
    assert latency["min"] <= latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert server["p50"] <= server["p95"] <= server["p99"]
    assert server["p50"] <= latency["p50"]  # the server's time is part of the total
    assert report["throughput_rps"] > 0
    assert report["url"] == f"http://127.0.0.1:{port}/users/users"
    assert report["slo"]["met"] is True


def test_impossible_slo_exits_1_listing_the_missed_objectives(run_cli, served):
    root, port = served
    path = with_slo(root, "slo:\n  p50_ms: 0.001\n  p95_ms: 0.001\n  success_rate: 1\n")

    result = run_cli(
        "loadtest", "-f", str(path), "gpu", "--local", "--port", str(port), "-n", "40",
        "-c", "4", "--route", "POST /compute", "--data", '{"numbers": [1, 2, 3]}',
    )  # fmt: skip

    assert result.exit_code == 1, result
    assert "SLO missed" in result.stderr
    assert re.search(r"p50 [\d.]+ ms > 0.001 ms; p95 [\d.]+ ms > 0.001 ms", result.stderr)
    assert "success rate" not in result.stderr.split("SLO missed")[1]  # that one was met
    assert "MISSED" in result.stdout


def test_generous_slo_exits_0(run_cli, served):
    root, port = served
    path = with_slo(root, "slo:\n  p50_ms: 60000\n  p95_ms: 60000\n  p99_ms: 60000\n")

    result = run_cli(
        "loadtest", "-f", str(path), "gpu", "--local", "--port", str(port), "-n", "40",
        "-c", "4", "--route", "POST /compute", "--data", '{"numbers": [3, 4]}',
    )  # fmt: skip

    assert result.exit_code == 0, result
    assert "statuses    200: 40" in result.stdout
    assert "MISSED" not in result.stdout and "SLO missed" not in result.stderr


def test_client_errors_count_as_failures_by_status(run_cli, served):
    root, port = served

    result = run_cli(
        "loadtest", "-f", str(root / "flash.yaml"), "users", "--local", "--port", str(port),
        "-n", "20", "--route", "GET /users/424242", "--format", "json",
    )  # fmt: skip

    assert result.exit_code == 1, result
    report = json.loads(result.stdout)
    assert report["statuses"] == {"404": 20} and report["failed"] == 20


def test_ctrl_c_prints_the_partial_report_marked_partial(served):
    root, port = served
    log = root / "dev.log"

    def served_requests() -> int:
        return log.read_text().count('"event":"request"')

    before = served_requests()
    loadtest = start_interruptible(
        [
            sys.executable, "-m", "flashctl", "-f", str(root / "flash.yaml"), "loadtest",
            "users", "--local", "--port", str(port), "-d", "120", "-c", "2", "--format", "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while served_requests() < before + 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        loadtest.send_signal(signal.SIGINT)
        stdout, stderr = loadtest.communicate(timeout=60)
    finally:
        if loadtest.poll() is None:
            stop(loadtest, signal.SIGKILL)

    assert loadtest.returncode == 130, stderr
    report = json.loads(stdout)
    assert report["partial"] is True
    assert report["requests"] >= 10
    assert report["statuses"] == {"200": report["requests"]}
    assert "interrupted: the report covers the requests done until then" in stderr
    assert "Traceback" not in stderr
