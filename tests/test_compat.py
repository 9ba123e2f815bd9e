"""runpod-flash / tetra-rp code runs unchanged: the runtime's stand-in for `runpod_flash` and
`tetra_rp` (flashctl_runtime.compat), and a project written like RunPod's examples imported,
served by `flashctl dev` and by its rendered container, in a venv without runpod-flash."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
import pytest
from flashctl_runtime import compat, stand_in

from flashctl import catalog
from flashctl.compiler.pipeline import load_valid_project
from flashctl.render.flows import render_to
from tests.servers import free_port, start_interruptible, stop, wait_for_status
from tests.test_container import served_as_container, venv_with_requirements

FIXTURE = Path(__file__).parent / "import_flash" / "fixtures" / "class_worker"

# endpoint -> (method, path, json body, status, answer); `answer` None: not compared
CALLS = {
    "sentiment-worker": [
        ("POST", "/classify", {"text": "a great day"}, 200, {"label": "positive", "score": 2}),
        ("POST", "/classify", {"text": "awful"}, 200, {"label": "negative", "score": -2}),
        ("POST", "/classify", {"txt": "typo"}, 422, None),
        ("POST", "/stats", {}, 200, {"loads": 1, "words": 4}),  # one instance, loaded once
    ],
    "lb-worker": [
        ("GET", "/health", None, 200, {"status": "healthy"}),
        (
            "POST",
            "/process",
            {"input_data": {"a": 1}},
            200,
            {"status": "success", "echo": {"a": 1}},
        ),
    ],
    "legacy-math": [("POST", "/square", {"numbers": [2, 3]}, 200, {"squares": [4, 9]})],
}

# A "real" runpod_flash first on the path: importing it fails loudly, so a service that
# serves proves the stand-in was used instead.
REAL_PACKAGE = 'raise ImportError("the real {name} was imported: it would call RunPod")\n'


def python_in_subprocess(code: str, *path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in path)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def shadowed_packages(root: Path) -> Path:
    for name in compat.MODULES:
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text(REAL_PACKAGE.format(name=name))
    return root


def test_the_catalog_copy_matches_flashctl_catalog():
    assert stand_in.GPU_POOLS == catalog.GPU_POOLS
    assert tuple(gpu.id for gpu in catalog.GPU_TYPES) == stand_in.GPU_TYPES
    assert stand_in.DATA_CENTERS == catalog.DATA_CENTERS
    assert {
        flavor: catalog.CPU_RAM_GB_PER_VCPU[flavor] for flavor in catalog.CPU_FLAVORS
    } == stand_in.CPU_RAM_GB_PER_VCPU


def test_the_stand_in_keeps_functions_and_classes_and_shadows_the_real_package(tmp_path):
    real = shadowed_packages(tmp_path / "site")
    result = python_in_subprocess(
        """
        from flashctl_runtime import compat
        from flashctl_runtime.stand_in import NotServedHere
        compat.install()
        import runpod_flash, tetra_rp
        from runpod_flash import (CpuInstanceType, DataCenter, Endpoint, GpuGroup, GpuType,
            LiveLoadBalancer, LiveServerless, remote)

        def f(x): return x
        class C: pass
        gpu = LiveLoadBalancer(name="x", gpus=[GpuGroup.ADA_24], workersMax=3, anything=object())
        api = Endpoint(name="api", gpu=GpuType.NVIDIA_GEFORCE_RTX_4090, workers=(0, 3))
        assert remote(gpu, method="POST", path="/f")(f) is f
        assert remote(f) is f and remote(C) is C
        assert remote(resource_config=LiveServerless(name="q"), dependencies=["x"])(C) is C
        assert Endpoint(name="q", cpu="cpu3c-1-2")(C) is C
        for route in (api.get, api.post, api.put, api.delete, api.patch):
            assert route("/p")(f) is f
        assert gpu.workersMax == 3 and api.name == "api"
        assert GpuGroup.ADA_24.value == "ADA_24" and GpuGroup.ANY.value == "any"
        assert GpuType.NVIDIA_GEFORCE_RTX_4090.value == "NVIDIA GeForce RTX 4090"
        assert CpuInstanceType.CPU3C_1_2.value == "cpu3c-1-2"
        assert CpuInstanceType("cpu5c-4-8") is CpuInstanceType.CPU5C_4_8
        assert DataCenter.EU_RO_1 == "EU-RO-1"
        assert GpuType.NVIDIA_GTX_9090.name == "NVIDIA_GTX_9090"  # a newer GPU still resolves
        assert "ADA_24" in [m.name for m in GpuGroup]
        assert tetra_rp.remote is runpod_flash.remote
        try:
            Endpoint(id="abc123").post("/v1/completions", {"prompt": "hi"})
        except NotServedHere as err:
            print("refused:", err)
        """,
        real,
    )
    assert result.returncode == 0, result.stderr
    assert "would call another RunPod endpoint over the network" in result.stdout


def test_other_modules_are_not_touched(tmp_path):
    result = python_in_subprocess(
        """
        import sys
        from flashctl_runtime import compat
        compat.install()
        import json, runpod_flash
        assert json.__spec__.origin.endswith("json/__init__.py")
        try:
            import runpod_flash.core
        except ModuleNotFoundError:
            print("no submodules")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "no submodules" in result.stdout


@pytest.mark.parametrize("distribution", ["runpod-flash", "tetra-rp"])
def test_this_venv_has_no_runpod_flash(distribution):
    # the end-to-end tests below would prove nothing if the real package were installed
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution(distribution)


@pytest.fixture
def imported_project(run_cli, tmp_path: Path) -> Path:
    project = tmp_path / "class_worker"
    shutil.copytree(FIXTURE, project)
    result = run_cli("import-flash", str(project))
    assert result.exit_code == 0, result
    return project / "flash.yaml"


def call_each(base: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for method, path, body, status, answer in CALLS[base.rsplit("/", 1)[-1]]:
            response = client.request(method, path, json=body)
            assert response.status_code == status, (method, path, response.text)
            if answer is not None:
                assert response.json() == answer, (method, path)


def serves_under_dev(
    flash_yaml: Path, tmp_path: Path, endpoints: Iterable[str], call: Callable[[str, str], None]
) -> None:
    """`flashctl dev` on an imported project, runpod-flash shadowed by its stand-ins: once every
    endpoint's /ping is 200, ``call(endpoint URL, endpoint)`` for each; no traceback printed."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(shadowed_packages(tmp_path / "site"))}
    command = [sys.executable, "-m", "flashctl", "-f", str(flash_yaml), "dev"]
    dev = start_interruptible(
        [*command, "--port", str(port), "--no-reload"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for endpoint in endpoints:
            wait_for_status(f"{base}/{endpoint}/ping", 200, timeout=60, process=dev)
        for endpoint in endpoints:
            call(f"{base}/{endpoint}", endpoint)
    finally:
        output = stop(dev)
    assert "Traceback" not in output, output


@pytest.mark.slow
def test_an_imported_runpod_flash_project_serves_under_dev(imported_project, tmp_path):
    serves_under_dev(imported_project, tmp_path, CALLS, lambda url, _endpoint: call_each(url))


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", ["sentiment-worker", "legacy-math"])
def test_the_rendered_container_of_an_imported_project_serves(imported_project, endpoint, tmp_path):
    out = tmp_path / "build"
    render_to(load_valid_project(imported_project, variables={}, environment=None), out)
    context = out / endpoint
    assert "runpod" not in (context / "requirements.txt").read_text()
    python = venv_with_requirements(tmp_path / "venv", context)
    missing = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('runpod_flash'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert missing.stdout.strip() == "None"  # the container has no runpod-flash
    with (
        served_as_container(context, python) as served,
        httpx.Client(base_url=served.base, timeout=10) as client,
    ):
        for method, path, body, status, answer in CALLS[endpoint]:
            response = client.request(method, path, json=body)
            assert response.status_code == status, (method, path, response.text)
            if answer is not None:
                assert response.json() == answer, (method, path)
