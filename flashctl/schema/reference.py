"""The flash.yaml reference (`docs/flash-yaml.md`), generated from the JSON Schema's descriptions.

`flashctl schema --format markdown` prints it; a test fails when the committed file is stale, so
the schema stays the single source of truth for the documentation too. Pure: schema in, text out.

>>> from flashctl.schema.checker import load_schema
>>> markdown(load_schema()).splitlines()[0]
'# flash.yaml reference'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

GENERATED_BY = "flashctl schema --format markdown > docs/flash-yaml.md"

# Named parts of the schema, each documented once in its own section.
SECTIONS = (
    ("endpointFields", "Endpoint fields", "endpoint-fields"),
    ("route", "Route", "route"),
)
LINKS = {
    "endpointFields": "[endpoint fields](#endpoint-fields)",
    "endpoint": "[endpoint](#endpoint-fields)",
    "route": "[route](#route)",
}


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    description: str


def markdown(schema: dict[str, Any]) -> str:
    """The whole reference: the top level, then the endpoint fields, then routes."""
    defs = schema.get("$defs", {})
    parts = [
        "# flash.yaml reference\n",
        f"<!-- Generated from schemas/flash.schema.json by `{GENERATED_BY}`; "
        "do not edit by hand. -->\n",
        f"{schema.get('description', '')}\n",
        "Start the file with `# yaml-language-server: $schema=<path or URL of the schema>` "
        "for completion and checks in editors; `flashctl schema` prints the schema.\n",
        "## Top level\n",
        _table(_rows(schema, "")),
    ]
    for name, title, _anchor in SECTIONS:
        node = defs[name]
        parts.append(f"## {title}\n")
        intro = _section_intro(name, defs)
        if intro:
            parts.append(intro + "\n")
        parts.append(_table(_rows(node, "")))
    return "\n".join(parts)


def _section_intro(name: str, defs: dict[str, Any]) -> str:
    description = _text(defs[name].get("description", ""))
    if name == "endpointFields":
        endpoint = _text(defs.get("endpoint", {}).get("description", ""))
        return (
            f"{endpoint} Each `endpoints.<name>` takes these keys; `routes` is required there and "
            f"needs at least one route. {description} `defaults` and "
            "`environments.<env>.endpoints.<name>` take the same keys, all optional."
        )
    return description


def _rows(node: dict[str, Any], prefix: str) -> list[Row]:
    node = _merged(node)
    required = set(node.get("required", []))
    rows: list[Row] = []
    for key, sub in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        rows.append(_row(path, sub, key in required))
        rows += _children(sub, path)
    return rows


def _children(sub: dict[str, Any], path: str) -> list[Row]:
    """Rows for what is nested inside `sub` (unless it is a named part with its own section)."""
    if "$ref" in sub:
        return []
    rows: list[Row] = []
    if "properties" in sub:
        rows += _rows(sub, f"{path}.")
    extra = sub.get("additionalProperties")
    if isinstance(extra, dict) and "$ref" not in extra:
        rows += _children(extra, f"{path}.<name>")
    items = sub.get("items")
    if isinstance(items, dict) and "properties" in items:
        rows += _rows(items, f"{path}[].")
    for option in sub.get("anyOf", []) + sub.get("oneOf", []):
        if "properties" in option:
            rows += _rows(option, f"{path}.")
    return rows


def _row(path: str, sub: dict[str, Any], required: bool) -> Row:
    if required:
        default = "required"
    elif "default" in sub:
        default = f"`{json.dumps(sub['default'])}`"
    else:
        default = ""
    description = _text(sub.get("description", ""))
    for part in ("items", "additionalProperties"):
        inner = sub.get(part)
        if isinstance(inner, dict) and inner.get("description"):
            description += " Each: " + _text(inner["description"])
    examples = sub.get("examples")
    if examples:
        description += " Example: " + ", ".join(f"`{json.dumps(e)}`" for e in examples) + "."
    return Row(f"`{path}`", _type(sub), default, description)


def _type(sub: dict[str, Any]) -> str:
    """A short, readable type: `integer, 1..65535`, `one of "off", "on"`, `list of string`."""
    ref = sub.get("$ref")
    if ref:
        return LINKS.get(ref.rsplit("/", 1)[-1], ref)
    if "const" in sub:
        return f"`{json.dumps(sub['const'])}`"
    if "enum" in sub:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in sub["enum"])
    options = sub.get("anyOf") or sub.get("oneOf")
    if options:
        return " or ".join(dict.fromkeys(_type(option) for option in options))
    kinds = sub.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    shown = " or ".join(_kind(kind, sub) for kind in kinds)
    limits = _limits(sub)
    return f"{shown}, {limits}" if limits else shown


def _kind(kind: str, sub: dict[str, Any]) -> str:
    if kind == "array":
        items = sub.get("items", {})
        return f"list of {_type(items)}" if items else "list"
    if kind == "object":
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and "properties" not in sub:
            inner = "mapping" if "properties" in extra else _type(extra)
            return f"mapping of name to {inner}"
        return "mapping"
    if kind == "string" and "KiB" in sub.get("pattern", ""):
        return "size string (`30MB`, `512KiB`, `1GB`)"
    if kind == "string" and "pattern" in sub and "description" not in sub:
        return f"string matching `{sub['pattern']}`"
    return kind


def _limits(sub: dict[str, Any]) -> str:
    low, high = sub.get("minimum"), sub.get("maximum")
    if low is not None and high is not None:
        return f"{low}..{high}"
    if low is not None:
        return f">= {low}"
    if high is not None:
        return f"<= {high}"
    if sub.get("exclusiveMinimum") is not None:
        return f"> {sub['exclusiveMinimum']}"
    if sub.get("minItems"):
        return f"at least {sub['minItems']}"
    if sub.get("minProperties"):
        return f"at least {sub['minProperties']} entry"
    return ""


def _merged(node: dict[str, Any]) -> dict[str, Any]:
    """`allOf` parts folded in (properties and required keys), for display only."""
    if "allOf" not in node:
        return node
    merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
    for part in node["allOf"]:
        merged.setdefault("properties", {}).update(part.get("properties", {}))
        merged["required"] = [*merged.get("required", []), *part.get("required", [])]
    return merged


def _table(rows: list[Row]) -> str:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    for row in rows:
        cells = (row.key, row.type, row.default, row.description)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Table-safe: `|` escaped; `<` outside code spans escaped so `<name>` is not read as HTML."""
    parts = text.replace("|", "\\|").replace("\n", " ").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;")
    return "`".join(parts)


def _text(text: str) -> str:
    return " ".join(text.split())
