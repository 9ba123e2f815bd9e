"""What the emulator's `GET /v2/catalog/*` returns: RunPod's catalog from flashctl/catalog.py.

GPU types, pools, memory, CPU flavors and data center ids are flashctl's catalog; prices, stock
ceilings, regions and network features are illustrative. The emulator also uses these tables to
reject unknown pools, flavors and data centers the way RunPod does.
"""

from __future__ import annotations

from typing import Any

from flashctl import catalog

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


def gpus() -> dict[str, Any]:
    return {
        "gpus": [
            {
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
            for gpu in catalog.GPU_TYPES
        ]
    }


def cpus() -> dict[str, Any]:
    return {
        "cpus": [
            {
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
            for flavor in catalog.CPU_FLAVOR_TYPES
        ]
    }


def datacenters() -> dict[str, Any]:
    return {
        "dataCenters": [
            {
                "id": dc_id,
                "name": dc_id,
                "region": _REGIONS.get(dc_id.split("-")[0], "UNKNOWN"),
                "globalNetwork": dc_id.startswith("US-"),
                "networkVolumeTypes": ["STANDARD"],
                "compliance": [],
            }
            for dc_id in catalog.DATA_CENTERS
        ]
    }
