"""What RunPod offers: GPU types and their serverless pools, CPU flavors, data centers, and the
limits flash.yaml is held to. The one copy of these facts: validation, import-flash and the
emulator's `GET /v2/catalog/*` all derive from the tables below.

Kept as data here (not fetched) so `validate` works offline and in CI. Checked on 2026-12-01
against, and tests/test_catalog.py checks them against the copies in tests/data/runpod/:

- GPU type ids, CPU flavor ids, data center ids: the enums of RunPod's REST API document,
  https://rest.runpod.io/v1/openapi.json (`EndpointCreateInput`, `PodCreateInput`).
- GPU display names and memory: https://docs.runpod.io/references/gpu-types ("GPU types").
- Pools: the same page ("GPU pools") and runpod-flash's `GpuGroup`, which name the same members;
  https://docs.runpod.io/flash/configuration/gpu-types adds ADA_32_PRO, BLACKWELL_96 and
  BLACKWELL_180 but puts the L4 in ADA_24 and the RTX A4500 in AMPERE_24, against both.
- CPU flavors: `c` compute-optimized 2 GB per vCPU, `g` general purpose 4 GB per vCPU
  (https://docs.runpod.io/flash/configuration/cpu-types); `m` memory-optimized, 8 GB per vCPU
  (the `ramMultiplier` of RunPod's CPU flavor API), pods only: RunPod's endpoint enum lacks them.
- The CPU disk cap of 10 GB per vCPU follows RunPod's CPU instance table.
"""

from __future__ import annotations

from typing import NamedTuple


class GpuType(NamedTuple):
    id: str  # what RunPod's API takes ("NVIDIA L4")
    name: str  # RunPod's display name
    pool: str  # the serverless pool it belongs to
    memory_gb: int


class CpuFlavor(NamedTuple):
    id: str
    name: str
    group: str
    ram_gb_per_vcpu: int
    serverless: bool  # False: pods only


# Grouped by pool, in the order flash.yaml's messages list the pools.
GPU_TYPES = (
    GpuType("NVIDIA GeForce RTX 4090", "RTX 4090", "ADA_24", 24),
    GpuType("NVIDIA GeForce RTX 5090", "RTX 5090", "ADA_32_PRO", 32),
    GpuType("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", "ADA_48_PRO", 48),
    GpuType("NVIDIA L40", "L40", "ADA_48_PRO", 48),
    GpuType("NVIDIA L40S", "L40S", "ADA_48_PRO", 48),
    GpuType("NVIDIA H100 PCIe", "H100 PCIe", "ADA_80_PRO", 80),
    GpuType("NVIDIA H100 80GB HBM3", "H100 SXM", "ADA_80_PRO", 80),
    GpuType("NVIDIA H100 NVL", "H100 NVL", "ADA_80_PRO", 94),
    GpuType("NVIDIA RTX A4000", "RTX A4000", "AMPERE_16", 16),
    GpuType("NVIDIA RTX A4500", "RTX A4500", "AMPERE_16", 20),
    GpuType("NVIDIA RTX 4000 Ada Generation", "RTX 4000 Ada", "AMPERE_16", 20),
    GpuType("NVIDIA RTX 2000 Ada Generation", "RTX 2000 Ada", "AMPERE_16", 16),
    GpuType("NVIDIA RTX A5000", "RTX A5000", "AMPERE_24", 24),
    GpuType("NVIDIA L4", "L4", "AMPERE_24", 24),
    GpuType("NVIDIA GeForce RTX 3090", "RTX 3090", "AMPERE_24", 24),
    GpuType("NVIDIA A40", "A40", "AMPERE_48", 48),
    GpuType("NVIDIA RTX A6000", "RTX A6000", "AMPERE_48", 48),
    GpuType("NVIDIA A100 80GB PCIe", "A100 PCIe", "AMPERE_80", 80),
    GpuType("NVIDIA A100-SXM4-80GB", "A100 SXM", "AMPERE_80", 80),
    GpuType("NVIDIA H200", "H200 SXM", "HOPPER_141", 141),
    # Not in the GPU types table yet; names ours, memory from the flash GPU types page.
    GpuType("NVIDIA RTX PRO 6000 Blackwell Server Edition", "RTX PRO 6000", "BLACKWELL_96", 96),
    GpuType(
        "NVIDIA RTX PRO 6000 Blackwell Workstation Edition",
        "RTX PRO 6000 Workstation",
        "BLACKWELL_96",
        96,
    ),
    GpuType(
        "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition",
        "RTX PRO 6000 Max-Q",
        "BLACKWELL_96",
        96,
    ),
    GpuType("NVIDIA B200", "B200", "BLACKWELL_180", 180),
)

CPU_FLAVOR_TYPES = (
    CpuFlavor("cpu3c", "Compute-Optimized", "Gen 3", 2, serverless=True),
    CpuFlavor("cpu3g", "General Purpose", "Gen 3", 4, serverless=True),
    CpuFlavor("cpu3m", "Memory-Optimized", "Gen 3", 8, serverless=False),
    CpuFlavor("cpu5c", "Compute-Optimized", "Gen 5", 2, serverless=True),
    CpuFlavor("cpu5g", "General Purpose", "Gen 5", 4, serverless=True),
    CpuFlavor("cpu5m", "Memory-Optimized", "Gen 5", 8, serverless=False),
)

DATA_CENTERS = (
    "AP-JP-1",
    "CA-MTL-1",
    "CA-MTL-2",
    "CA-MTL-3",
    "EU-CZ-1",
    "EU-FR-1",
    "EU-NL-1",
    "EU-RO-1",
    "EU-SE-1",
    "EUR-IS-1",
    "EUR-IS-2",
    "EUR-IS-3",
    "EUR-NO-1",
    "OC-AU-1",
    "US-CA-2",
    "US-DE-1",
    "US-GA-1",
    "US-GA-2",
    "US-IL-1",
    "US-KS-2",
    "US-KS-3",
    "US-NC-1",
    "US-TX-1",
    "US-TX-3",
    "US-TX-4",
    "US-WA-1",
)

GPU_POOLS = tuple(dict.fromkeys(gpu.pool for gpu in GPU_TYPES))
POOL_TYPES: dict[str, tuple[str, ...]] = {
    pool: tuple(gpu.id for gpu in GPU_TYPES if gpu.pool == pool) for pool in GPU_POOLS
}
GPU_COUNT = range(1, 9)  # GPUs per worker

CPU_FLAVORS = tuple(flavor.id for flavor in CPU_FLAVOR_TYPES if flavor.serverless)
CPU_RAM_GB_PER_VCPU = {flavor.id: flavor.ram_gb_per_vcpu for flavor in CPU_FLAVOR_TYPES}
CPU_VCPUS = (2, 4, 8, 16, 32)  # powers of two, as RunPod's CreateCpuConfig requires
CPU_DISK_GB_PER_VCPU = 10

IDLE_TIMEOUT = range(1, 3601)  # seconds
NAME_MAX = 64  # RunPod resource names
