"""The runtime in a real server process on 127.0.0.1, started as the container starts it."""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, start_runtime

pytestmark = pytest.mark.slow

SERVERS = ["hypercorn", "uvicorn"]

APP = textwrap.dedent(
    """
    import asyncio
    import os
    import time

    from flashctl_runtime import Route, Settings, create_app

    entered = 0


    def load():
        time.sleep(float(os.environ.get("STARTUP_SECONDS", "0")))


    async def slow():
        global entered
        entered += 1
        await asyncio.sleep(1.0)
        return "done"


    def count():
        return entered


    def upload(data: bytes):
        return len(data)


    def stuck():
        global entered
        entered += 1
        time.sleep(60)


    app = create_app(
        [
            Route("GET", "/slow", slow),
            Route("GET", "/entered", count),
            Route("POST", "/upload", upload, max_body=1024 * 1024),
            Route("GET", "/stuck", stuck, timeout=120),
        ],
        Settings(title="served", startup=load, drain_timeout=10.0),
    )
    """
)


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    base: str
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_until_listening(served: Served, timeout: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise AssertionError(f"server exited {served.process.returncode}:\n{served.output()}")
        try:
            return httpx.get(served.base + "/ping", timeout=2.0)
        except httpx.TransportError:
            time.sleep(0.02)
    raise AssertionError(f"server did not listen within {timeout}s:\n{served.output()}")


def wait_for_ping(served: Served, status: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = httpx.get(served.base + "/ping", timeout=2.0).status_code
        if seen == status:
            return
        time.sleep(0.02)
    raise AssertionError(f"/ping did not answer {status} in {timeout}s (last {seen})")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    """``start(server, startup_seconds=0)`` -> a served app; always killed afterwards."""
    (tmp_path / "served_app.py").write_text(APP)
    processes: list[subprocess.Popen[bytes]] = []

    def run(server: str, startup_seconds: float = 0.0, *extra: str) -> Served:
        port = free_port()
        log = tmp_path / f"{server}-{port}.log"
        env = {"STARTUP_SECONDS": str(startup_seconds)}
        process = start_runtime(tmp_path, "served_app:app", server, port, log, *extra, env=env)
        processes.append(process)
        return Served(process, f"http://127.0.0.1:{port}", port, log)

    yield run
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.mark.parametrize("server", SERVERS)
def test_ping_goes_from_204_to_200_with_a_slow_startup_hook(start, server):
    served = start(server, startup_seconds=1.0)
    first = wait_until_listening(served)
    assert first.status_code == 204
    wait_for_ping(served, 200)
    assert httpx.get(served.base + "/ping").json() == {"status": "healthy"}


@pytest.mark.parametrize("server", SERVERS)
def test_sigterm_lets_20_in_flight_requests_finish_then_exits_0(start, server):
    served = start(server)
    wait_until_listening(served)
    wait_for_ping(served, 200)
    with ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(httpx.get, served.base + "/slow", timeout=15.0) for _ in range(20)]
        deadline = time.monotonic() + 10
        while httpx.get(served.base + "/entered").json() < 20:
            assert time.monotonic() < deadline, "the 20 requests never reached the handler"
            time.sleep(0.02)
        served.process.send_signal(signal.SIGTERM)
        responses = [future.result(timeout=15) for future in futures]
    assert [r.status_code for r in responses] == [200] * 20
    assert all(r.json() == "done" for r in responses)
    assert served.process.wait(15) == 0, served.output()
    events = [line for line in served.output().splitlines() if '"event"' in line]
    assert any('"draining"' in line for line in events)
    assert any('"shutdown"' in line for line in events)


def _upload(port: int, head: bytes, chunk: bytes, total: int, timeout: float = 10.0) -> bytes:
    """Send ``head`` then up to ``total`` bytes of ``chunk``s, stopping as soon as the server
    answers; return what it answered."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        sent = 0
        while sent < total and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except OSError:  # the server closed the connection after answering
                break
            sent += len(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            answer += data
        return answer


FIFTY_MB = 50 * 1024 * 1024


@pytest.mark.parametrize("server", SERVERS)
def test_50_mb_body_is_refused_with_413_without_growing_the_process(start, server):
    served = start(server)
    wait_until_listening(served)
    wait_for_ping(served, 200)
    for _ in range(5):  # warm up the code paths before measuring
        httpx.post(served.base + "/upload", content=b"x" * 1000)
    before = rss_kib(served.process.pid)

    declared = (
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Length: %d\r\n\r\n" % FIFTY_MB
    )
    answer = _upload(served.port, declared, b"x" * 65536, FIFTY_MB)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]

    chunked = (
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"10000\r\n" + b"x" * 65536 + b"\r\n"  # 64 KiB chunks, counted as they arrive
    answer = _upload(served.port, chunked, piece, FIFTY_MB)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]

    assert httpx.post(served.base + "/upload", content=b"x" * 10).json() == 10
    growth_mib = (rss_kib(served.process.pid) - before) / 1024
    assert growth_mib < 30, f"RSS grew by {growth_mib:.1f} MiB"


@pytest.mark.parametrize("server", SERVERS)
def test_a_handler_stuck_past_the_grace_period_gets_503_and_the_process_exits_0(start, server):
    served = start(server, 0.0, "--graceful-timeout", "1")
    wait_until_listening(served)
    wait_for_ping(served, 200)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(httpx.get, served.base + "/stuck", timeout=30.0)
        deadline = time.monotonic() + 10
        while httpx.get(served.base + "/entered").json() < 1:
            assert time.monotonic() < deadline, "the request never reached the handler"
            time.sleep(0.02)
        signalled = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(15) == 0, served.output()
        assert time.monotonic() - signalled < 8  # the 1 s grace, not the handler's 60 s
        response = pending.result(timeout=15)
    assert response.status_code == 503  # told, not dropped
    assert response.json()["detail"] == "Service is shutting down"


def test_an_app_that_fails_to_import_exits_1_with_a_json_log_line(tmp_path):
    (tmp_path / "broken_app.py").write_text("raise RuntimeError('no weights')\n")
    result = subprocess.run(
        [sys.executable, "-m", "flashctl_runtime.serve", "broken_app:app", "--port", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    failure = [line for line in result.stdout.splitlines() if '"startup_failed"' in line]
    assert len(failure) == 1
    assert '"error":"RuntimeError"' in failure[0]
