"""Apply converges through injected failures and after being killed, without duplicates."""

from __future__ import annotations

import datetime
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

import pytest

from flashctl.emulator.server import BackgroundEmulator
from tests.conftest import EXAMPLE
from tests.deploy.conftest import CANARY_KEY, Deploy, endpoint_yaml

EXAMPLE_NAMES = ["seed-cpu", "seed-gpu", "seed-users"]


def converge(run_cli, args: list[str], env: dict[str, str], tries: int = 6) -> list[int]:
    """Run `flashctl apply ARGS` until it succeeds (bounded); the exit codes seen."""
    codes = []
    for _ in range(tries):
        codes.append(run_cli("apply", *args, "--yes", env=env).exit_code)
        if codes[-1] == 0:
            break
    return codes


def test_apply_converges_through_30_percent_failures_without_duplicates(
    run_cli, start_emulator: Callable[..., BackgroundEmulator]
):
    emulator = start_emulator(fail_rate=0.3, seed=5, retry_after=0, worker_ready_delay=0.1)
    deploy = Deploy(emulator, {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": emulator.url})

    codes = converge(run_cli, ["-f", str(EXAMPLE)], deploy.env)
    assert codes[-1] == 0, codes
    changed = converge(run_cli, ["-f", str(EXAMPLE), "--var", "GIT_SHA=abc123"], deploy.env)
    assert changed[-1] == 0, changed

    assert sorted(Counter(deploy.names()).items()) == [(name, 1) for name in EXAMPLE_NAMES]
    assert {e["image"].rsplit(":", 1)[1] for e in deploy.endpoints()} == {"abc123"}
    faults = Counter(entry["fault"] for entry in emulator.emulator.log.snapshot()["requests"])
    assert sum(n for fault, n in faults.items() if fault) >= 3  # the faults really happened


@pytest.mark.slow
def test_apply_killed_mid_way_then_run_again_converges_without_duplicates(
    run_cli, start_emulator: Callable[..., BackgroundEmulator], write_project
):
    emulator = start_emulator(latency_ms=400, worker_ready_delay=0.1)
    deploy = Deploy(emulator, {"RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": emulator.url})
    keys = list("abcdefghij")  # 3 rounds at apply's concurrency of 4: the kill lands mid-way
    path = write_project(*(endpoint_yaml(key) for key in keys))
    command = [sys.executable, "-m", "flashctl", "apply", "-f", str(path), "--yes", "--no-wait"]
    process = subprocess.Popen(
        command,
        env={**os.environ, **deploy.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not deploy.names() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        assert deploy.names(), "no create landed within 30 s"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        output, _ = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, output
    landed = len(deploy.names())
    assert 0 < landed < len(keys), f"the kill came too late to be mid-way ({landed} landed)"

    again = run_cli("apply", "-f", str(path), "--yes", "--no-wait", env=deploy.env)
    if again.exit_code != 0:
        # A create in flight at the kill may still land on RunPod: apply sends it again only once
        # RunPod's list has had time to show it, and says when (pending-creates.json).
        wait = _seconds_until_said(again.stderr)
        assert 0 <= wait <= 30, again
        time.sleep(wait)
        again = run_cli("apply", "-f", str(path), "--yes", "--no-wait", env=deploy.env)

    assert again.exit_code == 0, again
    assert deploy.names() == [f"shop-{key}" for key in keys]  # each once
    plan = run_cli("plan", "-f", str(path), "--detailed-exitcode", env=deploy.env)
    assert plan.exit_code == 0, plan


def _seconds_until_said(stderr: str) -> float:
    """Seconds until the time in apply's "Run `flashctl apply` again after HH:MM:SS UTC"."""
    said = re.search(r"Run `flashctl apply` again after (\d\d):(\d\d):(\d\d) UTC", stderr)
    assert said, stderr
    now = datetime.datetime.now(datetime.timezone.utc)
    hour, minute, second = (int(part) for part in said.groups())
    then = now.replace(hour=hour, minute=minute, second=second, microsecond=0)
    return (then - now).total_seconds() % 86400 + 1.0
