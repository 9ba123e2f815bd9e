"""`handler-not-found`: every route's `module:function` (and `runtime.startup`) names a top-level
`def` or `async def` in a module file under the endpoint's `source`. Found by parsing the file,
never by importing it."""

from __future__ import annotations

from collections.abc import Iterator

from flashctl.checks import source
from flashctl.compiler.document import Document
from flashctl.compiler.handler_index import HandlerIndex, Missing
from flashctl.model import Project
from flashctl.problems import JsonPath, Problem

ID = "handler-not-found"
READS_HANDLERS = True


def check(project: Project, document: Document, handlers: HandlerIndex) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        if source.unusable(endpoint, project.base_dir) is not None:
            continue  # the `source` rule reports it, at `source:`
        targets: list[tuple[JsonPath, str]] = [
            ((*r.at, "handler"), r.handler) for r in endpoint.routes
        ]
        if endpoint.runtime.startup:
            targets.append(
                (("endpoints", endpoint.key, "runtime", "startup"), endpoint.runtime.startup)
            )
        for at, handler in targets:
            module, _, function = handler.partition(":")
            found = handlers.function(endpoint.source_dir, module, function)
            if isinstance(found, Missing):
                yield document.problem(at, ID, f"handler '{handler}': {found.reason}")
