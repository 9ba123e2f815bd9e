"""`cpu-duplicate`: the same CPU configuration (flavor and vCPUs) listed twice under
`compute.cpu`; RunPod refuses exact duplicates. The same flavor at different vCPU counts is
fine."""

from __future__ import annotations

from collections.abc import Iterator

from flashctl.compiler.document import Document
from flashctl.model import Project
from flashctl.problems import Problem

ID = "cpu-duplicate"


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        first: dict[tuple[str, int], int] = {}
        for i, cpu in enumerate(endpoint.compute.cpu):
            config = (cpu.flavor, cpu.vcpus)
            if config in first:
                yield document.problem(
                    ("endpoints", endpoint.key, "compute", "cpu", i),
                    ID,
                    f"{cpu.flavor} with {cpu.vcpus} vCPUs is listed twice (also item"
                    f" {first[config] + 1}): RunPod refuses duplicate CPU configurations;"
                    " remove one",
                )
            else:
                first[config] = i
