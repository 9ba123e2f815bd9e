"""A new project works straight away: `flashctl init`, then `validate`, `dev` and the project's
own tests, each a real subprocess in a temp folder, as a user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, start_interruptible, stop, wait_for_status

pytestmark = pytest.mark.slow


def flashctl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flashctl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("variant", ["--cpu", "--gpu"])
def test_init_then_validate_dev_and_its_own_tests_pass(tmp_path: Path, variant: str):
    created = flashctl("init", "hello-api", variant, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "hello-api"

    validated = flashctl("validate", "--strict", cwd=project)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "ok (1 endpoint, 2 routes)" in validated.stdout

    port = free_port()
    dev = start_interruptible(
        [sys.executable, "-m", "flashctl", "dev", "--port", str(port), "--no-reload"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_status(f"{base}/ping", 200, timeout=60, process=dev)
        answer = httpx.post(f"{base}/predict", json={"text": "one two three"}, timeout=10)
        assert (answer.status_code, answer.json()) == (200, {"words": 3, "label": "short"})
        assert httpx.get(f"{base}/health", timeout=10).json() == {"status": "ok"}
    finally:
        output = stop(dev)
    assert "Traceback" not in output

    # Plugins installed for flashctl's own tests (hypothesis, schemathesis) stay out, as in a
    # fresh environment with only the project's requirements-dev.txt.
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "4 passed" in tested.stdout
