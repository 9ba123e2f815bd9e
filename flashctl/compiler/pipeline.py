"""The compile pipeline: text -> document -> interpolate -> overlay -> schema -> model -> checks.

`compile_text` is pure (apart from the handler check reading user modules); `compile_file` is the
I/O edge that reads flash.yaml. Problems are collected from every stage that can run, so one
`validate` reports everything it can see.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from flashctl import gc_pause
from flashctl.compiler.document import Document
from flashctl.errors import InputError
from flashctl.problems import Problem

if TYPE_CHECKING:
    from flashctl.model import Project


class Compiled(NamedTuple):
    """The result of compiling a file: the model when it could be built, and every problem."""

    file: str
    project: Project | None  # None when the file is too broken to model, or only partly valid
    problems: tuple[Problem, ...]
    document: Document | None

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


def compile_text(
    text: str,
    file: str,
    *,
    base_dir: Path,
    variables: Mapping[str, str],
    environment: str | None = None,
) -> Compiled:
    """Compile flash.yaml text. `variables` resolve `${VAR}` (the CLI passes env + --var)."""
    with gc_pause.paused():  # see flashctl/gc_pause.py: B3
        return _compile(text, file, base_dir, variables, environment)


def _compile(
    text: str,
    file: str,
    base_dir: Path,
    variables: Mapping[str, str],
    environment: str | None,
) -> Compiled:
    from flashctl.checks import index_handlers, run_checks
    from flashctl.compiler.interpolate import interpolate
    from flashctl.compiler.loader import load_text
    from flashctl.compiler.overlay import apply_overlays
    from flashctl.model import build_project
    from flashctl.schema.checker import check_schema, without_invalid

    document, problems = load_text(text, file)
    if document is None:
        return Compiled(file, None, tuple(sorted(problems)), None)
    if not isinstance(document.data, dict):
        kind = "a list" if isinstance(document.data, list) else "a single value"
        problems.append(
            document.problem(
                (),
                "schema",
                f"the file is {kind}: it must be a mapping with"
                " `version: 1`, `project:` and `endpoints:`",
            )
        )
        return Compiled(file, None, tuple(sorted(problems)), document)
    unresolved = interpolate(document, variables)
    problems += unresolved
    effective = apply_overlays(document, environment if _has_env(document, environment) else None)
    # A value still holding a `${VAR}` it could not resolve is reported once, as that.
    where = {(p.line, p.column) for p in unresolved}
    schema_problems = check_schema(effective)
    problems += [p for p in schema_problems if (p.line, p.column) not in where]
    project: Project | None = None
    every_path = check_schema(effective, dedupe=False) if schema_problems else []
    if all(_inside_endpoint_settings(p.path) for p in every_path):
        checkable, remaining = effective, every_path
        for _ in range(_REPAIR_ROUNDS):  # removing a bad value can expose a missing required one
            if not remaining:
                break
            data = without_invalid(checkable.data, remaining)
            checkable = Document(file, data, effective.positions)
            remaining = [
                p for p in check_schema(checkable, dedupe=False) if not _set_aside(data, p.path)
            ]
        if not remaining:
            project = build_project(
                checkable.data, file=file, base_dir=base_dir, environment=environment
            )
            problems += run_checks(project, effective, index_handlers(project))
        if schema_problems:
            project = None  # a repaired model is for checking only, never for rendering
    return Compiled(file, project, tuple(sorted(set(problems))), effective)


_REPAIR_ROUNDS = 4
_SECTIONS = ("endpoints", "defaults", "environments", "slo")


def _inside_endpoint_settings(path: tuple[str | int, ...]) -> bool:
    """A schema problem `without_invalid` can set aside: below the top level, or a bad (not
    missing) `project` or `version`, which a stand-in replaces for checking."""
    if path in (("project",), ("version",)):
        return True
    return (len(path) > 2 and path[0] in _SECTIONS) or (len(path) > 1 and path[0] == "slo")


def _set_aside(data: object, path: tuple[str | int, ...]) -> bool:
    """A problem about a route that `without_invalid` replaced by None (it is reported already)."""
    from flashctl.compiler.document import get_path

    return len(path) >= 4 and path[-2] == "routes" and get_path(data, path[:4]) is None


def _has_env(document: Document, environment: str | None) -> bool:
    envs = document.data.get("environments")
    return environment is not None and isinstance(envs, dict) and environment in envs


class NotText(InputError):
    """flash.yaml holds bytes that are not UTF-8: a problem at a position, like a syntax error."""

    def __init__(self, path: Path, line: int, column: int, reason: str) -> None:
        self.line, self.column = line, column
        self.reason = f"not UTF-8 text: {reason}; save the file as UTF-8"
        super().__init__(f"{path}:{line}:{column}: {self.reason}")


def read_project_file(path: Path) -> str:
    """The text of flash.yaml, or an InputError that says what to do."""
    try:
        data = path.read_bytes()
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise NotText(path, line, column, f"{err.reason} (byte {err.start})") from None
    except FileNotFoundError:
        raise InputError(
            f"{path}: no such file; create one with `flashctl init` or pass -f FILE"
        ) from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory; pass the flash.yaml inside it") from None
    except OSError as err:
        raise InputError(f"{path}: cannot be read: {err.strerror}") from None


def compile_file(
    path: Path,
    *,
    variables: Mapping[str, str] | None = None,
    environment: str | None = None,
) -> Compiled:
    """Read and compile `path`; `variables` default to the process environment."""
    values = dict(os.environ if variables is None else variables)
    try:
        text = read_project_file(path)
    except NotText as err:  # a problem in the file, reported like any other (any --format)
        problem = Problem(str(path), err.line, err.column, "yaml-syntax", err.reason)
        return Compiled(str(path), None, (problem,), None)
    return compile_text(
        text,
        str(path),
        base_dir=path.parent,
        variables=values,
        environment=environment,
    )


class Loaded(NamedTuple):
    """A valid project and what it was compiled from (for digests and reloads)."""

    project: Project
    text: str
    variables: dict[str, str]


# What every command's flow is handed: loading is deferred, so a flow that fails on its options
# first never compiles the file.
Load = Callable[[], Loaded]


def load_valid_project(
    path: Path, *, variables: Mapping[str, str], environment: str | None
) -> Loaded:
    """Compile `path` and return its model, or raise InputError listing every error."""
    from flashctl.report.text import render as text_report

    text = read_project_file(path)
    result = compile_text(
        text, str(path), base_dir=path.parent, variables=variables, environment=environment
    )
    if result.errors or result.project is None:
        errors = Compiled(result.file, None, result.errors, result.document)
        raise InputError(
            f"{path} is not valid; fix these first (`flashctl validate` shows them too):\n"
            + text_report([errors]).rstrip()
        )
    # Only the variables the file refers to feed the render's input digest.
    used = {k: v for k, v in variables.items() if "${" + k in text}
    return Loaded(result.project, text, used)
