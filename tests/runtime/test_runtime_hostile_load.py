"""Hostile load against a real server process on 127.0.0.1: slow bodies, many short
connections, SIGTERM with pipelined and new requests; both servers, raw sockets."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_port, start_runtime

pytestmark = pytest.mark.slow

SERVERS = ["hypercorn", "uvicorn"]

APP = textwrap.dedent(
    """
    import asyncio
    import os

    from flashctl_runtime import Route, Settings, create_app


    def echo(text: str = ""):
        return text


    def ok():
        return "ok"


    async def slow():
        await asyncio.sleep(float(os.environ.get("SLOW_SECONDS", "1")))
        return "done"


    extra = {}
    if "BODY_TIMEOUT" in os.environ:
        extra["body_timeout"] = float(os.environ["BODY_TIMEOUT"])
    if "RATE_LIMIT" in os.environ:
        extra["rate_limit"] = (int(os.environ["RATE_LIMIT"]), 60.0)
    if "TRUSTED_PROXIES" in os.environ:
        extra["trusted_proxies"] = int(os.environ["TRUSTED_PROXIES"])

    app = create_app(
        [Route("POST", "/echo", echo), Route("GET", "/ok", ok), Route("GET", "/slow", slow)],
        Settings(
            title="hostile",
            max_concurrency=int(os.environ.get("MAX_CONCURRENCY", "64")),
            drain_timeout=float(os.environ.get("DRAIN_TIMEOUT", "10")),
            **extra,
        ),
    )
    """
)


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def exchange(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send ``request`` on a new connection; everything the server sends until it closes or
    ``timeout`` passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_until_closed(sock, timeout)


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    answer = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        except OSError:
            break
        if not data:
            break
        answer += data
    return answer


def get(path: str, close: bool = True) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return b"GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (path.encode(), connection)


def post_echo(body: bytes, length: int | None = None, close: bool = True) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n%s\r\n" % (len(body) if length is None else length, connection)
    ) + body


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer[9:12])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    """``start(server, *serve_args, **env)`` -> a served app answering /ping; always killed
    afterwards."""
    (tmp_path / "hostile_app.py").write_text(APP)
    processes: list[subprocess.Popen[bytes]] = []

    def run(server: str, *extra: str, **env: str) -> Served:
        port = free_port()
        log = tmp_path / f"{server}-{port}.log"
        process = start_runtime(tmp_path, "hostile_app:app", server, port, log, *extra, env=env)
        processes.append(process)
        served = Served(process, port, log)
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited {process.returncode}:\n{served.output()}")
            try:
                if status_of(exchange(port, get("/ping"), timeout=2.0)) == 200:
                    return served
            except (OSError, AssertionError):
                pass
            assert time.monotonic() < deadline, f"no /ping 200 in 30 s:\n{served.output()}"
            time.sleep(0.05)

    yield run
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)


# --- slow bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("server", SERVERS)
def test_slow_bodies_get_408_and_do_not_hold_the_slots_ready_requests_need(start, server):
    served = start(server, MAX_CONCURRENCY="2", BODY_TIMEOUT="1.5")
    slow = []
    try:
        for _ in range(4):  # twice max_concurrency, each 1 byte into a 100-byte body
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            sock.sendall(post_echo(b"{", length=100))
            slow.append(sock)
        time.sleep(0.3)  # they have reached the app
        assert status_of(exchange(served.port, get("/ok"))) == 200
        ready = exchange(served.port, post_echo(b'{"text": "hi"}'))
        assert status_of(ready) == 200 and ready.endswith(b'"hi"')
        for sock in slow:
            sock.sendall(b'"')  # still trickling
        for sock in slow:
            answer = read_until_closed(sock, timeout=10)  # ends: the server closes
            assert status_of(answer) == 408, answer
            assert b"did not arrive within 1.5 s" in answer
    finally:
        for sock in slow:
            sock.close()
    assert status_of(exchange(served.port, get("/ok"))) == 200


# --- rate limit keys -------------------------------------------------------------------------


def forwarded_for(port: int, addresses: list[str]) -> list[int]:
    return [
        status_of(
            exchange(
                port,
                b"GET /ok HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: %s\r\n"
                b"Connection: close\r\n\r\n" % address.encode(),
            )
        )
        for address in addresses
    ]


@pytest.mark.parametrize("server", SERVERS)
def test_spoofed_x_forwarded_for_does_not_escape_the_rate_limit(start, server):
    served = start(server, RATE_LIMIT="2")  # no trusted proxy: the header is the client's
    assert forwarded_for(served.port, ["1.1.1.1", "2.2.2.2", "3.3.3.3"]) == [200, 200, 429]


@pytest.mark.parametrize("server", SERVERS)
def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(start, server):
    served = start(server, RATE_LIMIT="1", TRUSTED_PROXIES="1")
    assert forwarded_for(served.port, ["1.1.1.1", "2.2.2.2", "6.6.6.6, 1.1.1.1"]) == [
        200,
        200,
        429,
    ]


# --- memory ----------------------------------------------------------------------------------


def short_keep_alive_connections(port: int, count: int) -> None:
    """``count`` connections, each two keep-alive requests then closed by the client."""
    request = get("/ok", close=False)
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            for _ in range(2):
                sock.sendall(request)
                answer = b""
                while not answer.endswith(b'"ok"'):
                    data = sock.recv(65536)
                    assert data, answer
                    answer += data


@pytest.mark.parametrize("server", SERVERS)
def test_short_keep_alive_connections_closed_by_the_client_do_not_grow_the_process(start, server):
    served = start(server)
    short_keep_alive_connections(served.port, 200)  # warm up
    time.sleep(0.5)
    before = rss_kib(served.process.pid)
    count = 1500
    short_keep_alive_connections(served.port, count)
    time.sleep(0.5)
    per_connection = (rss_kib(served.process.pid) - before) * 1024 / count
    # hypercorn kept each ~6-13 KB until its keep-alive timer ran out, and never gave it back
    assert per_connection < 1500, f"{per_connection:.0f} bytes per connection"


# --- drain -----------------------------------------------------------------------------------


def new_connection_after_sigterm(port: int) -> str:
    """What a client connecting now gets: ``refused``, ``reset`` or the status it was answered
    with; ``unanswered`` when nothing came back within 3 s (the connection was accepted into a
    queue nobody reads)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.sendall(get("/ping"))
            answer = sock.recv(65536)
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "unanswered"
    return str(status_of(answer)) if answer else "closed"


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("server", SERVERS)
def test_after_sigterm_ping_says_503_and_no_connection_waits_unanswered(start, server, workers):
    served = start(server, "--workers", workers, SLOW_SECONDS="4")
    with socket.create_connection(("127.0.0.1", served.port), timeout=15) as pipelined:
        # /ping waits behind /slow on the same connection, so it is read after SIGTERM
        pipelined.sendall(get("/slow", close=False) + get("/ping"))
        time.sleep(0.5)
        served.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert new_connection_after_sigterm(served.port) in ("refused", "reset", "503")
        answer = read_until_closed(pipelined, timeout=15)
    statuses = [int(status) for status in re.findall(rb"HTTP/1.1 (\d{3}) ", answer)]
    assert statuses[0] == 200 and statuses[1:] in ([], [503]), answer
    assert served.process.wait(15) == 0, served.output()
    assert '"draining"' in served.output()
