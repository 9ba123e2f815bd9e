"""Literal values out of Python syntax, without running it.

Constants, lists, tuples and dicts become Python values; `GpuGroup.ADA_24` an `EnumRef`; a call
such as `NetworkVolume(name="v", size=50)` a `CallRef`; a name defined at module level as a
literal its value; anything else an `Unknown` that keeps its source text for the report.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EnumRef:
    """`GpuGroup.ADA_24` -> `EnumRef("GpuGroup", "ADA_24")`."""

    enum: str
    member: str


@dataclass(frozen=True)
class CallRef:
    """A call with literal arguments, e.g. `NetworkVolume(name="v", size=50)`."""

    function: str  # as written: "NetworkVolume", "DataCenter.all", "rf.NetworkVolume"
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def short(self) -> str:
        """The called name without its qualifier: "NetworkVolume", "all"."""
        return self.function.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Unknown:
    """Something only running the code could tell (a variable, an f-string, an expression)."""

    source: str


def dotted_name(node: ast.expr) -> str | None:
    """`a.b.c` -> "a.b.c"; None for anything that is not a plain dotted name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def evaluate(node: ast.expr, names: Mapping[str, Any], source: str = "") -> Any:
    """The value of `node`; `names` holds the module's literal assignments.

    >>> evaluate(ast.parse("[GpuGroup.ADA_24, 'x', (0, 3)]", mode="eval").body, {})
    [EnumRef(enum='GpuGroup', member='ADA_24'), 'x', [0, 3]]
    """
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [evaluate(item, names, source) for item in node.elts]
    if isinstance(node, ast.Dict):
        result: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                return Unknown(_text(node, source))  # `**other`
            result[evaluate(key, names, source)] = evaluate(value, names, source)
        return result
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = evaluate(node.operand, names, source)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.Attribute):
        dotted = dotted_name(node)
        if dotted and "." in dotted:
            enum, member = dotted.split(".")[-2:]
            return EnumRef(enum, member)
    if isinstance(node, ast.Call):
        function = dotted_name(node.func)
        if function:
            return CallRef(
                function,
                tuple(evaluate(arg, names, source) for arg in node.args),
                {kw.arg: evaluate(kw.value, names, source) for kw in node.keywords if kw.arg},
            )
    return Unknown(_text(node, source))


def _text(node: ast.expr, source: str) -> str:
    return ast.get_source_segment(source, node) or ast.dump(node)
