"""What RunPod serverless accepts: GPU pools, CPU flavors and their limits.

Kept as data here (not fetched) so `validate` works offline and in CI. Pools and flavors follow
`GET /v2/catalog/gpus|cpus`; the CPU disk cap of 10 GB per vCPU follows RunPod's CPU instance table.
"""

from __future__ import annotations

GPU_POOLS = (
    "ADA_24",
    "ADA_32_PRO",
    "ADA_48_PRO",
    "ADA_80_PRO",
    "AMPERE_16",
    "AMPERE_24",
    "AMPERE_48",
    "AMPERE_80",
    "HOPPER_141",
    "BLACKWELL_96",
    "BLACKWELL_180",
)
GPU_COUNT = range(1, 9)  # GPUs per worker

CPU_FLAVORS = ("cpu3c", "cpu3g", "cpu5c", "cpu5g")
CPU_VCPUS = (2, 4, 8, 16, 32)  # powers of two, as RunPod's CreateCpuConfig requires
CPU_DISK_GB_PER_VCPU = 10

IDLE_TIMEOUT = range(1, 3601)  # seconds
NAME_MAX = 64  # RunPod resource names
