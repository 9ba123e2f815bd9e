"""From a handler's signature to its keyword arguments, planned once per route at start-up.

``def update_user(user_id: int, name: str, request: Request)`` behind ``POST /users/{user_id}``
takes ``user_id`` from the path, ``name`` from the JSON body's top-level key and ``request``
as the Starlette request. GET and DELETE take their fields from the query string instead; a
``bytes`` parameter receives the raw body (and moves the fields to the query string).

Unknown keys are refused (422) unless the handler takes ``**kwargs`` (they are passed on) or
the ``Request`` (it may read them itself).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from starlette.convertors import StringConvertor
from starlette.requests import Request

from .coercion import (
    Converter,
    Invalid,
    json_converter,
    list_item,
    list_of,
    text_converter,
    union_members,
    unwrap,
)

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
Source = Literal["path", "query", "body"]
Errors = list[dict[str, Any]]

_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    name: str
    annotation: Any
    default: Any
    convert: Converter | None
    many: bool = False  # a query list: every repeated key is collected

    @property
    def required(self) -> bool:
        return self.default is _EMPTY


def _error(loc: Iterable[str | int], kind: str, msg: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": kind}


@dataclass(frozen=True)
class Binding:
    path: dict[str, Param]
    fields: dict[str, Param]
    source: Literal["query", "body"]
    request: str | None  # name of the parameter that receives the Request
    raw: str | None  # name of the parameter that receives the body bytes
    extra: bool  # **kwargs: unknown keys are accepted
    reads_body: bool  # the runtime decodes the body as an object of fields
    taken: frozenset[str]  # names never accepted as fields (path, request, raw)

    def bind(
        self,
        path_params: dict[str, Any],
        query: list[tuple[str, str]],
        body: dict[str, Any] | None,
        raw: bytes | None,
        request: Request | None,
    ) -> tuple[dict[str, Any], Errors]:
        """Keyword arguments for the handler, plus every problem found (422 when not empty)."""
        kwargs: dict[str, Any] = {}
        errors: Errors = []
        for name, value in path_params.items():
            param = self.path.get(name)
            if param is not None and param.convert is not None and isinstance(value, str):
                try:
                    value = param.convert(value)
                except Invalid as err:
                    errors.append(_error(("path", name, *err.loc), err.kind, err.msg))
                    continue
            kwargs[name] = value
        if self.source == "body":
            self._bind_fields("body", body or {}, kwargs, errors)
        elif self.fields or self.extra or query:
            self._bind_fields("query", self._collect_query(query), kwargs, errors)
        if self.raw is not None:
            kwargs[self.raw] = raw if raw is not None else b""
        if self.request is not None:
            kwargs[self.request] = request
        return kwargs, errors

    def _collect_query(self, query: list[tuple[str, str]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in query:
            param = self.fields.get(key)
            if param is not None and param.many:
                values.setdefault(key, []).append(value)
            else:
                values[key] = value  # the last one wins, as in Starlette's QueryParams
        return values

    def _bind_fields(
        self, source: Source, values: dict[str, Any], kwargs: dict[str, Any], errors: Errors
    ) -> None:
        seen = 0
        for name, param in self.fields.items():
            if name in values:
                seen += 1
                value = values[name]
                if param.convert is not None:
                    try:
                        value = param.convert(value)
                    except Invalid as err:
                        errors.append(_error((source, name, *err.loc), err.kind, err.msg))
                        continue
                kwargs[name] = value
            elif param.required:
                errors.append(_error((source, name), "missing", "Field required"))
        if seen == len(values):
            return
        for name, value in values.items():
            if name in self.fields:
                continue
            if self.extra and name not in self.taken and isinstance(name, str):
                kwargs[name] = value
            elif self.request is None:  # a handler given the Request may read the rest itself
                errors.append(
                    _error((source, name), "extra_forbidden", "Extra inputs are not permitted")
                )


def _hints(endpoint: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(endpoint, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        return {}


def _is_request(annotation: Any) -> bool:
    members = union_members(annotation)  # Request | None counts too
    if members is not None:
        return any(_is_request(member) for member in members)
    return inspect.isclass(annotation) and issubclass(annotation, Request)


def plan(endpoint: Callable[..., Any], method: str, path_convertors: dict[str, Any]) -> Binding:
    """Plan how ``endpoint`` is called for ``method`` on a path with ``path_convertors``.

    Raises ``ValueError`` for signatures no request could satisfy, naming the parameter.
    """
    where = getattr(endpoint, "__qualname__", repr(endpoint))
    signature = inspect.signature(endpoint)
    hints = _hints(endpoint)
    path: dict[str, Param] = {}
    loose: list[tuple[str, Any, Any]] = []
    request = raw = None
    extra = False
    for name, parameter in signature.parameters.items():
        annotation = unwrap(hints.get(name, parameter.annotation))
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            extra = True
        elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        elif parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ValueError(f"{where}: positional-only parameter {name!r} cannot be bound")
        elif name in path_convertors:
            typed = not isinstance(path_convertors[name], StringConvertor)
            # a typed converter ({id:int}) already converted; a plain {id} is parsed here
            convert = None if typed else text_converter(annotation)
            path[name] = Param(name, annotation, parameter.default, convert)
        elif _is_request(annotation):
            request = name
        elif annotation is bytes and raw is None:
            raw = name
        else:
            loose.append((name, annotation, parameter.default))
    missing = set(path_convertors) - set(path)
    if missing and not extra:
        raise ValueError(f"{where}: path parameter {sorted(missing)[0]!r} is not accepted")
    source: Literal["query", "body"] = "body" if method in BODY_METHODS and raw is None else "query"
    fields = {}
    for name, annotation, default in loose:
        item = list_item(annotation) if source == "query" else None
        if item is not None:
            fields[name] = Param(name, annotation, default, list_of(text_converter(item)), True)
        else:
            convert = json_converter(annotation) if source == "body" else text_converter(annotation)
            fields[name] = Param(name, annotation, default, convert)
    reads_body = source == "body" and (request is None or bool(fields) or extra)
    return Binding(
        path=path,
        fields=fields,
        source=source,
        request=request,
        raw=raw,
        extra=extra,
        reads_body=reads_body,
        taken=frozenset({*path_convertors, *(n for n in (request, raw) if n)}),
    )
