"""Container resources from the `compute` block, and Kubernetes quantities.

- `cpu: [{flavor, vcpus}, ...]`: the first configuration; requests and limits alike (Guaranteed
  QoS, RunPod's vCPUs are dedicated) of `cpu: vcpus` and `memory: vcpus x RAM per vCPU`. RAM per
  vCPU follows RunPod's CPU flavors (flashctl/catalog.py): cpu3c and cpu5c (compute-optimized)
  2 GB, cpu3g and cpu5g (general purpose) 4 GB.
- `gpu: {count}`: requests `cpu: 2 x count`, `memory: 8Gi x count`; limits `memory: 16Gi x count`
  (room for a model load's peak) and `nvidia.com/gpu: count`; no CPU limit, so data loading is
  never throttled.

`kubernetes.resources` is merged over the result, per resource name.
"""

from __future__ import annotations

import re
from fractions import Fraction

from flashctl.catalog import CPU_RAM_GB_PER_VCPU
from flashctl.kubernetes import names
from flashctl.model import Endpoint

GPU_RESOURCE = "nvidia.com/gpu"
GPU_CPU_PER_GPU = 2
GPU_MEMORY_REQUEST_GI = 8
GPU_MEMORY_LIMIT_GI = 16
# Resources the scheduler may overcommit (request below limit); all others need request == limit.
OVERCOMMITTABLE = ("cpu", "memory", "ephemeral-storage")

Resources = dict[str, dict[str, str]]

_QUANTITY = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?\d+)?\Z", re.ASCII)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"m": -1, "": 0, "k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


def parse_quantity(text: str) -> Fraction | None:
    """The value of a non-negative Kubernetes quantity, or None when `text` is not one.

    >>> [parse_quantity(q) for q in ("500m", "2Gi", "1e3", "2 GB")]
    [Fraction(1, 2), Fraction(2147483648, 1), Fraction(1000, 1), None]
    """
    match = _QUANTITY.match(text)
    if match is None:
        return None
    number, suffix = Fraction(match.group(1)), match.group(2) or ""
    if suffix in _BINARY:
        return number * 1024 ** _BINARY[suffix]
    if suffix[:1] in ("e", "E"):
        return number * Fraction(10) ** int(suffix[1:])
    return number * Fraction(1000) ** _DECIMAL[suffix]


def resource_name(name: str) -> str | None:
    """None for a resource name a container may ask for, else what to write instead."""
    if name in OVERCOMMITTABLE or re.fullmatch(r"hugepages-\S+", name):
        return None
    if "/" in name and names.qualified_name(name) is None:
        return None
    return (
        "use cpu, memory, ephemeral-storage, hugepages-<size>"
        " or a vendor resource such as nvidia.com/gpu"
    )


def derived(endpoint: Endpoint) -> Resources:
    """Requests and limits from `compute` alone (see the module docstring)."""
    gpu, cpu = endpoint.compute.gpu, endpoint.compute.cpu
    if gpu is not None:
        return {
            "requests": {
                "cpu": str(GPU_CPU_PER_GPU * gpu.per_worker),
                "memory": f"{GPU_MEMORY_REQUEST_GI * gpu.per_worker}Gi",
            },
            "limits": {
                "memory": f"{GPU_MEMORY_LIMIT_GI * gpu.per_worker}Gi",
                GPU_RESOURCE: str(gpu.per_worker),
            },
        }
    if cpu:
        first = cpu[0]
        sized = {
            "cpu": str(first.vcpus),
            "memory": f"{first.vcpus * CPU_RAM_GB_PER_VCPU.get(first.flavor, 2)}Gi",
        }
        return {"requests": dict(sized), "limits": dict(sized)}
    return {"requests": {}, "limits": {}}


def container_resources(endpoint: Endpoint) -> Resources:
    """`derived(endpoint)` with `kubernetes.resources` merged over it, names sorted."""
    resources = derived(endpoint)
    resources["requests"].update(endpoint.kubernetes.requests)
    resources["limits"].update(endpoint.kubernetes.limits)
    return {kind: dict(sorted(values.items())) for kind, values in resources.items()}


def conflicts(resources: Resources) -> list[tuple[str, str]]:
    """`(resource name, reason)` for each request the API server would refuse."""
    found = []
    requests, limits = resources["requests"], resources["limits"]
    for name, request in requests.items():
        limit = limits.get(name)
        want = parse_quantity(request)
        cap = None if limit is None else parse_quantity(limit)
        if want is None or (limit is not None and cap is None):
            continue  # not a quantity: reported as such
        if cap is None:
            if name not in OVERCOMMITTABLE:
                found.append((name, f"requests.{name} needs a limit too: set limits.{name}"))
        elif name not in OVERCOMMITTABLE and want != cap:
            found.append((name, f"requests.{name} ({request}) must equal limits.{name} ({limit})"))
        elif want > cap:
            found.append((name, f"requests.{name} ({request}) exceeds limits.{name} ({limit})"))
    return found
