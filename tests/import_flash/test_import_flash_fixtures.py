"""`flashctl import-flash` on projects written like RunPod's runpod-flash / tetra-rp examples:
each gives a flash.yaml that validates, with the settings carried over and the rest listed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

FIXTURES = Path(__file__).parent / "fixtures"


def imported(run_cli, tmp_path: Path, fixture: str) -> tuple[dict[str, Any], str, Path]:
    """Copy the fixture, import it (DIR/flash.yaml), and return the document and the notes."""
    project = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, project)
    result = run_cli("import-flash", str(project))
    assert result.exit_code == 0, result
    assert f"{project / 'flash.yaml'} validates." in result.stderr
    path = project / "flash.yaml"
    return YAML(typ="safe", pure=True).load(path.read_text()), result.stderr, path


@pytest.mark.parametrize(
    "fixture",
    [
        "tetra_load_balancer",
        "endpoint_api",
        "queue_workers",
        "shared_resource",
        "class_worker",
        "fastapi_app",
        "queue_served",
    ],
)
def test_imported_project_validates(run_cli, tmp_path, fixture: str):
    _document, _notes, path = imported(run_cli, tmp_path, fixture)

    validated = run_cli("validate", "-f", str(path))

    assert validated.exit_code == 0, validated
    assert "ok (" in validated.stdout


def test_remote_decorators_on_load_balancer_resources(run_cli, tmp_path):
    document, notes, path = imported(run_cli, tmp_path, "tetra_load_balancer")

    assert document["project"] == "tetra-load-balancer"
    assert document["defaults"] == {"python": "3.12", "source": "."}
    gpu = document["endpoints"]["load-balancer-gpu"]
    assert gpu["compute"]["gpu"] == {"pools": ["AMPERE_48", "ADA_48_PRO"]}  # tetra-rp: any CUDA
    assert gpu["scaling"] == {"workers": {"min": 1, "max": 3}, "idle_timeout": 120}
    assert gpu["runtime"] == {
        "request_timeout": None,
        "unknown_keys": "ignore",
    }  # executionTimeoutMs 0: no cap
    assert gpu["dependencies"] == ["numpy", "torch"]  # from the @remote decorators
    assert gpu["routes"] == [
        {"method": "GET", "path": "/health", "handler": "workers.gpu.endpoint:gpu_health"},
        {"method": "POST", "path": "/compute", "handler": "workers.gpu.endpoint:compute_intensive"},
        {"method": "GET", "path": "/info", "handler": "workers.gpu.endpoint:gpu_info"},
    ]
    cpu = document["endpoints"]["load-balancer-cpu"]
    assert cpu["compute"]["cpu"] == [
        {"flavor": "cpu3c", "vcpus": 2},
        {"flavor": "cpu5c", "vcpus": 4},
    ]
    # tetra-rp's defaults (workersMax 3, idleTimeout 5), not runpod-flash's (1, 60)
    assert cpu["scaling"] == {"workers": {"min": 0, "max": 3}, "idle_timeout": 5}
    app = document["endpoints"]["load-balancer-mothership"]  # the FastAPI app on its mothership
    assert app["app"] == "main:app"
    assert app["dependencies"] == ["fastapi"]
    assert app["compute"] == {"cpu": [{"flavor": "cpu3g", "vcpus": 2}]}
    assert app["scaling"] == {"workers": {"min": 1, "max": 3}, "idle_timeout": 5}
    assert "routes" not in app
    assert "main.py:7: FastAPI app 'app' is served whole by endpoint 'load-balancer-mo" in notes
    text = path.read_text()
    assert "# from LiveLoadBalancer '03_05_load_balancer_gpu' (workers/gpu/endpoint.py:3)" in text
    assert "#   - main.py:7: FastAPI app 'app' is served whole" in text  # notes in the file too
    assert "request_timeout: null" in text


def test_endpoint_routes_and_every_compute_option(run_cli, tmp_path):
    document, notes, _path = imported(run_cli, tmp_path, "endpoint_api")

    gpu = document["endpoints"]["embeddings-gpu"]
    assert gpu["compute"] == {
        "gpu": {"pools": ["AMPERE_80", "ADA_24"], "min_cuda": "12.4"},
        "data_centers": ["EU-RO-1"],
    }
    assert gpu["scaling"] == {
        "workers": {"min": 0, "max": 4},
        "idle_timeout": 300,
        "request_count": 2,
        "flashboot": "off",
    }
    assert gpu["runtime"] == {"request_timeout": 60, "unknown_keys": "ignore"}
    assert gpu["env"] == {"MODEL_ID": "sentence-transformers/all-MiniLM-L6-v2", "BATCH_SIZE": "32"}
    assert gpu["dependencies"] == ["sentence-transformers>=3", "torch"]
    assert gpu["system_dependencies"] == ["libgomp1"]
    assert [(r["method"], r["path"]) for r in gpu["routes"]] == [
        ("GET", "/health"),
        ("POST", "/embed"),
        ("GET", "/models/{model_name}"),
        ("DELETE", "/cache"),
    ]
    worker = document["endpoints"]["lb-worker"]  # `api` in another module is another resource
    assert worker["compute"]["cpu"] == [{"flavor": "cpu3c", "vcpus": 2}]
    assert worker["scaling"]["workers"] == {"min": 1, "max": 3}
    assert "cpu3c-1-2 has 1 vCPU; flash.yaml offers cpu3c with 2 vCPUs" in notes


def test_queue_based_functions_become_post_routes(run_cli, tmp_path):
    document, notes, _path = imported(run_cli, tmp_path, "queue_workers")

    endpoints = document["endpoints"]
    assert sorted(endpoints) == [
        "cpu-worker",
        "gpu-worker",
        "gpu-worker-2",
        "high-throughput",
        "legacy-sum",
        "scale-to-zero",
    ]
    assert endpoints["cpu-worker"]["routes"] == [
        {
            "method": "POST",
            "path": "/cpu_hello",
            "handler": "cpu_worker:cpu_hello",
            "envelope": "input",  # RunPod's {"input": {...}} is still taken
        }
    ]
    assert all(e["runtime"]["unknown_keys"] == "ignore" for e in endpoints.values())
    high = endpoints["high-throughput"]
    assert high["compute"]["gpu"]["pools"] == ["ADA_24", "AMPERE_24"]
    assert high["compute"]["gpu"]["exclude"] == ["NVIDIA RTX A5000", "NVIDIA GeForce RTX 3090"]
    assert high["scaling"]["request_count"] == 3
    assert "request_count" not in endpoints["scale-to-zero"]["scaling"]
    assert endpoints["legacy-sum"]["dependencies"] == ["numpy"]
    assert endpoints["legacy-sum"]["scaling"]["workers"] == {"min": 0, "max": 2}
    assert 'callers send {"input_data": ...} there instead of {"input": ...}' in notes
    assert "scaler QUEUE_DELAY" in notes

    sd = endpoints["gpu-worker-2"]  # "05_01_gpu_worker", the class endpoint
    assert sd["routes"] == [
        {
            "method": "POST",
            "path": "/generate_image",
            "handler": "image_gen:SimpleSD.generate_image",
            "envelope": "input",
        }
    ]
    assert "class SimpleSD: one instance per worker" in notes


def test_a_resource_imported_by_other_modules(run_cli, tmp_path):
    document, notes, _path = imported(run_cli, tmp_path, "shared_resource")

    (key,) = document["endpoints"]
    service = document["endpoints"][key]
    assert key == "user-service"
    assert service["scaling"] == {
        "workers": {"min": 0, "max": 5},
        "idle_timeout": 300,
        "request_count": 8,
    }
    assert service["compute"]["network_volumes"] == ["vol-7f3k2"]
    assert service["env"] == {"LOG_LEVEL": "INFO"}
    assert service["dependencies"] == ["email-validator>=2"]
    assert {r["handler"] for r in service["routes"]} == {
        "handlers.health:health",
        "handlers.users:get_user",
        "handlers.users:create_user",
    }
    assert "imageName='runpod/flash-lb:latest' not translated" in notes


def test_modules_are_parsed_never_imported(run_cli, tmp_path):
    (tmp_path / "app.py").write_text(
        "raise SystemExit('imported!')\n"
        "from runpod_flash import Endpoint\n"
        "api = Endpoint(name='boom', cpu='cpu5c-2-4')\n\n"
        "@api.get('/x')\n"
        "def x():\n"
        "    return 1\n"
    )
    before = set(sys.modules)

    result = run_cli("import-flash", str(tmp_path), "--project", "boom")

    assert result.exit_code == 0, result
    assert "app" not in set(sys.modules) - before
    assert "Everything in" in (tmp_path / "flash.yaml").read_text()
