"""`cuda`: `compute.gpu.min_cuda` (a floor) and `compute.gpu.cuda_versions` (an exact set) are
exclusive, as RunPod's `minCudaVersion` and `allowedCudaVersions` are: give one of them."""

from __future__ import annotations

from collections.abc import Iterator

from flashctl.compiler.document import Document
from flashctl.model import Project
from flashctl.problems import Problem

ID = "cuda"


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        gpu = endpoint.compute.gpu
        if gpu is not None and gpu.min_cuda and gpu.cuda_versions:
            yield document.problem(
                ("endpoints", endpoint.key, "compute", "gpu", "cuda_versions"),
                ID,
                f"both min_cuda ({gpu.min_cuda}) and cuda_versions"
                f" ({', '.join(gpu.cuda_versions)}) are set: RunPod takes a floor or an exact set,"
                " not both; remove one",
            )
