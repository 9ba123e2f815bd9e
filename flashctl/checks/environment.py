"""`environment`: an overlay under `environments:` may only name endpoints that exist, and the
environment chosen with `--env` must be defined."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flashctl.compiler.document import Document
from flashctl.model import Project
from flashctl.problems import Problem

ID = "environment"


def _mapping(value: object) -> dict[str, Any]:
    # A wrongly shaped section is the schema rule's to report; here it just has no overlays.
    return value if isinstance(value, dict) else {}


def check(project: Project, document: Document) -> Iterator[Problem]:
    data = document.data
    environments = _mapping(data.get("environments"))
    known = set(_mapping(data.get("endpoints")))
    for env_name, overlay in environments.items():
        for key in _mapping(_mapping(overlay).get("endpoints")):
            if key not in known:
                yield document.problem(
                    ("environments", env_name, "endpoints", key),
                    ID,
                    f"environment '{env_name}' overrides endpoint '{key}', which is not defined"
                    f" under endpoints (defined: {', '.join(sorted(known))})",
                    at_key=True,
                )
    chosen = project.environment
    if chosen is not None and chosen not in environments:
        defined = ", ".join(sorted(environments)) or "none"
        yield document.problem(
            ("environments",) if environments else (),
            ID,
            f"--env {chosen}: no such environment (defined: {defined})",
            at_key=True,
        )
