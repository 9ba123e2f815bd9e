"""`batch-route`: a route with `batch:` takes its requests' bodies as one list, so it is a POST,
PUT or PATCH route without path parameters, and its handler takes exactly one parameter (the
list; annotated, if at all, as a list or sequence) and has no other required one. A `max_size`
above `runtime.max_concurrency` is a warning: no batch could ever be full."""

from __future__ import annotations

from collections.abc import Iterator

from flashctl.compiler.document import Document
from flashctl.compiler.handler_index import Function, HandlerIndex
from flashctl.compiler.route_paths import params
from flashctl.model import Project
from flashctl.problems import Problem

ID = "batch-route"
READS_HANDLERS = True
BODY_METHODS = ("POST", "PUT", "PATCH")
# what the one parameter's annotation may name (the last dotted part, before any `[`)
LISTS = frozenset({"list", "List", "Sequence", "MutableSequence", "Iterable", "Collection", "Any"})


def check(project: Project, document: Document, handlers: HandlerIndex) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        for route in endpoint.routes:
            if route.batch is None:
                continue
            if route.method not in BODY_METHODS:
                yield document.problem(
                    (*route.at, "method"),
                    ID,
                    f"route {route.method} {route.path} is batched, so it needs a request body:"
                    " use POST, PUT or PATCH",
                )
            names = [p.name for p in params(route.path)]
            if names:
                yield document.problem(
                    (*route.at, "path"),
                    ID,
                    f"batched route {route.path} has path parameter '{names[0]}', which its"
                    " handler (given only the list of bodies) could never read: move it into"
                    " the body",
                )
            limit = endpoint.runtime.max_concurrency
            if route.batch.max_size > limit:
                yield document.problem(
                    (*route.at, "batch", "max_size"),
                    ID,
                    f"batch max_size {route.batch.max_size} is above runtime.max_concurrency"
                    f" {limit}, so no batch can ever be full: lower max_size or raise"
                    " max_concurrency",
                    severity="warning",
                )
            found = handlers.function(endpoint.source_dir, route.module, route.function)
            if isinstance(found, Function):  # else handler-not-found reports it
                message = _not_a_batch_handler(found)
                if message:
                    yield document.problem(
                        (*route.at, "handler"), ID, f"handler '{route.handler}': {message}"
                    )


def _not_a_batch_handler(function: Function) -> str | None:
    where = f"{function.name}() ({function.file.name}:{function.line})"
    parameters = function.parameters
    if not parameters or parameters[0].kind == "keyword_only":
        return (
            f"{where} takes no positional parameter; a batched route's handler takes one,"
            " the list of request bodies: `def handler(items: list) -> list`"
        )
    extra = [p.name for p in parameters[1:] if p.required]
    if extra:
        return (
            f"{where} also requires '{extra[0]}'; a batched route's handler takes exactly one"
            " parameter, the list of request bodies: remove it or give it a default"
        )
    annotation = parameters[0].annotation
    if annotation is not None:
        head = annotation.split("[", 1)[0].rsplit(".", 1)[-1].strip()
        if head not in LISTS:
            return (
                f"parameter '{parameters[0].name}: {annotation}' of {where} receives the list"
                " of request bodies: annotate it as a list (`list[...]`)"
            )
    return None
