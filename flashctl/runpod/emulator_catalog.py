"""What the emulator's `GET /v2/catalog/*` returns: a plausible slice of RunPod's catalog.

The pools and flavors match the ones flash.yaml accepts; prices and sizes are illustrative.
The emulator also uses these tables to reject unknown pools and flavors the way RunPod does.
"""

from __future__ import annotations

from typing import Any

# (type id, display name, pool, VRAM GB, serverless $/h)
_GPUS = [
    ("NVIDIA RTX A4000", "RTX A4000", "AMPERE_16", 16, 0.58),
    ("NVIDIA RTX A5000", "RTX A5000", "AMPERE_24", 24, 0.69),
    ("NVIDIA L4", "L4", "ADA_24", 24, 0.69),
    ("NVIDIA GeForce RTX 4090", "RTX 4090", "ADA_24", 24, 1.1),
    ("NVIDIA GeForce RTX 5090", "RTX 5090", "ADA_32_PRO", 32, 1.58),
    ("NVIDIA A40", "A40", "AMPERE_48", 48, 1.22),
    ("NVIDIA RTX A6000", "RTX A6000", "AMPERE_48", 48, 1.22),
    ("NVIDIA L40S", "L40S", "ADA_48_PRO", 48, 1.9),
    ("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", "ADA_48_PRO", 48, 1.9),
    ("NVIDIA A100 80GB PCIe", "A100 PCIe", "AMPERE_80", 80, 2.72),
    ("NVIDIA A100-SXM4-80GB", "A100 SXM", "AMPERE_80", 80, 2.72),
    ("NVIDIA H100 PCIe", "H100 PCIe", "ADA_80_PRO", 80, 4.18),
    ("NVIDIA H100 80GB HBM3", "H100 SXM", "ADA_80_PRO", 80, 4.18),
    ("NVIDIA H200", "H200", "HOPPER_141", 141, 5.58),
    ("NVIDIA RTX PRO 6000 Blackwell", "RTX PRO 6000", "BLACKWELL_96", 96, 3.4),
    ("NVIDIA B200", "B200", "BLACKWELL_180", 180, 8.64),
]

# (flavor, name, group, max vCPUs, RAM GB per vCPU)
_CPUS = [
    ("cpu3c", "Compute-Optimized", "Gen 3", 32, 2.0),
    ("cpu3g", "General Purpose", "Gen 3", 32, 4.0),
    ("cpu5c", "Compute-Optimized", "Gen 5", 32, 2.0),
    ("cpu5g", "General Purpose", "Gen 5", 32, 4.0),
]

# (id, name, region, compliance)
_DATA_CENTERS = [
    ("US-KS-2", "US Kansas 2", "NORTH_AMERICA", ["SOC_2_TYPE_2"]),
    ("US-TX-3", "US Texas 3", "NORTH_AMERICA", ["SOC_2_TYPE_2", "ISO_IEC_27001"]),
    ("US-CA-2", "US California 2", "NORTH_AMERICA", ["SOC_2_TYPE_2"]),
    ("CA-MTL-1", "Canada Montreal 1", "NORTH_AMERICA", ["ISO_IEC_27001"]),
    ("EU-RO-1", "Europe Romania 1", "EUROPE", ["GDPR", "ISO_IEC_27001"]),
    ("EU-SE-1", "Europe Sweden 1", "EUROPE", ["GDPR", "RENEWABLE"]),
    ("AP-JP-1", "Asia Japan 1", "ASIA", []),
]

GPU_POOLS: dict[str, list[str]] = {}
for _gpu in _GPUS:
    GPU_POOLS.setdefault(_gpu[2], []).append(_gpu[0])

CPU_FLAVORS: dict[str, tuple[int, float]] = {
    flavor: (max_vcpus, ram) for flavor, _, _, max_vcpus, ram in _CPUS
}
DATA_CENTER_IDS = [dc_id for dc_id, _, _, _ in _DATA_CENTERS]


def gpus() -> dict[str, Any]:
    return {
        "gpus": [
            {
                "id": type_id,
                "name": name,
                "pool": pool,
                "manufacturer": "NVIDIA",
                "memory": memory,
                "secure": True,
                "community": memory <= 48,
                "price": {
                    "secure": round(price * 0.4, 2),
                    "community": round(price * 0.3, 2),
                    "serverless": price,
                },
                "maxCount": {"secure": 8, "community": 4 if memory <= 48 else 0},
            }
            for type_id, name, pool, memory, price in _GPUS
        ]
    }


def cpus() -> dict[str, Any]:
    return {
        "cpus": [
            {
                "id": flavor,
                "name": name,
                "group": group,
                "vcpu": {"min": 2, "max": max_vcpus},
                "ramGbPerVcpu": ram,
                "price": {"securePerVcpu": 0.04, "serverlessPerVcpu": 0.03},
            }
            for flavor, name, group, max_vcpus, ram in _CPUS
        ]
    }


def datacenters() -> dict[str, Any]:
    return {
        "dataCenters": [
            {
                "id": dc_id,
                "name": name,
                "region": region,
                "globalNetwork": region != "ASIA",
                "networkVolumeTypes": ["STANDARD"],
                "compliance": compliance,
            }
            for dc_id, name, region, compliance in _DATA_CENTERS
        ]
    }
