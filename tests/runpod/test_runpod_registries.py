"""Registry credentials (`/v2/registries`) in the emulator and the client, over real HTTP: the
routes RunPod documents, answers that validate against its schemas (the fixtures' contract
check), and a login that is kept, logged and shown nowhere."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from flashctl.emulator.server import BackgroundEmulator
from flashctl.runpod.client import RunPodClient
from flashctl.runpod.errors import RunPodAPIError

KEY = "rpa_CANARY0123456789abcdefCANARY"  # the key conftest's emulators require
AUTH = {"Authorization": f"Bearer {KEY}"}
PASSWORD = "pw-CANARY-0b8e2d4f6a"
LOGIN = {"name": "acme-ghcr", "username": "acme-bot", "password": PASSWORD}
Start = Callable[..., BackgroundEmulator]


def call(emulator: BackgroundEmulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("headers", AUTH)
    return requests.request(method, emulator.url + path, timeout=5, **kwargs)


def test_list_create_get_delete(emulator: BackgroundEmulator) -> None:
    assert call(emulator, "GET", "/v2/registries").json() == {"registries": []}

    created = call(emulator, "POST", "/v2/registries", json=LOGIN)

    assert created.status_code == 201
    made = created.json()
    assert set(made) == {"id", "name"} and made["name"] == "acme-ghcr"
    assert call(emulator, "GET", "/v2/registries").json() == {"registries": [made]}
    assert call(emulator, "GET", f"/v2/registries/{made['id']}").json() == made
    assert call(emulator, "DELETE", f"/v2/registries/{made['id']}").status_code == 204
    assert call(emulator, "GET", f"/v2/registries/{made['id']}").status_code == 404
    assert call(emulator, "DELETE", f"/v2/registries/{made['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "a", "username": "u"}, "password: required"),
        ({**LOGIN, "password": ""}, "password: must be a non-empty string"),
        ({**LOGIN, "extra": 1}, "extra: unknown field"),
    ],
)
def test_a_bad_create_gets_422_without_echoing_any_value(
    emulator: BackgroundEmulator, body: dict[str, Any], error: str
) -> None:
    response = call(emulator, "POST", "/v2/registries", json=body)

    assert response.status_code == 422
    assert error in response.json()["errors"]
    assert "acme-bot" not in response.text and PASSWORD not in response.text


def test_the_login_is_kept_nowhere(start_emulator: Start, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    emulator = start_emulator(state=state)

    made = call(emulator, "POST", "/v2/registries", json=LOGIN).json()

    logged = json.dumps(emulator.emulator.log.snapshot())
    assert PASSWORD not in logged and "acme-bot" not in logged
    assert PASSWORD not in state.read_text() and "acme-bot" not in state.read_text()
    # ... and the credential itself survives a restart.
    emulator.stop()
    again = start_emulator(state=state)
    assert call(again, "GET", "/v2/registries").json() == {"registries": [made]}


def test_endpoints_take_only_a_registry_id_that_exists(
    emulator: BackgroundEmulator, lb_body: Callable[..., dict[str, Any]]
) -> None:
    refused = call(emulator, "POST", "/v2/serverless", json=lb_body(registry="nope1234"))
    made = call(emulator, "POST", "/v2/registries", json=LOGIN).json()
    created = call(emulator, "POST", "/v2/serverless", json=lb_body(registry=made["id"]))

    assert refused.status_code == 400
    assert "registry" in refused.json()["detail"]
    assert created.status_code == 201 and created.json()["registry"] == made["id"]
    patched = call(
        emulator, "PATCH", f"/v2/serverless/{created.json()['id']}", json={"registry": "nope1234"}
    )
    assert patched.status_code == 400


def test_deleting_a_credential_leaves_its_endpoints_without_one(
    emulator: BackgroundEmulator, lb_body: Callable[..., dict[str, Any]]
) -> None:
    made = call(emulator, "POST", "/v2/registries", json=LOGIN).json()
    endpoint = call(emulator, "POST", "/v2/serverless", json=lb_body(registry=made["id"])).json()

    call(emulator, "DELETE", f"/v2/registries/{made['id']}")

    after = call(emulator, "GET", f"/v2/serverless/{endpoint['id']}").json()
    assert "registry" not in after  # null, which the server leaves out


def test_the_client_lists_and_creates(client: RunPodClient) -> None:
    made = client.create_registry("acme-ghcr", "acme-bot", PASSWORD)

    assert client.list_registries() == [made]


def test_a_lost_create_response_is_found_in_the_list_not_sent_again(
    emulator: BackgroundEmulator, client: RunPodClient
) -> None:
    requests.post(
        f"{emulator.url}/_emulator/faults",
        json={"faults": [{"kind": "drop_after", "match": "POST /v2/registries"}]},
        timeout=5,
    ).raise_for_status()

    made = client.create_registry("acme-ghcr", "acme-bot", PASSWORD)

    assert client.list_registries() == [made]
    assert client.request_counts[("POST", "/v2/registries")] == 1


class _Echoing(BaseHTTPRequestHandler):
    """A server that answers a create with a 400 quoting the body it was sent."""

    def do_POST(self) -> None:
        sent = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        data = json.dumps(
            {"title": "Bad Request", "status": 400, "detail": f"cannot log in with {sent}"}
        ).encode()
        self.send_response(400)
        self.send_header("content-type", "application/problem+json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def echoing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echoing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_server_error_quoting_the_password_is_scrubbed(
    echoing_server: str, make_client: Callable[..., RunPodClient]
) -> None:
    client = make_client(echoing_server)

    with pytest.raises(RunPodAPIError) as raised:
        client.create_registry("acme-ghcr", "acme-bot", PASSWORD)

    assert "cannot log in with" in str(raised.value)
    assert PASSWORD not in str(raised.value) and PASSWORD not in repr(raised.value)
