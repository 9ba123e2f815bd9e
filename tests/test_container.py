"""The rendered container, run as the container would (no Docker here): a fresh venv with the
context's requirements.txt, the Dockerfile's CMD run from the context folder with the env that
endpoint.json sets, then /ping and every route of the example over real HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from flashctl.compiler.pipeline import load_valid_project
from flashctl.render.flows import render_to
from tests.conftest import EXAMPLE
from tests.servers import free_port, start_interruptible, stop, wait_for_status

# (method, path, json body or query) -> (status, body) for every route of the example.
CALLS = {
    "gpu": [
        ("GET", "/health", None, 200, {"status": "ok", "service": "gpu"}),
        ("GET", "/info", None, 200, None),
        ("POST", "/compute", {"numbers": [1, 2, 3]}, 200, {"count": 3, "sum_of_squares": 14}),
        ("POST", "/compute", {"numbers": "x"}, 422, None),
    ],
    "cpu": [
        ("GET", "/health", None, 200, {"status": "ok", "service": "cpu"}),
        (
            "POST",
            "/validate",
            {"text": "a b"},
            200,
            {"valid": True, "characters": 3, "words": 2, "lines": 1},
        ),
        ("POST", "/transform", {"text": "hello", "operation": "uppercase"}, 200, "HELLO"),
        ("POST", "/transform", {"text": "hello", "operation": "shout"}, 400, None),
    ],
    "users": [
        (
            "POST",
            "/users",
            {"name": "Ada", "email": "ada@example.com"},
            200,
            {"id": 1, "name": "Ada", "email": "ada@example.com"},
        ),
        (
            "GET",
            "/users",
            {"limit": "10"},
            200,
            [{"id": 1, "name": "Ada", "email": "ada@example.com"}],
        ),
        ("GET", "/users/1", None, 200, {"id": 1, "name": "Ada", "email": "ada@example.com"}),
        (
            "PUT",
            "/users/1",
            {"name": "Ada L."},
            200,
            {"id": 1, "name": "Ada L.", "email": "ada@example.com"},
        ),
        ("DELETE", "/users/1", None, 200, {"deleted": 1}),
        ("GET", "/users/1", None, 404, None),
    ],
}


def dockerfile_cmd(dockerfile: Path) -> list[str]:
    line = next(line for line in dockerfile.read_text().splitlines() if line.startswith("CMD "))
    return json.loads(line[len("CMD ") :])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("container") / "build"
    render_to(load_valid_project(EXAMPLE, variables={}, environment=None), out)
    return out


def venv_with_requirements(env_dir: Path, context: Path) -> Path:
    """A fresh venv with the context's requirements.txt installed, as the image's pip step
    does; its python."""
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(context / "requirements.txt")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    return python


def check_calls(client: httpx.Client, calls: list[tuple]) -> None:
    """Each (method, path, json body or query, status, body or None) answers as listed."""
    for method, path, data, status, body in calls:
        if method in ("GET", "DELETE"):
            response = client.request(method, path, params=data)
        else:
            response = client.request(method, path, json=data)
        assert response.status_code == status, (method, path, response.text)
        if body is not None:
            assert response.json() == body, (method, path)


@dataclass
class Served:
    """A rendered context served as its container runs it: `base` URL; `output` and
    `returncode` once it has stopped."""

    base: str
    output: str = ""
    returncode: int | None = None


@contextlib.contextmanager
def served_as_container(context: Path, python: Path) -> Iterator[Served]:
    """`context`'s service as its container would run it: the Dockerfile's CMD with `python`
    (the image's python is the venv's here), the env of endpoint.json, PORT a free port (8000
    may be taken). Yields once /ping is 200; stopped with SIGTERM after, and its output must
    hold no traceback."""
    command = dockerfile_cmd(context / "Dockerfile")
    assert command[0] == "python"
    command[0] = str(python)
    spec = json.loads((context / "endpoint.json").read_text())
    port = free_port()
    env = {"PATH": os.environ["PATH"], **spec["env"], "PORT": str(port)}
    server = start_interruptible(
        command, cwd=context, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    served = Served(f"http://127.0.0.1:{port}")
    try:
        wait_for_status(f"{served.base}/ping", 200, timeout=60, process=server)
        yield served
    finally:
        served.output = stop(server, signal.SIGTERM)
        served.returncode = server.returncode
    assert "Traceback" not in served.output, served.output


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", ["gpu", "cpu", "users"])
def test_rendered_context_serves_every_route_as_its_container_would(rendered, endpoint, tmp_path):
    context = rendered / endpoint
    python = venv_with_requirements(tmp_path / "venv", context)
    with (
        served_as_container(context, python) as served,
        httpx.Client(base_url=served.base, timeout=10) as client,
    ):
        check_calls(client, CALLS[endpoint])
        assert client.post("/execute", json={}).status_code == 404
    assert served.returncode == 0, served.output
