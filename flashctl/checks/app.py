"""`app-not-found`: an endpoint's `app: "module:attribute"` names a module file under the
endpoint's `source` that binds that name at its top level (`app = FastAPI()`, `from .api import
app`, ...). Found by parsing the file, never by importing it: what the name holds (a FastAPI or
Starlette app, any ASGI 3 callable) is only known when the service starts."""

from __future__ import annotations

from collections.abc import Iterator

from flashctl.checks import source
from flashctl.compiler.document import Document
from flashctl.compiler.handler_index import HandlerIndex, Missing
from flashctl.model import Project
from flashctl.problems import Problem

ID = "app-not-found"
READS_HANDLERS = True


def check(project: Project, document: Document, handlers: HandlerIndex) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        if not endpoint.app or source.unusable(endpoint, project.base_dir) is not None:
            continue  # the `source` rule reports an unusable source, at `source:`
        module, _, attribute = endpoint.app.partition(":")
        found = handlers.app(endpoint.source_dir, module, attribute)
        if isinstance(found, Missing):
            at = ("endpoints", endpoint.key, "app")
            yield document.problem(at, ID, f"app '{endpoint.app}': {found.reason}")
