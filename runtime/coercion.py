"""Light validation by type annotation, compiled once per parameter (no pydantic).

``json_converter(int)`` checks a decoded JSON/msgpack value; ``text_converter(int)`` parses a
query or path string. Both return ``None`` when there is nothing to check, so the hot path can
skip the call. A failed check raises ``Invalid`` with a FastAPI-style ``type`` and ``msg``.

>>> json_converter(list[int])([1, 2.0])
[1, 2]
>>> text_converter(bool)("yes")
True
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

Converter = Callable[[Any], Any]

_TRUE = frozenset({"true", "1", "yes", "on", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "off", "n", "f"})


class Invalid(Exception):
    """A value does not fit its annotation; ``loc`` is the path below the parameter."""

    def __init__(self, kind: str, msg: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(msg)
        self.kind = kind
        self.msg = msg
        self.loc = loc


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


def _int(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # JSON Schema counts 2.0 as an integer
    raise Invalid("int_type", "Input should be a valid integer")


def _float(value: Any) -> float:
    if type(value) is float or (isinstance(value, int) and not isinstance(value, bool)):
        return float(value)
    raise Invalid("float_type", "Input should be a valid number")


def _type_check(cls: type, kind: str, msg: str) -> Converter:
    def check(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        raise Invalid(kind, msg)

    return check


_str = _type_check(str, "string_type", "Input should be a valid string")
_bool = _type_check(bool, "bool_type", "Input should be a valid boolean")
_bytes = _type_check((bytes, bytearray), "bytes_type", "Input should be valid bytes")  # type: ignore[arg-type]


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
                raise Invalid(err.kind, err.msg, (index, *err.loc)) from None
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
                raise Invalid(err.kind, err.msg, (key, *err.loc)) from None
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
    return None  # dataclasses, TypedDicts, user classes: passed through unchecked


# --- query and path strings -----------------------------------------------------------------


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise Invalid(
            "int_parsing", "Input should be a valid integer, unable to parse string as an integer"
        ) from None


def _parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise Invalid(
            "float_parsing", "Input should be a valid number, unable to parse string as a number"
        ) from None


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
