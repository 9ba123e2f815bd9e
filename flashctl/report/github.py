"""GitHub Actions workflow commands: `::error file=F,line=L,col=C,title=RULE::message`.

GitHub turns each line into an annotation on the pull request's diff.
"""

from __future__ import annotations

from collections.abc import Sequence

from flashctl.compiler.pipeline import Compiled
from flashctl.report.text import summary


def render(results: Sequence[Compiled], color: bool = False) -> str:
    lines = []
    for result in results:
        for p in sorted(result.problems):
            props = ",".join(
                f"{key}={_escape_property(str(value))}"
                for key, value in (
                    ("file", p.file),
                    ("line", p.line),
                    ("col", p.column),
                    ("title", f"flashctl {p.rule}"),
                )
            )
            lines.append(f"::{p.severity} {props}::{_escape_data(p.message)} [{p.rule}]")
        lines.append(summary(result))
    return "\n".join(lines) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
