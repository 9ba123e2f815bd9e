"""`route-conflict`: one endpoint must not route the same method and path twice, nor two paths
that differ only in parameter names (`/u/{id}` and `/u/{uid}` match the same URLs). Static
paths win over parameters, so `/users/me` beside `/users/{id}` is fine."""

from __future__ import annotations

from collections.abc import Iterator

from flashctl.compiler.document import Document
from flashctl.compiler.route_paths import shape
from flashctl.model import Project, Route
from flashctl.problems import Problem

ID = "route-conflict"


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        first: dict[tuple[str, str], Route] = {}
        for route in endpoint.routes:
            key = (route.method, shape(route.path))
            earlier = first.setdefault(key, route)
            if earlier is route:
                continue
            mark = document.mark(earlier.at)
            same = "the same route" if earlier.path == route.path else f"'{earlier.path}'"
            yield document.problem(
                (*route.at, "path"),
                ID,
                f"{route.method} {route.path} conflicts with {same} at"
                f" {document.file}:{mark.line}:{mark.column} ({earlier.handler}):"
                " remove one or change its path",
            )
