"""`data-center`: every id in `compute.data_centers` is a RunPod data center (with a
did-you-mean); RunPod refuses an endpoint placed in an unknown one."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from flashctl import catalog
from flashctl.compiler.document import Document
from flashctl.model import Project
from flashctl.problems import Problem

ID = "data-center"


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        for i, dc in enumerate(endpoint.compute.data_centers):
            if dc in catalog.DATA_CENTERS:
                continue
            close = difflib.get_close_matches(dc.upper(), catalog.DATA_CENTERS, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            yield document.problem(
                ("endpoints", endpoint.key, "compute", "data_centers", i),
                ID,
                f"unknown data center '{dc}'{hint}; known: {', '.join(catalog.DATA_CENTERS)}",
            )
