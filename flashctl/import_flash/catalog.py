"""runpod-flash's names for compute, mapped to flash.yaml's: GPU groups are RunPod's pool ids;
GPU types belong to one pool each (per RunPod's pool table); CPU instance types read
`<flavor>-<vcpus>-<memory GB>`."""

from __future__ import annotations

import re

from flashctl.catalog import CPU_VCPUS, GPU_POOLS

POOL_TYPES: dict[str, tuple[str, ...]] = {
    "ADA_24": ("NVIDIA GeForce RTX 4090",),
    "ADA_32_PRO": ("NVIDIA GeForce RTX 5090",),
    "ADA_48_PRO": ("NVIDIA RTX 6000 Ada Generation", "NVIDIA L40", "NVIDIA L40S"),
    "ADA_80_PRO": ("NVIDIA H100 PCIe", "NVIDIA H100 80GB HBM3", "NVIDIA H100 NVL"),
    "AMPERE_16": (
        "NVIDIA RTX A4000",
        "NVIDIA RTX A4500",
        "NVIDIA RTX 4000 Ada Generation",
        "NVIDIA RTX 2000 Ada Generation",
    ),
    "AMPERE_24": ("NVIDIA RTX A5000", "NVIDIA L4", "NVIDIA GeForce RTX 3090"),
    "AMPERE_48": ("NVIDIA A40", "NVIDIA RTX A6000"),
    "AMPERE_80": ("NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM4-80GB"),
    "HOPPER_141": ("NVIDIA H200",),
    "BLACKWELL_96": (
        "NVIDIA RTX PRO 6000 Blackwell Server Edition",
        "NVIDIA RTX PRO 6000 Blackwell Workstation Edition",
        "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition",
    ),
    "BLACKWELL_180": ("NVIDIA B200",),
}
DEFAULT_CPU_INSTANCE = "cpu3g-2-8"  # what runpod-flash's CPU resources use when none is given
CPU_INSTANCE = re.compile(r"^(cpu\d[a-z])-(\d+)-(\d+)$")


def gpu_type(text: str) -> tuple[str, str] | None:
    """`(pool, GPU type)` for a GpuType member name or value.

    >>> gpu_type("NVIDIA_GEFORCE_RTX_4090")
    ('ADA_24', 'NVIDIA GeForce RTX 4090')
    >>> gpu_type("NVIDIA A100-SXM4-80GB")
    ('AMPERE_80', 'NVIDIA A100-SXM4-80GB')
    """
    wanted = _identifier(text)
    for pool, types in POOL_TYPES.items():
        for name in types:
            if _identifier(name) == wanted:
                return pool, name
    return None


def gpu_pool(text: str) -> str | None:
    """The pool id for a GpuGroup member name or value ("ADA_24"), None for others."""
    return text.upper() if text.upper() in GPU_POOLS else None


def cpu_instance(text: str) -> tuple[str, int] | None:
    """`(flavor, vcpus)` for a CpuInstanceType member name or value.

    >>> cpu_instance("CPU3C_1_2"), cpu_instance("cpu5c-4-8")
    (('cpu3c', 1), ('cpu5c', 4))
    """
    match = CPU_INSTANCE.match(text.lower().replace("_", "-"))
    return (match.group(1), int(match.group(2))) if match else None


def allowed_vcpus(vcpus: int) -> int:
    """The smallest vCPU count flash.yaml accepts that is at least `vcpus` (capped at 32)."""
    return next((v for v in CPU_VCPUS if v >= vcpus), CPU_VCPUS[-1])


def _identifier(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")
