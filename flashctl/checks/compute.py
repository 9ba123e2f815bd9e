"""`compute`: exactly one of `gpu` or `cpu`; known GPU pools and CPU flavors (with a did-you-mean);
1 to 8 GPUs per worker; vCPUs a power of two from 2 to 32; container disk within the CPU flavor's
limit (10 GB per vCPU)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from flashctl import catalog
from flashctl.compiler.document import Document
from flashctl.model import Endpoint, Project
from flashctl.problems import Problem

ID = "compute"


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        yield from _endpoint(endpoint, document)


def _endpoint(endpoint: Endpoint, document: Document) -> Iterator[Problem]:
    at = ("endpoints", endpoint.key, "compute")
    compute = endpoint.compute
    if compute.gpu and compute.cpu:
        yield document.problem(
            at, ID, "both `gpu` and `cpu` are set: an endpoint runs on one of them; remove one"
        )
    elif not compute.gpu and not compute.cpu:
        yield document.problem(
            at,
            ID,
            "no instance type: set `compute.gpu` (e.g. {pools: [ADA_24]})"
            " or `compute.cpu` (e.g. [{flavor: cpu5c, vcpus: 2}])",
        )
    if compute.gpu:
        for i, pool in enumerate(compute.gpu.pools):
            if pool not in catalog.GPU_POOLS:
                yield document.problem(
                    (*at, "gpu", "pools", i),
                    ID,
                    f"unknown GPU pool '{pool}'{_suggest(pool, catalog.GPU_POOLS)};"
                    f" known pools: {', '.join(catalog.GPU_POOLS)}",
                )
        if compute.gpu.per_worker not in catalog.GPU_COUNT:
            yield document.problem(
                (*at, "gpu", "count"),
                ID,
                f"{compute.gpu.per_worker} GPUs per worker is out of range: use 1 to 8",
            )
    for i, cpu in enumerate(compute.cpu):
        if cpu.flavor not in catalog.CPU_FLAVORS:
            yield document.problem(
                (*at, "cpu", i, "flavor"),
                ID,
                f"unknown CPU flavor '{cpu.flavor}'{_suggest(cpu.flavor, catalog.CPU_FLAVORS)};"
                f" known flavors: {', '.join(catalog.CPU_FLAVORS)}",
            )
        if cpu.vcpus not in catalog.CPU_VCPUS:
            yield document.problem(
                (*at, "cpu", i, "vcpus"),
                ID,
                f"{cpu.vcpus} vCPUs is not offered: use one of"
                f" {', '.join(map(str, catalog.CPU_VCPUS))}",
            )
    if compute.cpu:
        smallest = min(c.vcpus for c in compute.cpu)
        limit = smallest * catalog.CPU_DISK_GB_PER_VCPU
        if smallest > 0 and compute.disk_gb > limit:
            yield document.problem(
                (*at, "disk_gb"),
                ID,
                f"disk_gb {compute.disk_gb} exceeds the {limit} GB a {smallest}-vCPU CPU worker"
                f" can have ({catalog.CPU_DISK_GB_PER_VCPU} GB per vCPU): lower it or add vCPUs",
            )


def _suggest(word: str, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word.upper(), options, n=1, cutoff=0.5)
    close = close or difflib.get_close_matches(word.lower(), options, n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""
