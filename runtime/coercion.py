"""Light validation by type annotation, compiled once per parameter (no pydantic needed).

``json_converter(int)`` checks a decoded JSON/msgpack value; ``text_converter(int)`` parses a
query, path or form string. Both return ``None`` when there is nothing to check, so the hot path
can skip the call. A failed check raises ``Invalid`` with a FastAPI-style ``type`` and ``msg``.

Decoded values are coerced as FastAPI's (pydantic's) lax mode does: ``"3"`` and ``True`` are
the integers 3 and 1, ``"2.5"`` the float 2.5, ``"yes"``/``1`` the boolean ``True``; a string
is never made from a number. A pydantic model annotation is validated by the model itself
(only code that already imported pydantic has one: this module never imports it).

>>> json_converter(list[int])([1, "2", 3.0])
[1, 2, 3]
>>> text_converter(bool)("yes")
True
"""

from __future__ import annotations

import enum
import inspect
import math
import re
import types
import typing
from collections.abc import Callable
from typing import Any

Converter = Callable[[Any], Any]

_TRUE = frozenset({"true", "1", "yes", "on", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "off", "n", "f"})


class Invalid(Exception):
    """A value does not fit its annotation; ``loc`` is the path below the parameter.

    A pydantic model reports several problems at once: ``details`` holds them (FastAPI's
    ``{"type", "loc", "msg", "input"}`` items, ``loc`` below the parameter)."""

    def __init__(
        self,
        kind: str,
        msg: str,
        loc: tuple[str | int, ...] = (),
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(msg)
        self.kind = kind
        self.msg = msg
        self.loc = loc
        self.details = details

    def under(self, *prefix: str | int) -> Invalid:
        """The same problem, located below ``prefix`` (a list index, a dict key)."""
        details = self.details
        if details is not None:
            details = [{**item, "loc": [*prefix, *item["loc"]]} for item in details]
        return Invalid(self.kind, self.msg, (*prefix, *self.loc), details)

    def problems(self, *prefix: str | int) -> list[dict[str, Any]]:
        """The 422 ``detail`` items, located below ``prefix`` (``"body", "x"``)."""
        if self.details is None:
            return [{"loc": [*prefix, *self.loc], "msg": self.msg, "type": self.kind}]
        return [{**item, "loc": [*prefix, *item["loc"]]} for item in self.details]


def unwrap(annotation: Any) -> Any:
    """``Annotated[X, ...]`` -> ``X``; everything else unchanged."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def union_members(annotation: Any) -> tuple[Any, ...] | None:
    """The members of ``X | Y`` / ``Optional[X]``, or ``None`` when not a union."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(annotation)
    return None


def is_unchecked(annotation: Any) -> bool:
    return annotation in (inspect.Parameter.empty, Any, object) or isinstance(annotation, str)


# --- decoded JSON / msgpack values ----------------------------------------------------------


_INT_TEXT = re.compile(r"\s*[+-]?\d[\d_]*(\.0*)?\s*")


def _int(value: Any) -> int:
    kind = type(value)
    if kind is int:
        return value
    if kind is bool:
        return int(value)
    if kind is float:
        if value.is_integer():
            return int(value)  # JSON Schema counts 2.0 as an integer
        raise Invalid(
            "int_from_float", "Input should be a valid integer, got a number with a fractional part"
        )
    if kind is str:
        return _parse_int(value)
    raise Invalid("int_type", "Input should be a valid integer")


def _float(value: Any) -> float:
    kind = type(value)
    if kind is float:
        return value
    if kind is int or kind is bool:
        return float(value)
    if kind is str:
        return _parse_float(value)
    raise Invalid("float_type", "Input should be a valid number")


def _bool(value: Any) -> bool:
    kind = type(value)
    if kind is bool:
        return value
    if kind is str:
        return _parse_bool(value)
    if (kind is int or kind is float) and value in (0, 1):
        return bool(value)
    if kind is int or kind is float:
        raise Invalid("bool_parsing", "Input should be a valid boolean, unable to interpret input")
    raise Invalid("bool_type", "Input should be a valid boolean")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):  # msgpack bin
        try:
            return bytes(value).decode()
        except UnicodeDecodeError:
            raise Invalid(
                "string_unicode",
                "Input should be a valid string, unable to parse raw data as a unicode string",
            ) from None
    raise Invalid("string_type", "Input should be a valid string")


def _bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        return value.encode()
    raise Invalid("bytes_type", "Input should be valid bytes")


def _none(value: Any) -> None:
    if value is not None:
        raise Invalid("none_required", "Input should be None")


def _list(items: Converter | None) -> Converter:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise Invalid("list_type", "Input should be a valid list")
        if items is None:
            return value
        out = []
        for index, item in enumerate(value):
            try:
                out.append(items(item))
            except Invalid as err:
                raise err.under(index) from None
        return out

    return check


def _dict(values: Converter | None) -> Converter:
    def check(value: Any) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise Invalid("dict_type", "Input should be a valid dictionary")
        if values is None:
            return value
        out = {}
        for key, item in value.items():
            try:
                out[key] = values(item)
            except Invalid as err:
                raise err.under(key) from None
        return out

    return check


def _union(members: list[Converter | None], nullable: bool) -> Converter:
    def check(value: Any) -> Any:
        if value is None and nullable:
            return None
        first: Invalid | None = None
        for member in members:
            if member is None:
                return value
            try:
                return member(value)
            except Invalid as err:
                first = first or err
        assert first is not None
        raise first

    return check


def _literal(options: tuple[Any, ...], parse: bool) -> Converter:
    shown = " or ".join(repr(option) for option in options)
    by_text = {str(option): option for option in options}

    def check(value: Any) -> Any:
        if parse and value in by_text:
            return by_text[value]
        if not parse and value in options:
            return value
        raise Invalid("literal_error", f"Input should be {shown}")

    return check


def _enum(cls: type[enum.Enum], parse: Converter | None) -> Converter:
    shown = " or ".join(repr(member.value) for member in cls)

    def check(value: Any) -> Any:
        try:
            return cls(parse(value) if parse else value)
        except (ValueError, Invalid):
            raise Invalid("enum", f"Input should be {shown}") from None

    return check


def json_converter(annotation: Any) -> Converter | None:
    """A checker for a decoded JSON value of type ``annotation``; ``None`` accepts anything."""
    annotation = unwrap(annotation)
    if is_unchecked(annotation):
        return None
    members = union_members(annotation)
    if members is not None:
        rest = [m for m in members if m is not type(None)]
        return _union([json_converter(m) for m in rest], len(rest) < len(members))
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return _literal(args, parse=False)
    if origin in (list, set, frozenset, tuple):
        return _list(json_converter(_item_type(origin, args)))
    if origin is dict:
        return _dict(json_converter(args[1]) if len(args) == 2 else None)
    simple = {
        int: _int,
        float: _float,
        str: _str,
        bool: _bool,
        bytes: _bytes,
        list: _list(None),
        dict: _dict(None),
        type(None): _none,
        None: _none,
    }
    if annotation in simple:
        return simple[annotation]
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return _enum(annotation, None)
    if is_pydantic_model(annotation):
        return model_converter(annotation)
    return None  # dataclasses, TypedDicts, user classes: passed through unchecked


# --- pydantic models, recognised without importing pydantic -----------------------------------


def is_pydantic_model(annotation: Any) -> bool:
    """Whether ``annotation`` is a subclass of pydantic's ``BaseModel`` (v1 or v2)."""
    if not inspect.isclass(annotation):
        return False
    return any(
        base.__name__ == "BaseModel" and base.__module__.split(".", 1)[0] == "pydantic"
        for base in annotation.__mro__[1:]
    )


def model_converter(model: type) -> Converter:
    """Validate a decoded value with the model; its errors in FastAPI's ``detail`` shape."""
    v2 = getattr(model, "model_validate", None)
    # as FastAPI validates a body (from_attributes: its errors name "object to extract fields")
    validate = (lambda value: v2(value, from_attributes=True)) if v2 else model.parse_obj  # type: ignore[attr-defined]

    def check(value: Any) -> Any:
        try:
            return validate(value)
        except ValueError as err:
            errors = getattr(err, "errors", None)
            if type(err).__name__ != "ValidationError" or errors is None:
                raise
            details = [_fastapi_item(item) for item in errors()]
            first = details[0] if details else {"type": "value_error", "msg": str(err)}
            raise Invalid(first["type"], first["msg"], (), details) from None

    return check


def _fastapi_item(item: dict[str, Any]) -> dict[str, Any]:
    """A pydantic error as FastAPI answers it: type, loc, msg, input (and ctx, JSON-safe)."""
    out: dict[str, Any] = {
        "type": item.get("type", "value_error"),
        "loc": list(item.get("loc", ())),
    }
    out["msg"] = item.get("msg", "")
    if "input" in item:
        out["input"] = _json_safe(item["input"])
    if item.get("ctx"):
        out["ctx"] = {key: _json_safe(value) for key, value in item["ctx"].items()}
    return out


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, BaseException):
        return {}  # as FastAPI's encoder shows a validator's exception
    return str(value)


# --- query and path strings -----------------------------------------------------------------


def _parse_int(text: str) -> int:
    """``"3"``, ``" +3 "``, ``"1_000"`` and ``"3.0"`` are integers, as in pydantic."""
    if _INT_TEXT.fullmatch(text) is not None:
        try:
            return int(text.strip().split(".", 1)[0])
        except ValueError:  # past Python's 4,300-digit conversion limit
            pass
    raise Invalid(
        "int_parsing", "Input should be a valid integer, unable to parse string as an integer"
    )


def _parse_float(text: str) -> float:
    """A finite number: JSON has no NaN or infinity to send back."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isfinite(value):
        return value
    raise Invalid(
        "float_parsing", "Input should be a valid number, unable to parse string as a number"
    )


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise Invalid("bool_parsing", "Input should be a valid boolean, unable to interpret input")


def text_converter(annotation: Any) -> Converter | None:
    """A parser for one query or path string of type ``annotation``; ``None`` keeps the text."""
    annotation = unwrap(annotation)
    if is_unchecked(annotation) or annotation is str:
        return None
    members = union_members(annotation)
    if members is not None:
        rest = [m for m in members if m is not type(None)]
        return _union([text_converter(m) for m in rest], nullable=False)
    if typing.get_origin(annotation) is typing.Literal:
        return _literal(typing.get_args(annotation), parse=True)
    simple: dict[Any, Converter] = {
        int: _parse_int,
        float: _parse_float,
        bool: _parse_bool,
        bytes: str.encode,
    }
    if annotation in simple:
        return simple[annotation]
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        values = {type(member.value) for member in annotation}
        parse = _parse_int if values == {int} else None
        return _enum(annotation, parse)
    return None


def list_item(annotation: Any) -> Any | None:
    """For ``list[X]`` (optionally ``| None``) the item type ``X``; else ``None``.

    Query parameters with a list type collect every repeated key (``?tag=a&tag=b``).
    """
    annotation = unwrap(annotation)
    members = union_members(annotation)
    if members is not None:
        rest = [m for m in members if m is not type(None)]
        if len(rest) != 1:
            return None
        annotation = unwrap(rest[0])
    if annotation is list:
        return Any
    origin = typing.get_origin(annotation)
    if origin in (list, set, frozenset, tuple):
        return _item_type(origin, typing.get_args(annotation))
    return None


def _item_type(origin: Any, args: tuple[Any, ...]) -> Any:
    # tuple[int, str] is positional: only tuple[X, ...] says what every item is
    if origin is tuple:
        return args[0] if len(args) == 2 and args[1] is Ellipsis else Any
    return args[0] if args else Any


def list_of(items: Converter | None) -> Converter:
    """A checker for a list whose items each pass ``items``."""
    return _list(items)
