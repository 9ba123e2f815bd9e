"""runpod-flash's names for compute, mapped to flash.yaml's: GPU groups are RunPod's pool ids;
GPU types belong to one pool each (flashctl/catalog.py); CPU instance types read
`<flavor>-<vcpus>-<memory GB>`."""

from __future__ import annotations

import re

from flashctl.catalog import CPU_VCPUS, GPU_POOLS, GPU_TYPES

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
    return next(((gpu.pool, gpu.id) for gpu in GPU_TYPES if _identifier(gpu.id) == wanted), None)


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
