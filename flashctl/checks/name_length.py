"""`name-length`: RunPod names endpoints `<project>-<endpoint>[-<environment>]`, at most 64
characters."""

from __future__ import annotations

from collections.abc import Iterator

from flashctl import catalog
from flashctl.compiler.document import Document
from flashctl.model import Project
from flashctl.problems import Problem

ID = "name-length"


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        name = endpoint.runpod_name
        if len(name) > catalog.NAME_MAX:
            yield document.problem(
                ("endpoints", endpoint.key),
                ID,
                f"RunPod name '{name}' is {len(name)} characters, over the limit of"
                f" {catalog.NAME_MAX}: shorten the project, endpoint or environment name",
                at_key=True,
            )
