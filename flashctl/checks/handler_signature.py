"""`handler-signature`: a handler accepts every path parameter of its route (by name, or through
`**kwargs`), and has no required parameter that no request can supply: positional-only
parameters, or on GET/DELETE (which have no body) a required `bytes` or mapping parameter. The
class of a class handler (`module:Class.method`) can be created with no arguments."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flashctl.compiler.document import Document
from flashctl.compiler.handler_index import Function, HandlerIndex
from flashctl.compiler.route_paths import params
from flashctl.model import Project
from flashctl.problems import Problem

ID = "handler-signature"
READS_HANDLERS = True
BODY_ONLY = ("bytes", "dict")
NO_BODY = ("GET", "DELETE")


def check(project: Project, document: Document, handlers: HandlerIndex) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        for route in endpoint.routes:
            found = handlers.function(endpoint.source_dir, route.module, route.function)
            if not isinstance(found, Function):
                continue  # handler-not-found reports it
            at = (*route.at, "handler")
            # a batched handler's parameters are checked by batch-route
            mismatches = () if route.batch else _mismatches(found, route.method, route.path)
            for message in mismatches:
                yield document.problem(at, ID, f"handler '{route.handler}': {message}")
            problem = _not_creatable(handlers, endpoint.source_dir, route.module, route.function)
            if problem:
                yield document.problem(at, ID, f"handler '{route.handler}': {problem}")


def _not_creatable(
    handlers: HandlerIndex, source_dir: Path, module: str, target: str
) -> str | None:
    """Why the class of a class handler cannot be created as the service does (no arguments)."""
    owner, dot, _ = target.partition(".")
    if not dot:
        return None
    init = handlers.init(source_dir, module, owner)
    required = [p.name for p in init.parameters if p.required] if init else []
    if not init or not required:
        return None
    return (
        f"{owner}() is created with no arguments, but its __init__"
        f" ({init.file.name}:{init.line}) requires '{required[0]}': give it a default"
    )


def _mismatches(function: Function, method: str, path: str) -> Iterator[str]:
    accepted = {p.name for p in function.parameters if p.kind != "positional_only"}
    where = f"{function.file.name}:{function.line}"
    for param in params(path):
        if param.name not in accepted and not function.var_keyword:
            yield (
                f"path parameter '{param.name}' is not a parameter of {function.name}() ({where}):"
                f" add `{param.name}` to its signature or rename the path parameter"
            )
    path_names = {p.name for p in params(path)}
    for p in function.parameters:
        if not p.required or p.name in path_names:
            continue
        if p.kind == "positional_only":
            yield (
                f"parameter '{p.name}' of {function.name}() is positional-only, so no request can"
                " supply it: remove the `/` or give it a default"
            )
        elif method in NO_BODY and (p.annotation or "").split("[")[0] in BODY_ONLY:
            yield (
                f"parameter '{p.name}: {p.annotation}' needs a request body, which {method} does"
                " not have: use POST/PUT/PATCH or give it a default"
            )
