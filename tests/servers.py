"""Helpers for tests that start real servers on 127.0.0.1: free ports and bounded waits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_status(
    url: str,
    status: int,
    *,
    timeout: float = 30.0,
    process: subprocess.Popen[str] | None = None,
) -> httpx.Response:
    """Poll `url` until it answers `status`; fail with what was seen when `timeout` passes."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"server exited with {process.returncode}:\n{output}")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == status:
                return response
            last = response.status_code
        except httpx.HTTPError as err:
            last = err
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer {status} within {timeout}s (last: {last})")


def start_interruptible(argv: Sequence[str], **popen: Any) -> subprocess.Popen[Any]:
    """Start a process that the test will stop with SIGINT, as Ctrl-C would. SIGINT is reset
    to its default in the child: a shell without job control starts background jobs with SIGINT
    ignored, and every child inherits that, so a test run from one could never interrupt. The
    process gets a session of its own, so `stop` can reach the servers it starts too."""
    return subprocess.Popen(
        argv,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **popen,
    )


def stop(process: subprocess.Popen[Any], sig: int = signal.SIGINT, timeout: float = 30) -> Any:
    """Send `sig`, wait up to `timeout` seconds, and return what it wrote to a stdout pipe
    (None without one). One that does not exit is killed with its whole process group, since
    a server it started would otherwise keep the pipe open (and the test waiting) forever; its
    return code then tells the test."""
    process.send_signal(sig)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate(timeout=10)
    return output


class ToLoopback(requests.adapters.HTTPAdapter):
    """Sends requests for RunPod's https endpoint URLs (https://<id>.api.runpod.ai/...) to a
    server on 127.0.0.1:`port` instead, path and query kept."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def send(self, request: requests.PreparedRequest, *args: object, **kwargs: object):  # type: ignore[override]
        _scheme, _, rest = (request.url or "").partition("://")
        request.url = f"http://127.0.0.1:{self.port}/" + rest.partition("/")[2]
        return super().send(request, *args, **kwargs)  # type: ignore[arg-type]


def start_runtime(
    folder: Path,
    app: str,
    server: str,
    port: int,
    log: Path,
    *extra: str,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`python -m flashctl_runtime.serve APP` on 127.0.0.1:PORT from `folder`, as a container's
    CMD runs it, its output in `log`. The caller stops it (by this process's PID)."""
    command = [sys.executable, "-m", "flashctl_runtime.serve", app, "--server", server]
    command += ["--host", "127.0.0.1", "--port", str(port), *extra]
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=folder,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
