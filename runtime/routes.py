"""Routes as the generated service declares them, and the table that finds one per request."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from starlette.convertors import Convertor
from starlette.routing import compile_path

if TYPE_CHECKING:
    from .batching import Batch

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

# /ping and /metrics belong to the runtime (/metrics even when metrics are off, so turning them
# on never takes a route away); /execute must never exist (no code arrives over the wire).
RESERVED = frozenset({"/ping", "/metrics", "/execute"})
DOCS_PATHS = frozenset({"/openapi.json", "/docs"})

T = TypeVar("T")


@dataclass(frozen=True)
class Route:
    """One handler behind one method and path template (Starlette syntax: ``/u/{id:int}``)."""

    method: str
    path: str
    endpoint: Callable[..., Any]
    timeout: float | None = None
    max_body: int | None = None
    name: str | None = None
    envelope: str | None = None  # "input": RunPod's queue request {"input": {...}} is taken too
    batch: Batch | None = None  # group concurrent requests into one call (batching.py)


def is_reserved(path: str, docs: bool) -> bool:
    """``/ping``, ``/metrics``, ``/execute`` (and below it), trailing-slash variants; docs
    paths when on."""
    bare = path.rstrip("/") or "/"
    if bare in RESERVED or bare.startswith("/execute/"):
        return True
    return docs and bare in DOCS_PATHS


def openapi_path(path: str) -> str:
    """``/users/{user_id:int}`` -> ``/users/{user_id}``."""
    return re.sub(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_]+)?}", r"{\1}", path)


@dataclass(frozen=True)
class _Template(Generic[T]):
    regex: re.Pattern[str]
    convertors: dict[str, Convertor[Any]]
    by_method: dict[str, T]


class Router(Generic[T]):
    """Static paths by dict lookup first, then parameterized templates in declaration order.

    ``match`` returns ``(item, path_params, allowed)``: ``item`` is ``None`` for 404 (``allowed``
    empty) or 405 (``allowed`` lists the methods the path does serve).
    """

    def __init__(self) -> None:
        self._static: dict[str, dict[str, T]] = {}
        self._templates: dict[str, _Template[T]] = {}

    def add(self, method: str, path: str, item: T) -> None:
        if "{" not in path:
            table = self._static.setdefault(path, {})
        else:
            if path not in self._templates:
                regex, _, convertors = compile_path(path)
                self._templates[path] = _Template(regex, convertors, {})
            table = self._templates[path].by_method
        if method in table:
            raise ValueError(f"Route {method} {path} is declared twice")
        table[method] = item

    def match(self, method: str, path: str) -> tuple[T | None, dict[str, Any], frozenset[str]]:
        allowed: set[str] = set()
        by_method = self._static.get(path)
        if by_method is not None:
            item = by_method.get(method)
            if item is not None:
                return item, {}, frozenset()
            allowed.update(by_method)
        for template in self._templates.values():
            found = template.regex.match(path)
            if found is None:
                continue
            item = template.by_method.get(method)
            if item is None:
                allowed.update(template.by_method)
                continue
            params = {
                key: template.convertors[key].convert(value)
                for key, value in found.groupdict().items()
            }
            return item, params, frozenset()
        return None, {}, frozenset(allowed)
