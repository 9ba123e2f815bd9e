"""An OpenAPI 3.1 document built from the routes, their signatures and their docstrings.

Each handler becomes one operation: path and query parameters with schemas from their
annotations, a JSON object request body whose properties are the body parameters (required
unless they have a default), and responses for success, 422 and other errors.
"""

from __future__ import annotations

import enum
import html
import inspect
import json
import re
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from starlette.convertors import FloatConvertor, IntegerConvertor, UUIDConvertor
from starlette.routing import compile_path

from .batching import item_types
from .binding import Param
from .coercion import is_unchecked, union_members, unwrap
from .routes import openapi_path

if TYPE_CHECKING:
    from .operations import Operation
    from .settings import Settings

_SIMPLE: dict[Any, dict[str, Any]] = {
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bool: {"type": "boolean"},
    bytes: {"type": "string", "format": "binary"},
    type(None): {"type": "null"},
    None: {"type": "null"},
    list: {"type": "array"},
    dict: {"type": "object"},
}

_ERROR = {
    "type": "object",
    "properties": {"detail": {}, "request_id": {"type": "string"}},
    "required": ["detail", "request_id"],
}
_VALIDATION_ERROR = {
    "type": "object",
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
                "required": ["loc", "msg", "type"],
            },
        },
        "request_id": {"type": "string"},
    },
    "required": ["detail", "request_id"],
}


def schema_for(annotation: Any) -> dict[str, Any]:
    """JSON Schema of a Python annotation: ``list[int] | None`` ->
    ``{"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]}``."""
    annotation = unwrap(annotation)
    if is_unchecked(annotation):
        return {}
    members = union_members(annotation)
    if members is not None:
        return {"anyOf": [schema_for(member) for member in members]}
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (list, set, frozenset, tuple):
        item = args[0] if args and (origin is not tuple or args[-1] is Ellipsis) else None
        schema: dict[str, Any] = {"type": "array"}
        items = schema_for(item) if item is not None else {}
        if items:
            schema["items"] = items
        if origin in (set, frozenset):
            schema["uniqueItems"] = True
        return schema
    if origin is dict:
        schema = {"type": "object"}
        values = schema_for(args[1]) if len(args) == 2 else {}
        if values:
            schema["additionalProperties"] = values
        return schema
    if annotation in _SIMPLE:
        return dict(_SIMPLE[annotation])
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return {"enum": [member.value for member in annotation]}
    return {}


def _with_default(schema: dict[str, Any], param: Param) -> dict[str, Any]:
    if not param.required:
        try:
            json.dumps(param.default)
        except (TypeError, ValueError):
            return schema
        return {**schema, "default": param.default}
    return schema


def _path_schema(convertor: Any, param: Param | None) -> dict[str, Any]:
    if isinstance(convertor, IntegerConvertor):
        return {"type": "integer", "minimum": 0}
    if isinstance(convertor, FloatConvertor):
        return {"type": "number", "minimum": 0}
    if isinstance(convertor, UUIDConvertor):
        return {"type": "string", "format": "uuid"}
    schema = schema_for(param.annotation) if param is not None else {}
    # a plain {name} segment is at least one character without a slash
    return schema or {"type": "string", "pattern": "^[^/]+$"}


def _operation_id(name: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "operation"
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}_{n}", n + 1
    used.add(candidate)
    return candidate


def _returns(endpoint: Any) -> Any:
    try:
        return typing.get_type_hints(endpoint).get("return", inspect.Parameter.empty)
    except Exception:  # unresolvable forward references: document the result as anything
        return inspect.Parameter.empty


def _success(operation: Operation) -> dict[str, Any]:
    returns = unwrap(_returns(operation.route.endpoint))
    if operation.kind == "stream":
        content = {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/event-stream": {"schema": {"type": "string"}},
        }
    elif returns is bytes:
        content = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    elif inspect.isclass(returns) and returns.__module__.startswith("starlette."):
        return {"description": "Successful Response"}
    else:
        content = {"application/json": {"schema": schema_for(returns)}}
    return {"description": "Successful Response", "content": content}


def _operation(operation: Operation, used: set[str]) -> dict[str, Any]:
    route = operation.route
    binding = operation.binding
    doc = inspect.getdoc(route.endpoint) or ""
    summary, _, description = doc.partition("\n")
    name = route.name or f"{route.method.lower()}_{route.path}"
    spec: dict[str, Any] = {"operationId": _operation_id(name, used)}
    if route.name and ":" in route.name:
        spec["tags"] = [route.name.split(":", 1)[0]]
    if summary:
        spec["summary"] = summary.strip()
    if description.strip():
        spec["description"] = description.strip()
    _, _, convertors = compile_path(route.path)
    parameters: list[dict[str, Any]] = [
        {
            "name": key,
            "in": "path",
            "required": True,
            "schema": _path_schema(convertor, binding.path.get(key)),
        }
        for key, convertor in convertors.items()
    ]
    if binding.source == "query":
        for param in binding.fields.values():
            parameters.append(
                {
                    "name": param.name,
                    "in": "query",
                    "required": param.required,
                    "schema": _with_default(schema_for(param.annotation), param),
                }
            )
    if parameters:
        spec["parameters"] = parameters
    if binding.raw is not None:
        spec["requestBody"] = {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        }
    elif binding.whole is not None:  # a pydantic model: the model validates the body
        model = binding.fields[binding.whole]
        spec["requestBody"] = {
            "required": model.required,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    elif binding.reads_body and binding.source == "body":
        body: dict[str, Any] = {
            "type": "object",
            "properties": {
                param.name: _with_default(schema_for(param.annotation), param)
                for param in binding.fields.values()
            },
        }
        required = [param.name for param in binding.fields.values() if param.required]
        if required:
            body["required"] = required
        if not (binding.extra or binding.ignore_unknown) and binding.request is None:
            body["additionalProperties"] = False
        spec["requestBody"] = {
            "required": bool(required),
            "content": {"application/json": {"schema": body}},
        }
    success = _success(operation)
    if operation.batcher is not None:  # a request is one item of the handler's list
        item, result = item_types(route.endpoint)
        item_schema = {"application/json": {"schema": schema_for(item)}}
        spec["requestBody"] = {"required": True, "content": item_schema}
        success["content"] = {"application/json": {"schema": schema_for(result)}}
    spec["responses"] = {
        "200": success,
        "422": {
            "description": "Validation Error",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
            },
        },
        "default": {
            "description": "Error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    }
    return spec


def document(operations: Sequence[Operation], settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the service (``/ping`` included)."""
    paths: dict[str, dict[str, Any]] = {
        "/ping": {
            "get": {
                "operationId": "ping",
                "summary": "Health: 204 while starting, 200 when ready, 503 failed or draining",
                "parameters": [
                    {
                        "name": "ready",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {"description": "Ready"},
                    "204": {"description": "Starting"},
                    "503": {"description": "Failed to start or draining"},
                },
            }
        }
    }
    used = {"ping"}
    for operation in operations:
        item = paths.setdefault(openapi_path(operation.route.path), {})
        item[operation.route.method.lower()] = _operation(operation, used)
    return {
        "openapi": "3.1.0",
        "info": {"title": settings.title, "version": settings.version},
        "paths": paths,
        "components": {"schemas": {"Error": _ERROR, "HTTPValidationError": _VALIDATION_ERROR}},
    }


_DOCS_PAGE = """<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>
SwaggerUIBundle({{url: "openapi.json", dom_id: "#swagger-ui"}});
</script>
</body>
</html>
"""


def docs_page(title: str) -> str:
    """A Swagger UI page (assets from a CDN) reading ``openapi.json`` next to it, so it also
    works when the service is mounted below a prefix."""
    return _DOCS_PAGE.format(title=html.escape(title))
