"""`flashctl loadtest` against small loopback servers: counts, statuses, durations, dead servers
and deployed endpoints (URL from the emulator, bearer key)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from flashctl.emulator.server import BackgroundEmulator
from flashctl.loadtest import runner
from tests.servers import ToLoopback, free_port

KEY = "rpa_LOADTEST0123456789abcdefLOADTEST"

HANDLERS = """\
def hello(name: str = "world"):
    return {"hello": name}


def item(item_id: int):
    return {"id": item_id}
"""


class _Handler(BaseHTTPRequestHandler):
    """200 with Server-Timing; every 4th request to /flaky answers 503; /plain has no timing."""

    count = 0
    lock = threading.Lock()
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer()

    def _answer(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(1.0)
        with self.lock:
            type(self).count += 1
            number = self.count
            self.seen.append({"path": self.path, **dict(self.headers)})
        status = 503 if self.path.startswith("/flaky") and number % 4 == 0 else 200
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if not self.path.startswith("/plain"):
            self.send_header("Server-Timing", "app;dur=0.25")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    _Handler.count = 0
    _Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def write_project(tmp_path: Path, slo: str = "", image: str = "") -> Path:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    path = tmp_path / "flash.yaml"
    path.write_text(
        f"""\
version: 1
project: shop
endpoints:
  api:
    {image or "image: null"}
    compute:
      cpu: [{{flavor: cpu5c, vcpus: 2}}]
    routes:
      - {{method: GET, path: /hello, handler: "handlers:hello"}}
      - {{method: POST, path: /flaky, handler: "handlers:hello"}}
      - {{method: GET, path: /plain, handler: "handlers:hello"}}
      - {{method: GET, path: /slow, handler: "handlers:hello"}}
      - {{method: GET, path: "/items/{{item_id:int}}", handler: "handlers:item"}}
{slo}"""
    )
    return path


def test_every_request_is_counted_once_with_its_status(run_cli, tmp_path, server):
    path = write_project(tmp_path)

    result = run_cli(
        "loadtest", "-f", str(path), "api", "--local", "--port", str(server),
        "-n", "40", "-c", "4", "--route", "POST /flaky", "--data", '{"name": "x"}',
        "--format", "json",
    )  # fmt: skip

    assert result.exit_code == 1, result  # 25% 503s miss the default 99% success rate
    report = json.loads(result.stdout)
    assert report["requests"] == 40 == report["succeeded"] + report["failed"]
    assert report["statuses"] == {"200": 30, "503": 10}
    assert report["server_ms"]["p50"] == 0.25
    assert _Handler.count == 41  # one warm-up request, not counted
    assert "SLO missed" in result.stderr and "success rate 75.0% < 99.0%" in result.stderr


def test_default_route_is_the_first_without_path_parameters(run_cli, tmp_path, server):
    path = write_project(tmp_path)

    result = run_cli(
        "loadtest", "-f", str(path), "api", "--local", "--port", str(server), "-n", "5"
    )

    assert result.exit_code == 0, result
    assert {seen["path"] for seen in _Handler.seen} == {"/hello"}
    assert "GET http://127.0.0.1" in result.stdout and "/hello" in result.stdout
    assert "statuses    200: 5" in result.stdout


def test_get_data_becomes_the_query_string(run_cli, tmp_path, server):
    path = write_project(tmp_path)

    result = run_cli(
        "loadtest", "-f", str(path), "api", "--local", "--port", str(server), "-n", "2",
        "--data", '{"name": "Ada", "n": 2}',
    )  # fmt: skip

    assert result.exit_code == 0, result
    assert _Handler.seen[-1]["path"] == "/hello?name=Ada&n=2"


def test_responses_without_server_timing_report_no_server_time(run_cli, tmp_path, server):
    path = write_project(tmp_path)

    result = run_cli(
        "loadtest", "-f", str(path), "api", "--local", "--port", str(server), "-n", "5",
        "--route", "GET /plain",
    )  # fmt: skip

    assert result.exit_code == 0, result
    assert "server      n/a" in result.stdout


def test_duration_bounds_the_run_in_time(run_cli, tmp_path, server):
    path = write_project(tmp_path)
    started = time.monotonic()

    result = run_cli(
        "loadtest", "-f", str(path), "api", "--local", "--port", str(server), "-d", "1",
        "-c", "2", "--format", "json",
    )  # fmt: skip

    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result
    report = json.loads(result.stdout)
    assert report["requests"] > 0 and 1.0 <= report["elapsed_s"] < 3.0
    assert elapsed < 10


def test_timeout_bounds_each_request(run_cli, tmp_path, server):
    path = write_project(tmp_path)
    started = time.monotonic()

    result = run_cli(
        "loadtest", "-f", str(path), "api", "--local", "--port", str(server), "-n", "3",
        "--route", "GET /slow", "--timeout", "0.2",
    )  # fmt: skip

    assert result.exit_code == 1, result
    assert "/slow: no response within 0.2 s" in result.stderr
    assert time.monotonic() - started < 5


def test_a_dead_server_is_a_clear_error(run_cli, tmp_path):
    path = write_project(tmp_path)
    port = free_port()

    result = run_cli("loadtest", "-f", str(path), "api", "--local", "--port", str(port), "-n", "5")

    assert result.exit_code == 1, result
    assert f"Could not reach http://127.0.0.1:{port}/hello: connection refused" in result.stderr
    assert f"flashctl dev --port {port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "5", "-d", "1"], "either -n/--requests or -d/--duration"),
        (["--route", "FETCH /hello"], "is not 'METHOD /path'"),
        (["--route", "POST /flaky", "--data", "{oops"], "--data is not valid JSON"),
        (["-c", "0"], "0 is not in the range"),
    ],
)
def test_bad_options_are_usage_errors(run_cli, tmp_path, args: list[str], message: str):
    path = write_project(tmp_path)

    result = run_cli("loadtest", "-f", str(path), "api", "--local", *args)

    assert result.exit_code == 2, result
    assert message in result.stderr


def test_a_route_with_parameters_must_be_chosen(run_cli, tmp_path):
    (tmp_path / "handlers.py").write_text(HANDLERS)
    path = tmp_path / "flash.yaml"
    path.write_text(
        "version: 1\nproject: shop\nendpoints:\n  api:\n    compute: {cpu: [{flavor: cpu5c, "
        'vcpus: 2}]}\n    routes:\n      - {method: GET, path: "/items/{item_id:int}", '
        'handler: "handlers:item"}\n'
    )

    result = run_cli("loadtest", "-f", str(path), "api", "--local", "-n", "1")

    assert result.exit_code == 2, result
    assert "--route 'METHOD /path'" in result.stderr


def test_deployed_endpoint_is_found_by_name_and_sent_the_key(
    run_cli, tmp_path, server, monkeypatch
):
    path = write_project(tmp_path, image="image: acme/shop:1")
    with BackgroundEmulator(api_key=KEY, worker_ready_delay=0.0) as emulator:
        env = {"RUNPOD_API_KEY": KEY, "FLASHCTL_API_URL": emulator.url, "HOME": str(tmp_path)}
        applied = run_cli("apply", "-f", str(path), "--yes", "--no-wait", env=env)
        assert applied.exit_code == 0, applied
        (created,) = emulator.emulator.state.list()

        def session() -> requests.Session:
            made = requests.Session()
            made.mount("https://", ToLoopback(server))
            return made

        monkeypatch.setattr(runner, "new_session", session)
        result = run_cli("loadtest", "-f", str(path), "api", "-n", "6", "-c", "2", env=env)

    assert result.exit_code == 0, result
    assert created["requestUrls"]["base"] + "/hello" in result.stdout
    assert {seen["Authorization"] for seen in _Handler.seen} == {f"Bearer {KEY}"}
    assert KEY not in result.stdout + result.stderr
