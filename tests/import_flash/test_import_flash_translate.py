"""Translation details of runpod-flash options (pure: source text in, document out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashctl.import_flash.catalog import allowed_vcpus, cpu_instance, gpu_type
from flashctl.import_flash.scan import scan_project
from flashctl.import_flash.translate import translate


def translated(tmp_path: Path, source: str) -> tuple[dict, list[str]]:
    (tmp_path / "worker.py").write_text(source)
    result = translate(scan_project(tmp_path), "demo", ".")
    return result.document["endpoints"], result.notes


def test_workers_as_a_number_means_at_most_that_many(tmp_path):
    endpoints, _ = translated(
        tmp_path,
        "api = Endpoint(name='w', cpu='cpu5c-2-4', workers=5)\n"
        "@api.get('/a')\ndef a():\n    return 1\n",
    )
    assert endpoints["w"]["scaling"]["workers"] == {"min": 0, "max": 5}


def test_module_constants_are_resolved_and_expressions_are_reported(tmp_path):
    endpoints, notes = translated(
        tmp_path,
        "NAME = 'const_api'\nDEPS = ['numpy']\nimport os\n"
        "api = Endpoint(name=NAME, cpu='cpu5c-2-4', dependencies=DEPS,\n"
        "               env={'TOKEN': os.environ['TOKEN'], 'MODE': 'fast'})\n"
        "@api.get('/a')\ndef a():\n    return 1\n",
    )
    endpoint = endpoints["const-api"]
    assert endpoint["dependencies"] == ["numpy"]
    assert endpoint["env"] == {"MODE": "fast"}
    assert any("env TOKEN=os.environ['TOKEN'] not translated" in note for note in notes)


def test_unknown_options_are_listed(tmp_path):
    _, notes = translated(
        tmp_path,
        "api = Endpoint(name='x', cpu='cpu5c-2-4', max_concurrency=4, template=t)\n"
        "@api.get('/a')\ndef a():\n    return 1\n",
    )
    assert any("max_concurrency=4 not translated" in note for note in notes)
    assert any("template=t not translated" in note for note in notes)


def test_endpoint_keys_stay_unique_and_within_runpod_name_limits(tmp_path):
    endpoints, _ = translated(
        tmp_path,
        "a = Endpoint(name='Same Name', cpu='cpu5c-2-4')\n"
        "b = Endpoint(name='same_name', cpu='cpu5c-2-4')\n"
        "c = Endpoint(name='x' * 3 + '_' + 'very_long_' * 8, cpu='cpu5c-2-4')\n"
        "@a.get('/a')\ndef fa():\n    return 1\n"
        "@b.get('/b')\ndef fb():\n    return 1\n"
        "@c.get('/c')\ndef fc():\n    return 1\n",
    )
    assert "same-name" in endpoints and "same-name-2" in endpoints
    assert all(len(key) <= 32 for key in endpoints)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NVIDIA_L4", ("AMPERE_24", "NVIDIA L4")),
        ("NVIDIA_H200", ("HOPPER_141", "NVIDIA H200")),
        ("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", ("BLACKWELL_96", None)),
        ("NVIDIA_TESLA_K80", None),
    ],
)
def test_gpu_types_map_to_their_pool(text: str, expected):
    found = gpu_type(text)
    if expected is None:
        assert found is None
    else:
        assert found is not None and found[0] == expected[0]


def test_cpu_instances_round_up_to_the_vcpus_flash_yaml_offers():
    assert cpu_instance("CPU3G_8_32") == ("cpu3g", 8)
    assert cpu_instance("gpu-1-2") is None
    assert [allowed_vcpus(n) for n in (1, 2, 3, 6, 64)] == [2, 2, 4, 8, 32]


def test_a_call_into_another_endpoints_function_is_reported_not_changed(tmp_path):
    (tmp_path / "gpu.py").write_text(
        "from runpod_flash import Endpoint\n"
        "gpu = Endpoint(name='gpu', gpu='ADA_24')\n"
        "@gpu.post('/embed')\nasync def embed(texts: list) -> dict:\n    return {}\n"
    )
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "tools.py").write_text(
        "from runpod_flash import remote, LiveLoadBalancer\n"
        "tools = LiveLoadBalancer(name='tools')\n"
        "@remote(tools, method='GET', path='/t')\ndef t() -> int:\n    return 1\n"
    )
    endpoints, notes = translated(
        tmp_path,
        "import pkg.tools\nfrom gpu import embed\n"
        "from runpod_flash import Endpoint\n"
        "api = Endpoint(name='api', cpu='cpu5c-2-4')\n"
        "def helper():\n    return 2\n"
        "@api.post('/search')\nasync def search(q: str) -> dict:\n"
        "    vectors = await embed([q])\n"
        "    return {'v': vectors, 'h': helper(), 't': pkg.tools.t()}\n",
    )
    assert endpoints["api"]["routes"] == [
        {"method": "POST", "path": "/search", "handler": "worker:search"}
    ]
    crossing = [note for note in notes if "runs in this endpoint's process" in note]
    assert len(crossing) == 2, notes
    assert crossing[0].startswith("worker.py:9: search() calls embed() of Endpoint 'gpu'")
    assert "pkg.tools.t() of LiveLoadBalancer 'tools'" in crossing[1]


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("", None),  # executionTimeoutMs defaults to 0 in both packages: no cap
        ("execution_timeout_ms=0, ", None),
        ("execution_timeout_ms=90000, ", 90),
        ("execution_timeout_ms=1500, ", 1.5),
    ],
)
def test_execution_timeout_ms_zero_is_no_cap(tmp_path, option: str, expected):
    endpoints, _ = translated(
        tmp_path,
        f"api = Endpoint(name='t', cpu='cpu5c-2-4', {option}workers=2)\n"
        "@api.post('/a')\ndef a():\n    return 1\n",
    )
    assert endpoints["t"]["runtime"] == {"request_timeout": expected, "unknown_keys": "ignore"}


def test_a_timeout_past_runpods_load_balancer_limit_is_kept_and_reported(tmp_path):
    endpoints, notes = translated(
        tmp_path,
        "gpu = LiveLoadBalancer(name='long', executionTimeoutMs=600000)\n"
        "@remote(gpu, method='POST', path='/a')\ndef a():\n    return 1\n",
    )
    assert endpoints["long"]["runtime"] == {"request_timeout": 600, "unknown_keys": "ignore"}
    assert any("ends a request after 5.5 minutes" in note for note in notes)


def test_tetra_rp_projects_get_tetra_rps_defaults_and_runpod_flash_ones_their_own(tmp_path):
    resource = "gpu = LiveLoadBalancer(name='{name}', gpus=[GpuGroup.ADA_24])\n"
    route = "@remote(gpu, method='POST', path='/a')\ndef a():\n    return 1\n"
    (tmp_path / "tetra").mkdir()
    (tmp_path / "tetra" / "worker.py").write_text(
        "from tetra_rp import GpuGroup, LiveLoadBalancer, remote\n"
        + resource.format(name="old")
        + route
    )
    (tmp_path / "flash").mkdir()
    (tmp_path / "flash" / "worker.py").write_text(
        "from runpod_flash import GpuGroup, LiveLoadBalancer, remote\n"
        + resource.format(name="new")
        + route
    )
    endpoints = translate(scan_project(tmp_path), "demo", ".").document["endpoints"]
    # tetra_rp/core/resources/serverless.py: workersMax 3, idleTimeout 5, no minCudaVersion
    assert endpoints["old"]["scaling"] == {"workers": {"min": 0, "max": 3}, "idle_timeout": 5}
    assert endpoints["old"]["compute"]["gpu"] == {"pools": ["ADA_24"]}
    # runpod_flash: DEFAULT_WORKERS_MAX 1, idleTimeout 60 (flash.yaml's too), minCudaVersion 12.8
    assert endpoints["new"]["scaling"] == {"workers": {"min": 0, "max": 1}}
    assert endpoints["new"]["compute"]["gpu"] == {"pools": ["ADA_24"], "min_cuda": "12.8"}


@pytest.mark.parametrize(
    "gpu_ids",
    [
        "['NVIDIA GeForce RTX 4090', 'NVIDIA L40S']",
        "'NVIDIA GeForce RTX 4090,NVIDIA L40S'",
        "[GpuType.NVIDIA_GEFORCE_RTX_4090, GpuType.NVIDIA_L40S]",
    ],
)
def test_a_gpu_ids_list_becomes_those_gpu_types_not_any(tmp_path, gpu_ids: str):
    endpoints, notes = translated(
        tmp_path,
        "from tetra_rp import LiveServerless, remote\n"
        f"gpu = LiveServerless(name='pinned', gpuIds={gpu_ids})\n"
        "@remote(gpu)\ndef a(x: int):\n    return x\n",
    )
    gpu = endpoints["pinned"]["compute"]["gpu"]
    assert gpu["pools"] == ["ADA_24", "ADA_48_PRO"]
    assert "NVIDIA GeForce RTX 4090" not in gpu["exclude"]
    assert "NVIDIA L40S" not in gpu["exclude"]
    assert "NVIDIA L40" in gpu["exclude"]  # the other types of those pools are left out
    assert not any("gpuIds" in note or "gpu ANY" in note for note in notes)
