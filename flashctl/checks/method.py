"""`method`: a route's method must be GET, POST, PUT, DELETE or PATCH (any case)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from flashctl.compiler.document import Document
from flashctl.model import Project
from flashctl.problems import Problem

ID = "method"
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        for route in endpoint.routes:
            if route.method in METHODS:
                continue
            close = difflib.get_close_matches(route.method, METHODS, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]}?)" if close else ""
            yield document.problem(
                (*route.at, "method"),
                ID,
                f"unknown HTTP method '{route.method}'{hint}: use one of {', '.join(METHODS)}",
            )
