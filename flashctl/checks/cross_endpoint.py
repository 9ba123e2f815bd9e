"""`cross-endpoint-call` (a warning): a route's handler calls the handler of another endpoint. On
runpod-flash such a call went to the other endpoint's workers; here each endpoint is its own
service, so the call simply runs in the caller's process (on its hardware, with its
dependencies). To keep the work on the other endpoint, call its URL over HTTP instead. Found by
parsing (direct calls, `from m import f` and `import m; m.f()`), never by importing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flashctl.compiler.document import Document
from flashctl.compiler.handler_index import Function, HandlerIndex
from flashctl.model import Project
from flashctl.problems import Problem

ID = "cross-endpoint-call"
READS_HANDLERS = True


def check(project: Project, document: Document, handlers: HandlerIndex) -> Iterator[Problem]:
    owners: dict[tuple[Path, str], str] = {}  # (source folder, module:function) -> endpoint
    for endpoint in project.endpoints:
        for route in endpoint.routes:
            owners.setdefault((endpoint.source_dir, route.handler), endpoint.key)
    for endpoint in project.endpoints:
        for route in endpoint.routes:
            found = handlers.function(endpoint.source_dir, route.module, route.function)
            if not isinstance(found, Function):
                continue  # handler-not-found reports it
            for name, line in found.calls:
                target = handlers.call(endpoint.source_dir, route.module, name)
                other = owners.get((endpoint.source_dir, target or ""))
                if other is None or other == endpoint.key:
                    continue
                yield document.problem(
                    (*route.at, "handler"),
                    ID,
                    f"handler '{route.handler}' calls {name}() ({found.file.name}:{line}), the "
                    f"handler '{target}' of endpoint '{other}': it runs in this endpoint's "
                    "process, not on that endpoint's workers; call that endpoint's URL to keep "
                    "the work there",
                    severity="warning",
                )
