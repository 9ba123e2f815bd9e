"""Semantic checks of a project, one module per rule, registered explicitly in RULES.

Each module has an `ID` (the stable rule code users grep and suppress by), a docstring that is
its user documentation, and `check(project, document)` yielding every Problem it finds.
Adding a rule means one new module and one line here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import ModuleType

from flashctl.checks import (
    app,
    batch,
    compute,
    cpu_duplicate,
    cross_endpoint,
    cuda,
    data_center,
    env,
    environment,
    gpu_exclude,
    handler_signature,
    handlers,
    kubernetes,
    method,
    name_length,
    path_syntax,
    reserved_paths,
    route_conflict,
    scaling,
    source,
)
from flashctl.compiler import handler_index
from flashctl.compiler.document import Document
from flashctl.model import Project
from flashctl.problems import Problem

RULES: tuple[ModuleType, ...] = (
    source,
    method,
    path_syntax,
    reserved_paths,
    route_conflict,
    handlers,
    handler_signature,
    app,
    batch,
    cross_endpoint,
    compute,
    gpu_exclude,
    cpu_duplicate,
    data_center,
    cuda,
    scaling,
    env,
    environment,
    name_length,
    kubernetes,
)

Check = Callable[[Project, Document], Iterable[Problem]]


def run_checks(
    project: Project, document: Document, handlers: handler_index.HandlerIndex
) -> list[Problem]:
    """Every problem every registered rule finds, in registry order (reporters sort them).
    Rules that look at the user's code (`READS_HANDLERS`) get the index built at the edge."""
    problems: list[Problem] = []
    for rule in RULES:
        if getattr(rule, "READS_HANDLERS", False):
            problems.extend(rule.check(project, document, handlers))
        else:
            problems.extend(rule.check(project, document))
    return problems


def index_handlers(project: Project) -> handler_index.HandlerIndex:
    """The edge: read the code of every endpoint whose `source` the `source` rule accepts."""
    usable = [e for e in project.endpoints if source.unusable(e, project.base_dir) is None]
    return handler_index.index_handlers(usable)


# Rules reported by the pipeline stages before the model exists (loader, interpolation, schema).
PIPELINE_RULES = {
    "yaml-syntax": "The file is not parsable YAML (tabs for indentation, unclosed brackets, ...).",
    "duplicate-key": "A key is given twice in one mapping; YAML would silently keep one.",
    "schema": "The document does not match schemas/flash.schema.json (types, unknown keys, ...).",
    "undefined-variable": "A ${VAR} reference has no value and no default.",
}


def rule_docs() -> dict[str, str]:
    """Every rule code with its documentation (module docstrings for the semantic rules)."""
    docs = dict(PIPELINE_RULES)
    for rule in RULES:
        docs[rule.ID] = " ".join((rule.__doc__ or "").split())
    return docs
