"""`scaling`: workers.min <= workers.max, workers.max >= 1, workers.min >= 0, idle_timeout within
1..3600 seconds, request_count >= 1."""

from __future__ import annotations

from collections.abc import Iterator

from flashctl import catalog
from flashctl.compiler.document import Document
from flashctl.model import Project
from flashctl.problems import Problem

ID = "scaling"


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        s = endpoint.scaling
        at = ("endpoints", endpoint.key, "scaling")
        if s.workers_min < 0:
            yield document.problem(
                (*at, "workers", "min"), ID, f"workers.min is {s.workers_min}: use 0 or more"
            )
        if s.workers_max < 1:
            yield document.problem(
                (*at, "workers", "max"),
                ID,
                f"workers.max is {s.workers_max}: the endpoint could never run; use 1 or more",
            )
        elif s.workers_min > s.workers_max:
            yield document.problem(
                (*at, "workers", "min"),
                ID,
                f"workers.min ({s.workers_min}) is greater than workers.max ({s.workers_max})",
            )
        if s.idle_timeout not in catalog.IDLE_TIMEOUT:
            yield document.problem(
                (*at, "idle_timeout"),
                ID,
                f"idle_timeout {s.idle_timeout} is outside 1..3600 seconds",
            )
        if s.request_count < 1:
            yield document.problem(
                (*at, "request_count"),
                ID,
                f"request_count {s.request_count}: the scaler needs at least 1 request per worker",
            )
