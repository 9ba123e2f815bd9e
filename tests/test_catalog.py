"""flashctl/catalog.py against RunPod's published catalog kept in tests/data/runpod/:
catalog-enums.json (the enums of RunPod's API document, from scripts/extract_runpod_catalog.py)
and gpu-pools.json (RunPod's GPU types and pools tables, transcribed). Every difference is listed
below with its reason; a new GPU, flavor or data center at RunPod shows up here as a failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flashctl import catalog
from flashctl.emulator import catalog as emulator_catalog
from flashctl.import_flash import catalog as import_catalog

DATA = Path(__file__).parent / "data" / "runpod"

_POD_ONLY = "in no serverless pool (RunPod's GPU pools table): pods only"
# GPU type ids of RunPod's endpoint enum that flashctl's table leaves out, and why.
NOT_IN_TABLE = {
    "AMD Instinct MI300X OAM": _POD_ONLY,
    "NVIDIA A30": _POD_ONLY,
    "NVIDIA A5000 Ada": _POD_ONLY,
    "NVIDIA GeForce RTX 3070": _POD_ONLY,
    "NVIDIA GeForce RTX 3080": _POD_ONLY,
    "NVIDIA GeForce RTX 3080 Ti": _POD_ONLY,
    "NVIDIA GeForce RTX 3090 Ti": _POD_ONLY,
    "NVIDIA GeForce RTX 4070 Ti": _POD_ONLY,
    "NVIDIA GeForce RTX 4080": _POD_ONLY,
    "NVIDIA GeForce RTX 4080 SUPER": _POD_ONLY,
    "NVIDIA GeForce RTX 5080": _POD_ONLY,
    "NVIDIA H200 NVL": _POD_ONLY,
    "NVIDIA RTX 4000 SFF Ada Generation": _POD_ONLY,
    "NVIDIA RTX 5000 Ada Generation": _POD_ONLY,
    "NVIDIA RTX A2000": _POD_ONLY,
    "Tesla T4": _POD_ONLY,
    "Tesla V100-FHHL-16GB": _POD_ONLY,
    "Tesla V100-PCIE-16GB": _POD_ONLY,
    "Tesla V100-PCIE-32GB": _POD_ONLY,
    "Tesla V100-SXM2-16GB": _POD_ONLY,
    "Tesla V100-SXM2-32GB": _POD_ONLY,
    "NVIDIA  RTX A4500": "a second spelling of 'NVIDIA RTX A4500' (two spaces; runpod/docs#633)",
    "NVIDIA  A30": "a second spelling of 'NVIDIA A30' (two spaces)",
    "NVIDIA GeForce RTX 3080TI": "a second spelling of 'NVIDIA GeForce RTX 3080 Ti'",
    "NVIDIA RTX A30": "a second spelling of 'NVIDIA A30'",
}
# GPU types of the table missing from RunPod's GPU types table (dated in gpu-pools.json); their
# memory comes from the flash GPU types page, their display names are flashctl's.
NOT_IN_GPU_TYPES_TABLE = {
    "NVIDIA RTX PRO 6000 Blackwell Server Edition",
    "NVIDIA RTX PRO 6000 Blackwell Workstation Edition",
    "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition",
}
# Where the flash GPU types page disagrees with RunPod's GPU pools table and runpod-flash's
# GpuGroup, which flashctl follows: (the page's pool, flashctl's pool), None = not listed.
FLASH_PAGE_DISAGREES = {
    "NVIDIA L4": ("ADA_24", "AMPERE_24"),
    "NVIDIA RTX A4500": ("AMPERE_24", "AMPERE_16"),
    "NVIDIA H100 PCIe": (None, "ADA_80_PRO"),
    "NVIDIA H100 NVL": (None, "ADA_80_PRO"),
}


@pytest.fixture(scope="module")
def enums() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "catalog-enums.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def published() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "gpu-pools.json").read_text(encoding="utf-8"))
    return data


def test_gpu_types_are_runpods_serverless_ids_and_every_other_id_is_explained(
    enums: dict[str, Any],
) -> None:
    published = enums["serverless"]["gpuTypeIds"]
    ours = [gpu.id for gpu in catalog.GPU_TYPES]

    assert len(set(ours)) == len(ours)
    assert sorted(set(ours) - set(published)) == []
    assert sorted(set(published) - set(ours)) == sorted(NOT_IN_TABLE)


def test_pools_are_runpods_pool_table(published: dict[str, Any]) -> None:
    # Pools the GPU pools table lists come from it; the newer ones from the flash page.
    expected = {
        gpu_id: pool
        for source in ("flash_pools", "pools")
        for pool, ids in published[source].items()
        for gpu_id in ids
    }

    assert {gpu.id: gpu.pool for gpu in catalog.GPU_TYPES} == expected
    assert set(catalog.GPU_POOLS) == set(published["pools"]) | set(published["flash_pools"])


def test_the_flash_pages_disagreements_are_the_listed_ones(published: dict[str, Any]) -> None:
    page = {gpu_id: pool for pool, ids in published["flash_pools"].items() for gpu_id in ids}
    ours = {gpu.id: gpu.pool for gpu in catalog.GPU_TYPES}

    disagreements = {
        gpu_id: (page.get(gpu_id), pool)
        for gpu_id, pool in ours.items()
        if page.get(gpu_id) != pool
    }

    assert disagreements == FLASH_PAGE_DISAGREES


def test_names_and_memory_are_runpods_gpu_types_table(published: dict[str, Any]) -> None:
    table = published["gpu_types"]
    for gpu in catalog.GPU_TYPES:
        if gpu.id in NOT_IN_GPU_TYPES_TABLE:
            assert gpu.id not in table
            assert gpu.memory_gb == published["flash_memory_gb"][gpu.id]
        else:
            assert [gpu.name, gpu.memory_gb] == table[gpu.id], gpu.id


def test_cpu_flavors_are_runpods_and_endpoints_take_the_serverless_ones(
    enums: dict[str, Any],
) -> None:
    assert sorted(flavor.id for flavor in catalog.CPU_FLAVOR_TYPES) == sorted(
        enums["pods"]["cpuFlavorIds"]
    )
    assert sorted(catalog.CPU_FLAVORS) == sorted(enums["serverless"]["cpuFlavorIds"])


def test_data_centers_are_runpods(enums: dict[str, Any]) -> None:
    assert sorted(catalog.DATA_CENTERS) == sorted(enums["serverless"]["dataCenterIds"])
    assert sorted(catalog.DATA_CENTERS) == sorted(enums["pods"]["dataCenterIds"])


def test_the_published_data_names_its_source(enums: dict[str, Any]) -> None:
    assert enums["source"] == "https://rest.runpod.io/v1/openapi.json"
    assert enums["extracted"]


@pytest.mark.parametrize("gpu", catalog.GPU_TYPES, ids=lambda gpu: gpu.id)
def test_validation_import_flash_and_the_emulator_put_a_gpu_type_in_one_pool(
    gpu: catalog.GpuType,
) -> None:
    member = import_catalog.gpu_type(gpu.id.upper().replace(" ", "_").replace("-", "_"))

    assert member == (gpu.pool, gpu.id)
    assert gpu.pool in catalog.GPU_POOLS
    assert gpu.id in emulator_catalog.GPU_POOLS[gpu.pool]
    assert [
        (listed["pool"], listed["memory"])
        for listed in emulator_catalog.gpus()["gpus"]
        if listed["id"] == gpu.id
    ] == [(gpu.pool, gpu.memory_gb)]


def test_the_emulator_lists_every_cpu_flavor_but_endpoints_take_only_serverless_ones() -> None:
    listed = {cpu["id"]: cpu["ramGbPerVcpu"] for cpu in emulator_catalog.cpus()["cpus"]}

    assert listed == {f.id: f.ram_gb_per_vcpu for f in catalog.CPU_FLAVOR_TYPES}
    assert sorted(emulator_catalog.CPU_FLAVORS) == sorted(catalog.CPU_FLAVORS)
    assert "cpu3m" in listed and "cpu3m" not in emulator_catalog.CPU_FLAVORS


def test_the_emulator_lists_every_data_center() -> None:
    listed = [dc["id"] for dc in emulator_catalog.datacenters()["dataCenters"]]

    assert listed == list(catalog.DATA_CENTERS)
    assert list(catalog.DATA_CENTERS) == emulator_catalog.DATA_CENTER_IDS


def _extract(tmp_path: Path, document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(document), encoding="utf-8")
    script = Path(__file__).parents[1] / "scripts" / "extract_runpod_catalog.py"
    return subprocess.run(
        [sys.executable, str(script), str(source), "-o", str(tmp_path / "out.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_extraction_script_keeps_both_products_enums_and_the_source(tmp_path: Path) -> None:
    def body(*flavors: str) -> dict[str, Any]:
        enum = {"type": "array", "items": {"type": "string", "enum": list(flavors)}}
        return {"properties": {"cpuFlavorIds": enum, "gpuTypeIds": {"type": "array"}}}

    document = {
        "servers": [{"url": "https://rest.runpod.io/v1"}],
        "info": {"title": "Runpod API", "version": "0.1.0"},
        "components": {
            "schemas": {
                "EndpointCreateInput": body("cpu3c"),
                "PodCreateInput": body("cpu3c", "cpu3m"),
            }
        },
    }

    result = _extract(tmp_path, document)

    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert written["source"] == "https://rest.runpod.io/v1/openapi.json"
    assert written["serverless"] == {"cpuFlavorIds": ["cpu3c"]}
    assert written["pods"] == {"cpuFlavorIds": ["cpu3c", "cpu3m"]}


def test_the_extraction_script_refuses_a_document_without_the_enums(tmp_path: Path) -> None:
    result = _extract(tmp_path, {"servers": [{"url": "https://api.runpod.io"}], "components": {}})

    assert result.returncode == 1
    assert "no enum of gpuTypeIds" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.json").exists()
