"""A FastAPI project written like RunPod's flash-examples (an app in main.py, an APIRouter per
worker, @remote functions, a mothership): imported, validated, served by `flashctl dev` and by
the rendered container of its app endpoint, in a venv with FastAPI but without runpod-flash.

FastAPI is not a dependency of flashctl: the venv here gets it from the app endpoint's rendered
requirements.txt (import-flash adds it, since the code imports it), as the image would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import time
from pathlib import Path

import httpx
import pytest
from ruamel.yaml import YAML

from flashctl.compiler.pipeline import load_valid_project
from flashctl.render.flows import render_to
from tests.servers import free_port, start_interruptible, stop, wait_for_status
from tests.test_compat import shadowed_packages
from tests.test_container import served_as_container, venv_with_requirements

FIXTURE = Path(__file__).parent / "import_flash" / "fixtures" / "fastapi_app"
APP_ENDPOINT = "fastapi-app-mothership"

# The README's requests: (method, path, json body, status, answer or None)
CALLS = [
    ("GET", "/", None, 200, None),
    ("POST", "/gpu/hello", {"message": "hi"}, 200, {"status": "success", "message": "hi",
                                                    "worker_type": "GPU"}),
    ("POST", "/gpu/hello", {"message": ["not", "text"]}, 422, None),  # pydantic's own 422
    ("POST", "/cpu/hello", {"name": "Ada"}, 200, {"greeting": "Hello, Ada!",
                                                  "worker_type": "CPU"}),  # lifespan state
    ("GET", "/cpu/items/3?q=fast", None, 200, {"item_id": 3, "q": "fast"}),
    ("GET", "/ping", None, 200, {"status": "healthy"}),  # the runtime's, not the app's
    ("POST", "/execute", {}, 404, None),
]  # fmt: skip
# The .pth line that lets the venv's python also import flashctl from the test's venv, for
# `flashctl dev` only (the container run leaves FLASHCTL_TEST_SITE unset).
SITE_HOOK = (
    "import os, site; os.environ.get('FLASHCTL_TEST_SITE')"
    " and site.addsitedir(os.environ['FLASHCTL_TEST_SITE'])\n"
)


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    import click
    from click.testing import CliRunner

    from flashctl.cli import main

    project = tmp_path_factory.mktemp("asgi") / "fastapi_app"
    shutil.copytree(FIXTURE, project)
    command = click.command()(lambda: main(["import-flash", str(project)]))
    result = CliRunner().invoke(command, [], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return project / "flash.yaml"


@pytest.fixture(scope="module")
def fastapi_python(imported, tmp_path_factory) -> Path:
    """A venv with the app endpoint's rendered requirements (FastAPI among them)."""
    out = tmp_path_factory.mktemp("asgi-build")
    render_to(load_valid_project(imported, variables={}, environment=None), out)
    python = venv_with_requirements(tmp_path_factory.mktemp("asgi-venv"), out / APP_ENDPOINT)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "flashctl_test_site.pth").write_text(SITE_HOOK)
    return python


def call_each(base: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for method, path, body, status, answer in CALLS:
            response = client.request(method, path, json=body)
            assert response.status_code == status, (method, path, response.text)
            assert "x-request-id" in response.headers
            if answer is not None:
                assert response.json() == answer, (method, path)


def test_the_fastapi_project_imports_as_an_app_endpoint_and_validates(imported, run_cli):
    document = YAML(typ="safe", pure=True).load(imported.read_text())
    app = document["endpoints"][APP_ENDPOINT]
    assert app["app"] == "main:app"
    assert app["dependencies"] == ["fastapi"]
    assert app["scaling"]["workers"] == {"min": 1, "max": 3}  # the mothership's
    assert app["runtime"] == {"request_timeout": None, "unknown_keys": "ignore"}
    gpu = document["endpoints"]["fastapi-app-gpu"]  # its package's __init__ imports fastapi
    assert gpu["dependencies"] == ["fastapi"]
    validated = run_cli("validate", "-f", str(imported))
    assert validated.exit_code == 0, validated
    assert "1 ASGI app" in validated.stdout


def test_a_missing_app_is_reported_at_its_line(imported, run_cli, tmp_path):
    broken = imported.read_text().replace("app: main:app", "app: main:application")
    path = imported.parent / "broken.yaml"
    path.write_text(broken)
    result = run_cli("validate", "-f", str(path))
    assert result.exit_code == 1
    lines = enumerate(broken.splitlines(), 1)
    line = next(n for n, text in lines if text.strip() == "app: main:application")
    assert f"broken.yaml:{line}:10: error: app 'main:application'" in result.stdout
    assert "[app-not-found]" in result.stdout


def test_the_app_endpoint_renders_for_kubernetes_with_the_runtimes_probes(imported):
    from flashctl.kubernetes.render import render_kubernetes
    from tests.kubernetes.conftest import container

    project = load_valid_project(imported, variables={}, environment=None).project
    files = render_kubernetes(project)
    app = container(files[f"{APP_ENDPOINT}.yaml"])
    assert app["readinessProbe"]["httpGet"]["path"] == "/ping?ready=1"  # 503 until started
    assert app["livenessProbe"]["httpGet"]["path"] == "/ping"


@pytest.mark.slow
def test_the_fastapi_project_serves_under_dev(imported, fastapi_python, tmp_path):
    port = free_port()
    site = sysconfig.get_paths()["purelib"]  # flashctl, from the venv running the tests
    env = {
        **os.environ,
        "FLASHCTL_TEST_SITE": site,
        "PYTHONPATH": str(shadowed_packages(tmp_path / "site")),  # no real runpod_flash
    }
    dev = start_interruptible(
        [str(fastapi_python), "-m", "flashctl", "-f", str(imported), "dev", "--port", str(port),
         "--no-reload"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/{APP_ENDPOINT}"
    try:
        wait_for_status(f"{base}/ping", 200, timeout=60, process=dev)
        call_each(base)
        spec = httpx.get(f"{base}/openapi.json", timeout=10).json()  # FastAPI's own, docs on
        assert {"/gpu/hello", "/cpu/hello", "/cpu/items/{item_id}"} <= set(spec["paths"])
        worker = httpx.post(
            f"http://127.0.0.1:{port}/fastapi-app-gpu/gpu_hello",
            json={"input_data": {"message": "direct"}},
            timeout=10,
        )
        assert worker.json()["message"] == "direct"
    finally:
        output = stop(dev)
    assert "Traceback" not in output, output
    routes = [
        json.loads(line)["route"] for line in output.splitlines() if '"event":"request"' in line
    ]
    assert "/cpu/items/{item_id}" in routes  # the app's route template in the log line


@pytest.mark.slow
def test_the_rendered_container_of_the_app_endpoint_serves(imported, fastapi_python, tmp_path):
    out = tmp_path / "build"
    render_to(load_valid_project(imported, variables={}, environment=None), out)
    context = out / APP_ENDPOINT
    assert "app=_app" in (context / "handler_service.py").read_text()
    assert json.loads((context / "endpoint.json").read_text())["timeout"] == 330_000  # no cap
    with served_as_container(context, fastapi_python) as served:
        call_each(served.base)
        assert httpx.get(f"{served.base}/docs", timeout=10).status_code == 404  # docs off
    assert '"event":"shutdown"' in served.output


def test_under_dev_an_apps_lifespan_state_reaches_its_requests_beside_other_endpoints():
    import contextlib

    from flashctl_runtime import Route, Settings, create_app
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route as StarletteRoute
    from starlette.testclient import TestClient

    from flashctl.dev.mount import Mounted

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield {"model": "loaded"}

    async def model(request: Request) -> JSONResponse:
        return JSONResponse({"model": request.state.model})

    user_app = Starlette(routes=[StarletteRoute("/model", model)], lifespan=lifespan)
    apps = {
        "whole": create_app([], Settings(), app=user_app),
        "plain": create_app([Route("GET", "/one", lambda: 1)], Settings()),
    }
    with TestClient(Mounted(apps)) as client:
        deadline = time.monotonic() + 10
        while client.get("/whole/ping").status_code != 200:  # the app's lifespan has run
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert client.get("/whole/model").json() == {"model": "loaded"}
        assert client.get("/plain/one").json() == 1
