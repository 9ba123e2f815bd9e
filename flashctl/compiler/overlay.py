"""Deep-merge `defaults:` under every endpoint and the chosen `environments:` overlay over it.

Mappings merge key by key; lists and scalars are replaced by the upper layer. `compute.gpu` and
`compute.cpu` exclude each other, so a layer that picks one drops the other inherited from below
(a CPU endpoint under GPU defaults is not "both"). Every merged node keeps the position of the
layer it came from, so a problem in a value inherited from `defaults:` points there.
"""

from __future__ import annotations

from typing import Any

from flashctl.compiler.document import Document, Mark, get_path
from flashctl.problems import JsonPath

# Keys that replace each other rather than merge, per mapping path (relative to an endpoint).
EXCLUSIVE_KEYS: dict[JsonPath, frozenset[str]] = {("compute",): frozenset({"gpu", "cpu"})}


def apply_overlays(document: Document, environment: str | None) -> Document:
    """A new Document whose `endpoints` are merged with defaults and the environment overlay.

    >>> from flashctl.compiler.loader import load_text
    >>> text = "defaults: {python: '3.12', scaling: {idle_timeout: 5}}\\n"
    >>> text += "endpoints: {api: {scaling: {request_count: 2}}}\\n"
    >>> doc, _ = load_text(text, "f.yaml")
    >>> apply_overlays(doc, None).data["endpoints"]["api"]
    {'python': '3.12', 'scaling': {'idle_timeout': 5, 'request_count': 2}}
    """
    data = document.data
    endpoints = data.get("endpoints") if isinstance(data, dict) else None
    if not isinstance(endpoints, dict):
        return document
    positions = dict(document.positions)
    merged: dict[str, Any] = {}
    for key in endpoints:
        layers: list[JsonPath] = [("defaults",), ("endpoints", key)]
        if environment is not None:
            layers.append(("environments", environment, "endpoints", key))
        present = [p for p in layers if isinstance(get_path(data, p), dict)]
        target: JsonPath = ("endpoints", key)
        if not isinstance(endpoints[key], dict) or present == [target]:
            # Not a mapping (e.g. `api:` left empty): the schema reports it where it is written.
            merged[key] = endpoints[key]
            continue
        merged[key] = _merge(document, present, target, (), positions)
    return Document(document.file, {**data, "endpoints": merged}, positions)


def _merge(
    document: Document,
    layers: list[JsonPath],
    target: JsonPath,
    relative: JsonPath,
    positions: dict[JsonPath, Mark],
) -> Any:
    """Merge the values at `layers` (lowest first) into `target`, remapping their positions."""
    top = layers[-1]
    values = [get_path(document.data, layer) for layer in layers]
    if not isinstance(values[-1], dict):
        _copy_positions(document, top, target, positions)
        return values[-1]
    # Only the dict layers above the last non-dict one take part.
    start = max((i for i, v in enumerate(values) if not isinstance(v, dict)), default=-1) + 1
    layers, values = layers[start:], values[start:]
    positions[target] = document.positions.get(top, positions.get(target, Mark(1, 1)))
    exclusive = EXCLUSIVE_KEYS.get(relative, frozenset())
    result: dict[str, Any] = {}
    for value in values:
        if exclusive & value.keys():
            for dropped in exclusive - value.keys():
                result.pop(dropped, None)
        for key in value:
            result.setdefault(key, None)  # keys keep the order of their first appearance
    for key in list(result):
        key_layers = [
            (*layer, key) for layer, value in zip(layers, values, strict=True) if key in value
        ]
        result[key] = _merge(document, key_layers, (*target, key), (*relative, key), positions)
    return result


def _copy_positions(
    document: Document, source: JsonPath, target: JsonPath, positions: dict[JsonPath, Mark]
) -> None:
    """Give `target`'s subtree the marks of `source`'s, walking only that subtree (a scan of every
    position per merged value would make overlays quadratic in the file's size)."""
    stack: list[tuple[JsonPath, Any]] = [((), get_path(document.data, source))]
    while stack:
        relative, value = stack.pop()
        mark = document.positions.get((*source, *relative))
        if mark is not None:
            positions[(*target, *relative)] = mark
        if isinstance(value, dict):
            stack.extend(((*relative, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*relative, i), v) for i, v in enumerate(value))
