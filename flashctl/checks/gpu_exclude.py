"""`gpu-exclude`: what RunPod refuses in `compute.gpu.exclude`: a GPU type given twice (RunPod
trims surrounding spaces, so " NVIDIA L40" is "NVIDIA L40"), a type that is not in one of the
listed pools (a typo would otherwise be a filter that does nothing), and exclusions that leave no
GPU type in the pools."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from flashctl import catalog
from flashctl.compiler.document import Document
from flashctl.model import Project
from flashctl.problems import Problem

ID = "gpu-exclude"

_POOL_OF = {gpu.id: gpu.pool for gpu in catalog.GPU_TYPES}


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        gpu = endpoint.compute.gpu
        if gpu is None or not gpu.exclude:
            continue
        at = ("endpoints", endpoint.key, "compute", "gpu", "exclude")
        known_pools = all(pool in catalog.POOL_TYPES for pool in gpu.pools)  # else `compute`
        in_pools = [t for pool in gpu.pools for t in catalog.POOL_TYPES.get(pool, ())]
        seen: set[str] = set()
        for i, raw in enumerate(gpu.exclude):
            type_id = raw.strip()
            if type_id in seen:
                yield document.problem(
                    (*at, i), ID, f"'{type_id}' is excluded twice: RunPod refuses a repeated type"
                )
                continue
            seen.add(type_id)
            if known_pools and type_id not in in_pools:
                yield document.problem((*at, i), ID, _not_in_pools(type_id, in_pools))
        if known_pools and in_pools and not set(in_pools) - seen:
            yield document.problem(
                at,
                ID,
                f"every GPU type of {', '.join(gpu.pools)} is excluded: no worker could start;"
                " exclude fewer types or add a pool",
            )


def _not_in_pools(type_id: str, in_pools: list[str]) -> str:
    pool = _POOL_OF.get(type_id)
    if pool is not None:
        return (
            f"'{type_id}' is in pool {pool}, which `pools` does not list: excluding it does"
            " nothing, and RunPod refuses it; remove it"
        )
    close = difflib.get_close_matches(type_id, in_pools, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return (
        f"'{type_id}' is not a GPU type of the listed pools{hint}; their types:"
        f" {', '.join(in_pools)}"
    )
