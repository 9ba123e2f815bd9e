"""Problem: one finding of `flashctl validate`, with its position and a stable rule code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]
JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """A problem found in a file. Sorts by position, so reporters print in reading order.

    `path` is the JSON path of the offending node in the document (after interpolation and
    overlays), e.g. ("endpoints", "api", "routes", 0, "method").
    """

    file: str
    line: int
    column: int
    rule: str
    message: str
    severity: Severity = "error"
    path: JsonPath = field(default=(), compare=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "path": list(self.path),
        }
