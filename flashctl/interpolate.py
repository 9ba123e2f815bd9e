"""`${VAR}`, `${VAR:-default}` and `${VAR:?message}` in string values.

Values come from `--var KEY=VALUE` first, then the process environment; `.env` files are never read.
`$${` writes a literal `${`. An unset variable without a default is an `undefined-variable` problem
at the string that names it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flashctl.document import Document
from flashctl.problems import JsonPath, Problem

_REFERENCE = re.compile(
    r"\$\$\{|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}|\$\{(?P<bad>[^}]*)\}?"
)

# Undecodable bytes in the environment or argv arrive as lone surrogates (Python's surrogateescape).
_SURROGATE = re.compile("[\ud800-\udfff]")


def interpolate(document: Document, variables: Mapping[str, str]) -> list[Problem]:
    """Replace references in every string value of `document` in place; return the problems.

    >>> from flashctl.loader import load_text
    >>> doc, _ = load_text("image: app:${TAG:-dev}\\n", "f.yaml")
    >>> interpolate(doc, {}), doc.data
    ([], {'image': 'app:dev'})
    """
    problems: list[Problem] = []
    document.data = _walk(document, document.data, (), variables, problems)
    return problems


def _walk(
    document: Document,
    value: Any,
    path: JsonPath,
    variables: Mapping[str, str],
    problems: list[Problem],
) -> Any:
    if isinstance(value, dict):
        return {k: _walk(document, v, (*path, k), variables, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(document, v, (*path, i), variables, problems) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        return _substitute(document, value, path, variables, problems)
    return value


def _substitute(
    document: Document,
    text: str,
    path: JsonPath,
    variables: Mapping[str, str],
    problems: list[Problem],
) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name = match.group("name")
        if name is None:
            problems.append(
                document.problem(
                    path,
                    "undefined-variable",
                    f"malformed reference '{match.group(0)}': write ${{NAME}}, ${{NAME:-default}}"
                    " or ${NAME:?message}",
                )
            )
            return match.group(0)
        found = variables.get(name)
        op, arg = match.group("op"), match.group("arg") or ""
        if found is not None and _SURROGATE.search(found):
            problems.append(
                document.problem(
                    path, "undefined-variable", f"variable {name} is not UTF-8 text: set it again"
                )
            )
            return match.group(0)
        if found is not None and (found != "" or op is None):
            return found
        if op == ":-":
            return arg
        hint = arg if op == ":?" and arg else f"set it in the environment or pass --var {name}=..."
        problems.append(
            document.problem(path, "undefined-variable", f"variable {name} is not set: {hint}")
        )
        return match.group(0)

    return _REFERENCE.sub(replace, text)
