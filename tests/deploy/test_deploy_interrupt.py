"""Stopping an apply: declining the prompt, and Ctrl-C while endpoints are being changed, say
what was and was not changed and that running apply again is safe (and it is)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from flashctl.deploy import confirm
from flashctl.emulator.server import BackgroundEmulator
from tests.deploy.conftest import Deploy, endpoint_yaml
from tests.runpod.conftest import CANARY_KEY
from tests.servers import start_interruptible

KEYS = [f"e{i}" for i in range(1, 7)]  # six endpoints: four are created at once, two wait


def test_declining_the_prompt_says_nothing_changed_and_apply_again_is_safe(
    run_cli, deploy: Deploy, write_project, monkeypatch
):
    monkeypatch.setattr(confirm, "stdin_is_tty", lambda: True)
    path = write_project(endpoint_yaml("api"), endpoint_yaml("web"))

    result = run_cli("apply", "-f", str(path), input="n\n", env=deploy.env)

    assert result.exit_code == 1, result
    assert (
        "error: Apply cancelled: nothing was changed (2 planned change(s) not made). Running"
        " `flashctl apply` again is safe: it plans afresh and asks again."
    ) in result.stderr
    assert deploy.names() == []


def test_ctrl_c_during_apply_says_what_changed_and_apply_again_finishes(
    run_cli, start_emulator: Callable[..., BackgroundEmulator], write_project
):
    slow = start_emulator(worker_ready_delay=0.2, retry_after=0, latency_ms=3000)
    env = {**os.environ, "RUNPOD_API_KEY": CANARY_KEY, "FLASHCTL_API_URL": slow.url}
    path = write_project(*(endpoint_yaml(key) for key in KEYS))
    command = [sys.executable, "-m", "flashctl", "apply", "-f", str(path), "--yes", "--no-wait"]
    apply = start_interruptible(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(apply.stderr or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while sum(": creating" in line for line in said) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        apply.send_signal(signal.SIGINT)  # four creates in flight, two not started
        apply.wait(timeout=60)
    finally:
        if apply.poll() is None:
            apply.kill()
            apply.wait()
    reader.join(10)
    if apply.stderr is not None:
        apply.stderr.close()
    stderr = "".join(said)

    assert apply.returncode == 130, stderr
    assert "Apply interrupted:" in stderr
    lines = stderr.splitlines()
    created = [k for k in KEYS if any(line.startswith(f"  shop-{k}: created (") for line in lines)]
    untouched = [k for k in KEYS if f"  shop-{k}: not changed (creating was not started)" in lines]
    assert len(created) == 4 and len(untouched) == 2, stderr
    assert "Running `flashctl apply` again is safe" in stderr
    assert "Traceback" not in stderr
    names = sorted(e["name"] for e in slow.emulator.state.list())
    assert names == [f"shop-{k}" for k in created]

    again = run_cli("apply", "-f", str(path), "--yes", "--no-wait", env=env)

    assert again.exit_code == 0, again
    names = sorted(e["name"] for e in slow.emulator.state.list())
    assert names == [f"shop-{k}" for k in KEYS]  # each once: nothing was created twice
