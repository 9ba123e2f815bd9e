"""`flashctl status` and `flashctl invoke` (on RunPod with the bearer key, or on `flashctl dev`)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from flashctl.deploy import invoke
from tests.deploy.conftest import CANARY_KEY, Deploy, create_raw, endpoint_yaml


def test_status_shows_id_url_workers_and_health(run_cli, deploy: Deploy, write_project):
    path = write_project(endpoint_yaml("api", workers="{min: 1, max: 2}"), endpoint_yaml("web"))
    run_cli("apply", "-f", str(path), "--yes", env=deploy.env)
    api = deploy.by_name("shop-api")

    text = run_cli("status", "-f", str(path), env=deploy.env)
    rows = json.loads(run_cli("status", "-f", str(path), "--format", "json", env=deploy.env).stdout)

    assert text.exit_code == 0, text
    header = ["ENDPOINT", "ID", "URL", "WORKERS", "HEALTH", "SPEND"]
    assert text.stdout.splitlines()[0].split() == header
    lines = [" ".join(line.split()) for line in text.stdout.splitlines()]
    row = f"shop-api {api['id']} {api['requestUrls']['base']} 1/1/2 healthy $"
    assert any(line.startswith(row) for line in lines), text
    assert "scaled to zero" in text.stdout  # shop-web: min 0, nothing running
    first = rows["endpoints"][0]
    assert (first["name"], first["id"], first["ready"], first["min"], first["max"]) == (
        "shop-api",
        api["id"],
        1,
        1,
        2,
    )


def test_status_of_an_endpoint_not_deployed_yet(run_cli, deploy: Deploy, write_project):
    result = run_cli("status", "-f", str(write_project(endpoint_yaml("api"))), env=deploy.env)

    assert result.exit_code == 0, result
    assert " ".join(result.stdout.splitlines()[1].split()) == "shop-api - - - not deployed -"


class _Echo(BaseHTTPRequestHandler):
    """Answers with what it was sent; /missing is a 404."""

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else None
        status = 404 if self.path.endswith("/missing") else 200
        payload = {"method": self.command, "path": self.path, "body": body}
        payload["auth"] = self.headers.get("authorization")
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_dev() -> Iterator[int]:
    """A stand-in for `flashctl dev` on a free loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_invoke_local_calls_the_dev_server_under_the_endpoint(
    run_cli, write_project, local_dev: int
):
    path = write_project(endpoint_yaml("api"), endpoint_yaml("web"))

    result = run_cli(
        "invoke", "-f", str(path), "api", "POST", "/hello", "--data", '{"name": "Ada"}',
        "--local", "--port", str(local_dev),
    )  # fmt: skip

    assert result.exit_code == 0, result
    echoed = json.loads(result.stdout)
    assert echoed == {
        "method": "POST",
        "path": "/api/hello",
        "body": '{"name": "Ada"}',
        "auth": None,
    }


def test_invoke_local_with_one_endpoint_calls_the_root(run_cli, write_project, local_dev: int):
    path = write_project(endpoint_yaml("api"))

    result = run_cli(
        "invoke", "-f", str(path), "api", "GET", "hello", "--local", "--port", str(local_dev)
    )

    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["path"] == "/hello"


def test_invoke_exits_1_on_a_non_2xx_answer_and_still_prints_it(
    run_cli, write_project, local_dev: int
):
    path = write_project(endpoint_yaml("api"))

    result = run_cli(
        "invoke", "-f", str(path), "api", "GET", "/missing", "--local", "--port", str(local_dev)
    )

    assert result.exit_code == 1, result
    assert json.loads(result.stdout)["path"] == "/missing"
    assert f"GET http://127.0.0.1:{local_dev}/missing answered 404" in result.stderr


def test_invoke_rejects_bad_json_data_as_a_usage_error(run_cli, write_project):
    path = write_project(endpoint_yaml("api"))

    result = run_cli(
        "invoke", "-f", str(path), "api", "POST", "/hello", "--data", "{oops", "--local"
    )

    assert result.exit_code == 2, result
    assert "--data is not valid JSON" in result.stderr


class _RecordingTransport(requests.adapters.BaseAdapter):
    """Stands in for the network to RunPod's https endpoint URLs (there is none here)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        self.sent.append(request)
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"hello": "Ada"}'
        response.request = request
        return response

    def close(self) -> None:
        pass


def test_invoke_on_runpod_calls_the_request_url_with_the_bearer_key(
    run_cli, deploy: Deploy, write_project, monkeypatch
):
    path = write_project(endpoint_yaml("api"))
    run_cli("apply", "-f", str(path), "--yes", env=deploy.env)
    transport = _RecordingTransport()

    def session() -> requests.Session:
        made = requests.Session()
        made.mount("https://", transport)
        return made

    monkeypatch.setattr(invoke, "new_session", session)

    result = run_cli(
        "invoke",
        "-f",
        str(path),
        "api",
        "POST",
        "/hello",
        "--data",
        '{"name": "Ada"}',
        env=deploy.env,
    )

    assert result.exit_code == 0, result
    assert result.stdout == '{"hello": "Ada"}\n'
    (sent,) = transport.sent
    assert sent.url == deploy.by_name("shop-api")["requestUrls"]["base"] + "/hello"
    assert sent.headers["Authorization"] == f"Bearer {CANARY_KEY}"
    assert CANARY_KEY not in result.stdout + result.stderr


def test_invoke_on_runpod_before_apply_says_it_is_not_deployed(
    run_cli, deploy: Deploy, write_project
):
    path = write_project(endpoint_yaml("api"))

    result = run_cli("invoke", "-f", str(path), "api", "GET", "/hello", env=deploy.env)

    assert result.exit_code == 1, result
    assert "shop-api is not deployed" in result.stderr


def test_invoke_never_calls_another_projects_endpoint_of_the_same_name(
    run_cli, deploy: Deploy, write_project, monkeypatch
):
    billing = create_raw(deploy, "shop-api", {"FLASHCTL_PROJECT": "billing"})
    path = write_project(endpoint_yaml("api"))
    transport = _RecordingTransport()

    def session() -> requests.Session:
        made = requests.Session()
        made.mount("https://", transport)
        return made

    monkeypatch.setattr(invoke, "new_session", session)

    result = run_cli("invoke", "-f", str(path), "api", "POST", "/hello", env=deploy.env)

    assert result.exit_code == 1, result
    assert (
        f"Not calling shop-api: shop-api ({billing['id']}) belongs to project 'billing'"
    ) in result.stderr
    assert transport.sent == []
