"""`path-syntax`: a route path starts with `/`, has no trailing `/`, only URL-safe characters, and
parameters written `{name}` or `{name:int|float|str|path|uuid}`, each name once."""

from __future__ import annotations

from collections.abc import Iterator

from flashctl.compiler.document import Document
from flashctl.compiler.route_paths import syntax_errors
from flashctl.model import Project
from flashctl.problems import Problem

ID = "path-syntax"


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        for route in endpoint.routes:
            at = (*route.at, "path")
            for message in syntax_errors(route.path):
                yield document.problem(at, ID, message)
