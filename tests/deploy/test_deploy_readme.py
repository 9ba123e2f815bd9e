"""The README's offline deploy walkthrough, run as written: `flashctl emulator` in one process,
the commands of the second block in bash with `set -e` (every one must exit 0)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers import free_port, wait_for_status

SECTION = "## Try the deploy flow offline with the emulator"


def readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


@pytest.mark.slow
def test_the_offline_walkthrough_works_as_written(tmp_path: Path):
    start, flow = readme_blocks()
    port = str(free_port())
    start, flow = start.replace("8765", port), flow.replace("8765", port)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    emulator = subprocess.Popen(
        ["bash", "-c", "exec " + start.strip()],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_status(f"http://127.0.0.1:{port}/_emulator/requests", 200, process=emulator)
        done = subprocess.run(
            ["bash", "-e", "-c", flow],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.communicate(timeout=30)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 to create." in done.stdout
    assert re.search(r"^seed-gpu https://\w+\.api\.runpod\.ai$", done.stdout, flags=re.M)
    assert "seed-gpu-prod: version 1, 1/1 workers on latest, 0 stale, 1 of 1 ready" in done.stderr
    assert "Traceback" not in done.stderr
    state = json.loads((tmp_path / "emulator.json").read_text())
    assert state["endpoints"] == []  # both destroys deleted everything
