"""Document: plain YAML data plus the position of every node, addressed by JSON path.

The pipeline's later steps (interpolation, overlays, schema, model, checks) work on plain Python
values and only consult `Document.positions` to say *where* something is. Keeping positions in a
side table (rather than in wrapper objects) lets those steps stay ordinary dict/list code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flashctl.problems import JsonPath, Problem, Severity


class Mark(NamedTuple):
    """1-based line and column of a node, and of its key when it is a mapping value."""

    line: int
    column: int
    key_line: int | None = None
    key_column: int | None = None


@dataclass
class Document:
    """YAML data with positions. `positions[path]` marks the value at `path`."""

    file: str
    data: Any
    positions: dict[JsonPath, Mark] = field(default_factory=dict)

    def mark(self, path: JsonPath) -> Mark:
        """The mark of `path`, or of its nearest ancestor that has one (defaults have none)."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end])
            if found is not None:
                return found
        return Mark(1, 1)

    def problem(
        self,
        path: JsonPath,
        rule: str,
        message: str,
        *,
        at_key: bool = False,
        severity: Severity = "error",
    ) -> Problem:
        """A problem located at the value of `path` (or at its key with `at_key`)."""
        mark = self.mark(path)
        line, column = mark.line, mark.column
        if at_key and mark.key_line is not None and mark.key_column is not None:
            line, column = mark.key_line, mark.key_column
        return Problem(self.file, line, column, rule, message, severity, tuple(path))


def get_path(data: Any, path: JsonPath, default: Any = None) -> Any:
    """The value at `path` in nested dicts/lists, or `default` where the path does not exist.

    >>> get_path({"a": [{"b": 1}]}, ("a", 0, "b"))
    1
    """
    node = data
    for part in path:
        if isinstance(node, Mapping) and isinstance(part, str) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return default
    return node


def render_path(path: JsonPath) -> str:
    """A JSON path as users read it: `endpoints.api.routes[0].method`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"
