"""From a handler's signature to its keyword arguments, planned once per route at start-up.

``def update_user(user_id: int, name: str, request: Request)`` behind ``POST /users/{user_id}``
takes ``user_id`` from the path, ``name`` from the JSON body's top-level key and ``request``
as the Starlette request. GET and DELETE take their fields from the query string instead (a
DELETE sent with a JSON body takes them from its keys too); a ``bytes`` parameter receives the
raw body (and moves the fields to the query string).

A ``multipart/form-data`` or ``application/x-www-form-urlencoded`` body binds as a form: fields
from its text fields (parsed like query strings), ``bytes`` parameters from the uploaded file of
their name (its content), ``UploadFile`` parameters to the upload itself (filename, content
type). A parameter annotated with a pydantic model receives the whole body when it is the only
body field (FastAPI's rule), validated by the model.

Unknown keys are refused (422) unless the service ignores them (``unknown_keys="ignore"``), the
handler takes ``**kwargs`` (they are passed on) or the ``Request`` (it may read them itself).
A route with ``envelope="input"`` also takes RunPod's queue request ``{"input": {...}}``: the
object under ``input`` is then the body (``Binding.unwrap``).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.convertors import StringConvertor
from starlette.datastructures import UploadFile
from starlette.requests import Request

from .coercion import (
    Converter,
    Invalid,
    is_pydantic_model,
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
UnknownKeys = Literal["reject", "ignore"]
# RunPod's queue request: {"input": {...}} and, beside it, options of the job, not arguments
ENVELOPE_OPTIONS = frozenset({"webhook", "policy", "s3Config"})

_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    name: str
    annotation: Any
    default: Any
    convert: Converter | None  # for the value from its own source (JSON, or path/query text)
    many: bool = False  # a query list: every repeated key is collected
    text: Converter | None = None  # for a value from a query string or form field
    upload: bool = False  # receives the UploadFile itself, not its bytes

    @property
    def required(self) -> bool:
        return self.default is _EMPTY


def _error(loc: Iterable[str | int], kind: str, msg: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": kind}


@dataclass(frozen=True)
class Form:
    """A decoded form body: every value of every field, text or ``UploadFile``."""

    items: list[tuple[str, str | UploadFile]]

    def close(self) -> None:
        for _, value in self.items:
            if not isinstance(value, str):
                value.file.close()


@dataclass(frozen=True)
class Binding:
    path: dict[str, Param]
    fields: dict[str, Param]
    source: Literal["query", "body"]
    request: str | None  # name of the parameter that receives the Request
    raw: str | None  # name of the parameter that receives the body bytes
    extra: bool  # **kwargs: unknown keys are accepted
    reads_body: bool  # the runtime decodes the body (an object of fields, or a form)
    taken: frozenset[str]  # names never accepted as fields (path, request, raw)
    files: dict[str, Param]  # bytes / UploadFile parameters: uploaded files of a form
    ignore_unknown: bool = False  # unknown keys are dropped instead of refused
    whole: str | None = None  # a pydantic model parameter that receives the whole body
    envelope: str | None = None  # "input": RunPod's {"input": {...}} is taken too
    query_body: bool = False  # DELETE: fields from the query, and from a JSON body if sent

    def unwrap(self, body: Any) -> tuple[Any, bool]:
        """``(body, True)`` for RunPod's ``{"input": {...}}`` on an enveloped route."""
        key = self.envelope
        if key is None or type(body) is not dict:
            return body, False
        inner = body.get(key)
        if type(inner) is dict and all(k == key or k in ENVELOPE_OPTIONS for k in body):
            return inner, True
        return body, False

    def bind(
        self,
        path_params: dict[str, Any],
        query: list[tuple[str, str]],
        body: Any,
        raw: bytes | None,
        request: Request | None,
    ) -> tuple[dict[str, Any], Errors]:
        """Keyword arguments for the handler, plus every problem found (422 when not empty).

        ``body``: the decoded JSON/msgpack value, a ``Form``, or ``None`` (none was read)."""
        kwargs: dict[str, Any] = {}
        errors: Errors = []
        for name, value in path_params.items():
            param = self.path.get(name)
            if param is not None and param.convert is not None and isinstance(value, str):
                try:
                    value = param.convert(value)
                except Invalid as err:
                    errors.extend(err.problems("path", name))
                    continue
            kwargs[name] = value
        if isinstance(body, Form):
            self._bind_form(body, query, kwargs, errors)
        elif self.whole is not None:
            self._bind_whole(body, raw, kwargs, errors)
        elif self.source == "body":
            self._bind_fields(body or {}, {}, kwargs, errors)
        elif self.query_body and body:
            self._bind_fields(body, self._collect_query(query), kwargs, errors)
        elif self.fields or self.extra or query:
            self._bind_fields({}, self._collect_query(query), kwargs, errors)
        if self.files and not isinstance(body, Form):
            for name, param in self.files.items():
                if name == self.raw:  # the body as it came
                    kwargs[name] = raw if raw or param.required else param.default
                elif name in self.fields:  # `bytes | None`: bound as a field
                    continue
                elif not param.required:
                    kwargs[name] = param.default
                else:
                    errors.append(_error(("body", name), "missing", "Field required"))
        if self.request is not None:
            kwargs[self.request] = request
        return kwargs, errors

    def _collect_query(self, query: Iterable[tuple[str, Any]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, value in query:
            param = self.fields.get(key)
            if param is not None and param.many:
                values.setdefault(key, []).append(value)
            else:
                values[key] = value  # the last one wins, as in Starlette's QueryParams
        return values

    def _bind_fields(
        self,
        decoded: Mapping[str, Any],
        texts: Mapping[str, Any],
        kwargs: dict[str, Any],
        errors: Errors,
        text_source: Source | Mapping[str, Source] = "query",
        fields: dict[str, Param] | None = None,
    ) -> None:
        """Fields from ``decoded`` (JSON keys, at ``body``) or else ``texts`` (query strings or
        form fields, at ``text_source``), then what to do with the keys no field names."""
        seen = 0
        for name, param in (self.fields if fields is None else fields).items():
            if name in decoded:
                source: Source = "body"
                value = decoded[name]
                convert = param.convert
            elif name in texts:
                source = _where(text_source, name)
                value = texts[name]
                convert = param.text
            else:
                if param.required:
                    where = "query" if self.source == "query" and not decoded else "body"
                    errors.append(_error((where, name), "missing", "Field required"))
                continue
            seen += 1
            if convert is not None:
                try:
                    value = convert(value)
                except Invalid as err:
                    errors.extend(err.problems(source, name))
                    continue
            kwargs[name] = value
        if seen == len(decoded) + len(texts):  # every key named a field (none in both)
            return
        sources: tuple[tuple[Mapping[str, Any], Source | Mapping[str, Source]], ...] = (
            (decoded, "body"),
            (texts, text_source),
        )
        for values, located in sources:
            for name, value in values.items():
                if name in self.fields or name in kwargs:
                    continue
                if self.extra and name not in self.taken and isinstance(name, str):
                    kwargs[name] = value
                elif self.request is None and not self.ignore_unknown:
                    errors.append(
                        _error(
                            (_where(located, name), name),
                            "extra_forbidden",
                            "Extra inputs are not permitted",
                        )
                    )

    def _bind_whole(
        self, body: Any, raw: bytes | None, kwargs: dict[str, Any], errors: Errors
    ) -> None:
        """A pydantic model parameter alone in the body: the body is the model's input."""
        assert self.whole is not None
        param = self.fields[self.whole]
        if not raw:
            if param.required:
                errors.append(
                    {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}
                )
            else:
                kwargs[self.whole] = param.default
            return
        try:
            kwargs[self.whole] = param.convert(body) if param.convert is not None else body
        except Invalid as err:
            errors.extend(err.problems("body"))

    def _bind_form(
        self, form: Form, query: list[tuple[str, str]], kwargs: dict[str, Any], errors: Errors
    ) -> None:
        texts: list[tuple[str, Any]] = []
        uploads: dict[str, list[UploadFile]] = {}
        for name, value in form.items:
            if isinstance(value, str):
                texts.append((name, value))
            else:
                uploads.setdefault(name, []).append(value)
        for name, param in self.files.items():
            found = uploads.pop(name, None)
            text = next((value for key, value in reversed(texts) if key == name), None)
            if found:
                upload = found[-1]
                kwargs[name] = upload if param.upload else upload.file.read()
            elif text is not None and not param.upload:
                kwargs[name] = text.encode()  # a text part where bytes were asked for
            elif param.required:
                errors.append(_error(("body", name), "missing", "Field required"))
            else:
                kwargs[name] = param.default
        form_texts = self._collect_query((k, v) for k, v in texts if k not in self.files)
        fields = {n: p for n, p in self.fields.items() if n not in self.files}
        if self.source == "query":  # beside the raw body, fields may come in the query string
            query_texts = self._collect_query(query)
            locs: dict[str, Source] = {name: "query" for name in query_texts}
            locs.update((name, "body") for name in form_texts)
            merged = {**query_texts, **form_texts}
            self._bind_fields({}, merged, kwargs, errors, locs, fields)
        else:
            self._bind_fields({}, form_texts, kwargs, errors, "body", fields)
        for name in uploads:
            if self.extra and name not in self.taken:
                kwargs[name] = uploads[name][-1]
            elif self.request is None and not self.ignore_unknown:
                errors.append(
                    _error(("body", name), "extra_forbidden", "Extra inputs are not permitted")
                )


def _where(source: Source | Mapping[str, Source], name: str) -> Source:
    return source if isinstance(source, str) else source.get(name, "body")


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


def _file_kind(annotation: Any) -> Literal["bytes", "upload"] | None:
    """``bytes`` / ``UploadFile`` (FastAPI's is Starlette's subclass), optionally ``| None``."""
    members = union_members(annotation)
    if members is not None:
        rest = [unwrap(m) for m in members if m is not type(None)]
        if len(rest) != 1:
            return None
        annotation = rest[0]
    if annotation is bytes:
        return "bytes"
    if inspect.isclass(annotation) and issubclass(annotation, UploadFile):
        return "upload"
    return None


def plan(
    endpoint: Callable[..., Any],
    method: str,
    path_convertors: dict[str, Any],
    unknown_keys: UnknownKeys = "reject",
    envelope: str | None = None,
) -> Binding:
    """Plan how ``endpoint`` is called for ``method`` on a path with ``path_convertors``.

    Raises ``ValueError`` for signatures no request could satisfy, naming the parameter.
    """
    where = getattr(endpoint, "__qualname__", repr(endpoint))
    signature = inspect.signature(endpoint)
    hints = _hints(endpoint)
    path: dict[str, Param] = {}
    files: dict[str, Param] = {}
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
        elif (kind := _file_kind(annotation)) is not None:
            files[name] = Param(name, annotation, parameter.default, None, upload=kind == "upload")
            if raw is None and annotation is bytes:
                raw = name  # the body as it came; `bytes | None` is a field too (msgpack bin)
            elif kind == "bytes":
                loose.append((name, annotation, parameter.default))
        else:
            loose.append((name, annotation, parameter.default))
    missing = set(path_convertors) - set(path)
    if missing and not extra:
        raise ValueError(f"{where}: path parameter {sorted(missing)[0]!r} is not accepted")
    body_method = method in BODY_METHODS
    source: Literal["query", "body"] = "body" if body_method and raw is None else "query"
    fields = {}
    for name, annotation, default in loose:
        # every field can arrive as JSON (a body) or as text (a query string, a form field)
        item = list_item(annotation)
        text = list_of(text_converter(item)) if item is not None else text_converter(annotation)
        convert = json_converter(annotation)
        fields[name] = Param(name, annotation, default, convert, item is not None, text)
    whole = None
    if source == "body" and len(fields) == 1 and not extra:
        (only,) = fields.values()
        if is_pydantic_model(only.annotation) or _optional_model(only.annotation):
            whole = only.name
    query_body = method == "DELETE" and raw is None  # a JSON body, when sent, as in POST
    reads_body = (body_method or query_body) and (
        request is None or bool(fields) or extra or bool(files)
    )
    return Binding(
        path=path,
        fields=fields,
        source=source,
        request=request,
        raw=raw,
        extra=extra,
        reads_body=reads_body,
        taken=frozenset({*path_convertors, *(n for n in (request, raw) if n), *files}),
        files=files,
        ignore_unknown=unknown_keys == "ignore",
        whole=whole,
        envelope=envelope,
        query_body=query_body,
    )


def _optional_model(annotation: Any) -> bool:
    members = union_members(annotation)
    if members is None:
        return False
    rest = [unwrap(m) for m in members if m is not type(None)]
    return len(rest) == 1 and is_pydantic_model(rest[0])
