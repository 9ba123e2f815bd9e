"""Route path templates: parsing `/users/{user_id:int}` into segments (checks and render)."""

from __future__ import annotations

import re
from typing import NamedTuple

CONVERTERS = ("str", "int", "float", "path", "uuid")
_PARAM = re.compile(r"^\{(?P<name>[^}:]*)(?::(?P<converter>[^}]*))?\}\Z")
_STATIC = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@%-]+\Z")


class Param(NamedTuple):
    name: str
    converter: str


class Segment(NamedTuple):
    text: str
    param: Param | None = None


def segments(path: str) -> list[Segment]:
    """Split a path template into segments; parameters carry name and converter.

    >>> [s.param or s.text for s in segments("/users/{id:int}")]
    ['users', Param(name='id', converter='int')]
    """
    result = []
    for text in path.strip("/").split("/") if path.strip("/") else []:
        match = _PARAM.match(text)
        if match:
            result.append(Segment(text, Param(match["name"], match["converter"] or "str")))
        else:
            result.append(Segment(text))
    return result


def params(path: str) -> list[Param]:
    return [s.param for s in segments(path) if s.param]


def shape(path: str) -> str:
    """The path with parameter names erased: two routes of equal shape match the same URLs.

    >>> shape("/u/{id}") == shape("/u/{uid}")
    True
    """
    parts = []
    for s in segments(path):
        parts.append(
            "{path}" if s.param and s.param.converter == "path" else "{}" if s.param else s.text
        )
    return "/" + "/".join(parts)


def syntax_errors(path: str) -> list[str]:
    """What is wrong with a path template, in words; empty when it is fine."""
    if not path.startswith("/"):
        return [f"path '{path}' must start with '/'"]
    errors: list[str] = []
    if len(path) > 1 and path.endswith("/"):
        errors.append(f"path '{path}' must not end with '/': write '{path.rstrip('/') or '/'}'")
    body = path.strip("/")
    if "//" in body:
        errors.append(f"path '{path}' has an empty segment ('//')")
    seen: set[str] = set()
    parts = body.split("/") if body else []
    for i, text in enumerate(parts):
        if not text:
            continue
        if "{" in text or "}" in text:
            match = _PARAM.match(text)
            if not match:
                errors.append(f"segment '{text}': a parameter must fill its segment, as {{name}}")
                continue
            name, converter = match["name"], match["converter"]
            if not name.isidentifier():
                errors.append(f"parameter '{{{name}}}' needs a Python identifier as its name")
            if converter is not None and converter not in CONVERTERS:
                errors.append(
                    f"parameter '{name}' has unknown converter '{converter}':"
                    f" use one of {', '.join(CONVERTERS)}"
                )
            if converter == "path" and i != len(parts) - 1:
                errors.append(f"parameter '{name}:path' must be the last segment")
            if name in seen:
                errors.append(f"parameter '{name}' appears twice in '{path}'")
            seen.add(name)
        elif not _STATIC.match(text):
            errors.append(f"segment '{text}' has characters a URL path cannot hold unescaped")
    return errors
