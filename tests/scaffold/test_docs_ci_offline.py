"""The offline pipeline of docs/ci.md runs as written, with bash, in a project made by
`flashctl init`: validate, render, a local RunPod running the real workers, apply, invoke, a
load test with the SLO gate, destroy; and no process is left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.scaffold.test_docs_ci import CI_DOC, blocks_by_section, commands_in
from tests.servers import free_port

SECTION = "Offline: the whole pipeline against a local RunPod"


def offline_block() -> str:
    (block,) = blocks_by_section(CI_DOC.read_text())[SECTION]
    return block


def test_the_offline_pipeline_has_every_step_against_the_local_runpod():
    subcommands = [c.subcommand for c in commands_in(offline_block())]
    assert subcommands == [
        "validate",
        "render",
        "emulator",
        "apply",
        "invoke",
        "loadtest",
        "destroy",
    ]
    assert "--run-workers" in commands_in(offline_block())[2].args


def processes_in(folder: Path) -> list[int]:
    """Processes whose working folder lies in `folder` (the workers run in the contexts)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cwd.startswith(str(folder)) and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_documented_offline_pipeline_runs_entirely_against_the_local_runpod(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "flashctl", "init", "hello"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=60,
    )
    project = tmp_path / "hello"
    port = free_port()
    low = 21000 + (os.getpid() % 300) * 30 + 20  # the worker tests' range, top 10
    script = offline_block().replace("8765", str(port)).replace("20000-20099", f"{low}-{low + 9}")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "FLASHCTL_"))},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
    }
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.pop(name, None)
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert '"label"' in done.stdout or "words" in done.stdout, "invoke printed the answer"
    report = json.loads((project / "loadtest.json").read_text())
    assert report["requests"] == 200 and report["slo"]["met"] is True
    assert report["url"].startswith(f"http://127.0.0.1:{port}/")
    assert report["success_rate"] == 1.0, report["statuses"]

    deadline = time.monotonic() + 20
    while processes_in(project) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_in(project) == [], "a worker or the emulator outlived the pipeline"
