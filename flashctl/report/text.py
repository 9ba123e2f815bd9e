"""Text report: `flash.yaml:14:9: error: message [rule]`, in position order, then a summary."""

from __future__ import annotations

from collections.abc import Sequence

from flashctl.compiler.pipeline import Compiled

_COLORS = {"error": "\033[31m", "warning": "\033[33m"}
_RESET = "\033[0m"


def render(results: Sequence[Compiled], color: bool = False) -> str:
    lines = []
    for result in results:
        for p in sorted(result.problems):
            severity = f"{_COLORS[p.severity]}{p.severity}{_RESET}" if color else p.severity
            message = _one_line(p.message)
            lines.append(f"{p.file}:{p.line}:{p.column}: {severity}: {message} [{p.rule}]")
        lines.append(summary(result))
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    """`text` with control characters and line breaks escaped (`\\n`): a message quotes values
    from the file, and each problem keeps to its one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def summary(result: Compiled) -> str:
    errors = len(result.errors)
    warnings = len(result.problems) - errors
    if errors or warnings:
        return f"{result.file}: {_count(errors, 'error')}, {_count(warnings, 'warning')}"
    project = result.project
    if project is None:
        return f"{result.file}: ok"
    routes = sum(len(e.routes) for e in project.endpoints)
    endpoints = len(project.endpoints)
    apps = sum(1 for e in project.endpoints if e.app)
    served = f"{_count(routes, 'route')}" + (f", {_count(apps, 'ASGI app')}" if apps else "")
    return f"{result.file}: ok ({_count(endpoints, 'endpoint')}, {served})"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
