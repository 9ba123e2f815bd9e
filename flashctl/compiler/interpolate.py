"""`${VAR}`, `${VAR:-default}` and `${VAR:?message}` in string values.

Values come from `--var KEY=VALUE` first, then the process environment; `.env` files are never read.
`$${` writes a literal `${`. A default may hold references itself (`${A:-${B:-dev}}`), read only
when it is used. An unset variable without a default is an `undefined-variable` problem at the
string that names it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flashctl.compiler.document import Document
from flashctl.problems import JsonPath, Problem

# Undecodable bytes in the environment or argv arrive as lone surrogates (Python's surrogateescape).
_SURROGATE = re.compile("[\ud800-\udfff]")


def interpolate(document: Document, variables: Mapping[str, str]) -> list[Problem]:
    """Replace references in every string value of `document` in place; return the problems.

    >>> from flashctl.compiler.loader import load_text
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
    def problem(message: str) -> None:
        problems.append(document.problem(path, "undefined-variable", message))

    def expand(text: str) -> str:
        out: list[str] = []
        i = 0
        while (found := text.find("$", i)) != -1:
            out.append(text[i:found])
            i = found
            if text.startswith("$${", i):
                out.append("${")
                i += 3
                continue
            match = _START.match(text, i)
            end = _closing(text, match.end()) if match and match["op"] else None
            if match is None or (match["op"] and end is None):
                if not text.startswith("${", i):
                    out.append("$")
                    i += 1
                    continue
                bad = _MALFORMED.match(text, i)
                assert bad is not None  # it matches any `${...`
                problem(
                    f"malformed reference '{bad.group(0)}': write ${{NAME}},"
                    " ${NAME:-default} or ${NAME:?message}"
                )
                out.append(bad.group(0))
                i = bad.end()
                continue
            name, op = match["name"], match["op"]
            arg = text[match.end() : end] if end is not None else ""
            i = end + 1 if end is not None else match.end()
            out.append(resolve(name, op, arg, text[found:i]))
        out.append(text[i:])
        return "".join(out)

    def resolve(name: str, op: str | None, arg: str, whole: str) -> str:
        found = variables.get(name)
        if found is not None and _SURROGATE.search(found):
            problem(f"variable {name} is not UTF-8 text: set it again")
            return whole
        if found is not None and (found != "" or op is None):
            return found
        if op == ":-":
            return expand(arg)  # a default may hold references too: ${A:-${B:-dev}}
        hint = arg if op == ":?" and arg else f"set it in the environment or pass --var {name}=..."
        problem(f"variable {name} is not set: {hint}")
        return whole

    return expand(text)


# `${NAME}` or the start of `${NAME:-...}` / `${NAME:?...}`, whose end `_closing` finds.
_START = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\}|(?P<op>:-|:\?))")
_MALFORMED = re.compile(r"\$\{[^}]*\}?")


def _closing(text: str, start: int) -> int | None:
    """The index of the `}` that closes a reference whose argument starts at `start`, counting
    the references nested in it; None when it is never closed."""
    depth = 0
    i = start
    while i < len(text):
        if text.startswith("$${", i):  # an escaped `${...}` pairs its braces all the same
            depth += 1
            i += 3
            continue
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return None
