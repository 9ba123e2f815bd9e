"""What the emulator's `GET /v2/catalog/*` returns: RunPod's catalog from flashctl/catalog.py.

GPU types, pools, memory, CPU flavors and data center ids are flashctl's catalog; prices, stock
ceilings, regions, compliance, network features, where each type is offered, stock levels and
CUDA versions are illustrative (stable: a function of the ids). The emulator also uses these
tables to reject unknown pools, flavors and data centers the way RunPod does.

The query parameters are those of RunPod's OpenAPI document (see `catalog_query.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from flashctl import catalog
from flashctl.emulator.catalog_query import CpuQuery, DataCenterQuery, GpuQuery

# Illustrative serverless $/h per GPU of each pool (RunPod prices serverless GPUs per pool).
_POOL_PRICE = {
    "AMPERE_16": 0.58,
    "AMPERE_24": 0.69,
    "ADA_24": 1.1,
    "ADA_32_PRO": 1.58,
    "AMPERE_48": 1.22,
    "ADA_48_PRO": 1.9,
    "AMPERE_80": 2.72,
    "ADA_80_PRO": 4.18,
    "HOPPER_141": 5.58,
    "BLACKWELL_96": 3.4,
    "BLACKWELL_180": 8.64,
}
_MAX_VCPUS = catalog.CPU_VCPUS[-1]
# RunPod's data center ids start with a region code.
_REGIONS = {
    "US": "NORTH_AMERICA",
    "CA": "NORTH_AMERICA",
    "EU": "EUROPE",
    "EUR": "EUROPE",
    "AP": "ASIA",
    "OC": "OCEANIA",
}

GPU_POOLS: dict[str, list[str]] = {pool: list(ids) for pool, ids in catalog.POOL_TYPES.items()}
# Flavors an endpoint may use: (max vCPUs, RAM GB per vCPU).
CPU_FLAVORS: dict[str, tuple[int, float]] = {
    flavor.id: (_MAX_VCPUS, flavor.ram_gb_per_vcpu)
    for flavor in catalog.CPU_FLAVOR_TYPES
    if flavor.serverless
}
DATA_CENTER_IDS = list(catalog.DATA_CENTERS)


def gpus(query: GpuQuery | None = None) -> dict[str, Any]:
    listed = []
    for gpu in catalog.GPU_TYPES:
        entry = _gpu(gpu)
        if query is not None and query.include:
            if query.countries and not _offering_dcs(gpu, query.countries):
                continue  # no data center in those countries offers it
            entry.update(gpu_availability(gpu, query))
        listed.append(entry)
    return {"gpus": listed}


def _gpu(gpu: catalog.GpuType) -> dict[str, Any]:
    return {
        "id": gpu.id,
        "name": gpu.name,
        "pool": gpu.pool,
        "manufacturer": "NVIDIA",
        "memory": gpu.memory_gb,
        "secure": True,
        "community": gpu.memory_gb <= 48,
        "price": {
            "secure": round(_POOL_PRICE[gpu.pool] * 0.4, 2),
            "community": round(_POOL_PRICE[gpu.pool] * 0.3, 2),
            "serverless": _POOL_PRICE[gpu.pool],
        },
        "maxCount": {"secure": 8, "community": 4 if gpu.memory_gb <= 48 else 0},
    }


def cpus(query: CpuQuery | None = None) -> dict[str, Any]:
    listed = []
    for flavor in catalog.CPU_FLAVOR_TYPES:
        entry = _cpu(flavor)
        if query is not None and query.include:
            entry.update(cpu_availability(flavor, query))
        listed.append(entry)
    return {"cpus": listed}


def _cpu(flavor: catalog.CpuFlavor) -> dict[str, Any]:
    return {
        "id": flavor.id,
        "name": flavor.name,
        "group": flavor.group,
        "vcpu": {"min": catalog.CPU_VCPUS[0], "max": _MAX_VCPUS},
        "ramGbPerVcpu": flavor.ram_gb_per_vcpu,
        "price": {
            "securePerVcpu": 0.04,
            # 0: serverless endpoints cannot use this flavor.
            "serverlessPerVcpu": 0.03 if flavor.serverless else 0,
        },
    }


def datacenters(query: DataCenterQuery | None = None) -> dict[str, Any]:
    query = query or DataCenterQuery()
    listed = []
    for dc_id in catalog.DATA_CENTERS:
        entry = _data_center(dc_id)
        if query.regions and entry["region"] not in query.regions:
            continue  # OR within the filter
        if not set(query.volume_types) <= set(entry["networkVolumeTypes"]):
            continue  # AND within the filter
        if not set(query.compliance) <= set(entry["compliance"]):
            continue
        if query.global_network is not None and entry["globalNetwork"] != query.global_network:
            continue
        if "GPU_AVAILABILITY" in query.include:
            offered = [
                {"id": g.id, "name": g.name, "availability": _level(g.id, dc_id)}
                for g in catalog.GPU_TYPES
                if _offers(g, dc_id)
            ]
            if offered:
                entry["gpuAvailability"] = offered
        if "CPU_AVAILABILITY" in query.include:
            entry["cpuAvailability"] = [
                {"id": f.id, "name": f.name, "availability": _level(f.id, dc_id)}
                for f in catalog.CPU_FLAVOR_TYPES
            ]
        listed.append(entry)
    return {"dataCenters": listed}


def _data_center(dc_id: str) -> dict[str, Any]:
    region = _REGIONS.get(dc_id.split("-")[0], "UNKNOWN")
    compliance = ["SOC_2_TYPE_2"] + (["GDPR", "ISO_IEC_27001"] if region == "EUROPE" else [])
    return {
        "id": dc_id,
        "name": dc_id,
        "region": region,
        "globalNetwork": dc_id.startswith("US-"),
        "networkVolumeTypes": ["STANDARD", "HIGH_PERFORMANCE"]
        if _stable(dc_id, 3) == 0
        else ["STANDARD"],
        "compliance": compliance,
    }


def country(dc_id: str) -> str:
    """The ISO 3166 country of a data center: `US-KS-2` is in US, `EU-RO-1` in RO.

    >>> country("US-KS-2"), country("EUR-IS-1"), country("AP-JP-1")
    ('US', 'IS', 'JP')
    """
    parts = dc_id.split("-")
    return parts[1] if parts[0] in ("EU", "EUR", "AP", "OC") else parts[0]


# -- availability (include=AVAILABILITY) -----------------------------------------------------

_LEVELS = ("NONE", "LOW", "MEDIUM", "HIGH")
# CUDA versions on the machines of each GPU generation, oldest first.
_CUDA = ("11.8", "12.1", "12.4", "12.6", "12.8")


def _stable(text: str, modulo: int) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % modulo


def _level(resource: str, dc_id: str) -> str:
    """The stock of a GPU type or CPU flavor in a data center: mostly some, sometimes none."""
    return ("NONE", "LOW", "MEDIUM", "HIGH", "HIGH")[_stable(f"{resource}|{dc_id}", 5)]


def _offers(gpu: catalog.GpuType, dc_id: str) -> bool:
    """The largest GPUs are in US data centers only; the rest everywhere."""
    return gpu.memory_gb < 141 or dc_id.startswith("US-")


def _offering_dcs(gpu: catalog.GpuType, countries: tuple[str, ...]) -> list[str]:
    return [
        dc_id
        for dc_id in catalog.DATA_CENTERS
        if _offers(gpu, dc_id) and (not countries or country(dc_id) in countries)
    ]


def _cuda_versions(gpu: catalog.GpuType) -> tuple[str, ...]:
    return _CUDA[-1:] if gpu.pool.startswith("BLACKWELL") or "5090" in gpu.id else _CUDA


def gpu_availability(gpu: catalog.GpuType, query: GpuQuery) -> dict[str, Any]:
    """`availability`, `dataCenters` and `cudaVersions` of one GPU type for `query`."""
    products_ok = any(p != "CLUSTER" or gpu.memory_gb >= 80 for p in query.products)
    max_count = 8 if query.cloud == "SECURE" else (4 if gpu.memory_gb <= 48 else 0)
    versions = [
        v for v in _cuda_versions(gpu) if _cuda_matches(v, query.cuda_versions, query.min_cuda)
    ]
    possible = products_ok and query.count <= max_count and bool(versions)
    found, overall = _offered(gpu.id, _offering_dcs(gpu, query.countries) if possible else ())
    if versions:
        found["cudaVersions"] = [
            {"version": v, "available": overall > 0 and _stable(gpu.id + v, 4) != 0}
            for v in versions
        ]
    return found


def cpu_availability(flavor: catalog.CpuFlavor, query: CpuQuery) -> dict[str, Any]:
    """`availability` and `dataCenters` of one CPU flavor for `query`."""
    possible = (flavor.serverless or "POD" in query.products) and (
        query.vcpus is None or query.vcpus <= _MAX_VCPUS
    )
    found, _ = _offered(flavor.id, catalog.DATA_CENTERS if possible else ())
    return found


def _offered(item_id: str, dc_ids: Iterable[str]) -> tuple[dict[str, Any], int]:
    """`availability` (the best level over `dc_ids`) and the `dataCenters` offering `item_id`,
    with the index of that best level in `_LEVELS`."""
    centers = [
        {"id": dc_id, "name": dc_id, "availability": _level(item_id, dc_id)} for dc_id in dc_ids
    ]
    centers = [c for c in centers if c["availability"] != "NONE"]
    overall = max((_LEVELS.index(c["availability"]) for c in centers), default=0)
    found: dict[str, Any] = {"availability": _LEVELS[overall]}
    if centers:
        found["dataCenters"] = centers
    return found, overall


def _cuda_matches(version: str, exact: tuple[str, ...], floor: str | None) -> bool:
    if exact:
        return version in exact
    if floor is None:
        return True
    major, minor = (int(n) for n in version.split("."))
    want = [int(n) for n in floor.split(".")]
    return (major, minor) >= (want[0], want[1] if len(want) > 1 else 0)
