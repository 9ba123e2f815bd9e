"""The JSON Schema of flash.yaml: loading it, checking a document, and filling its defaults.

`schemas/flash.schema.json` is the single source of truth for shape and defaults; the model reads
defaults through `with_defaults`, never from a second copy. Schema errors are reported at the
offending node (an unknown key at the key, a wrong value at the value), in words a user can act on.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flashctl.compiler.document import Document, render_path
from flashctl.problems import JsonPath, Problem


@functools.cache
def schema_text() -> str:
    """The schema exactly as shipped (what `flashctl schema` prints)."""
    # A plain file read: importlib.resources costs ~10 ms of `validate`'s start-up (B4), and the
    # schema is always a file on disk (wheel, sdist or editable install alike).
    import flashctl.schemas

    folder = next(iter(flashctl.schemas.__path__))
    return (Path(folder) / "flash.schema.json").read_text("utf-8")


@functools.cache
def load_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


def conforms(data: Any) -> bool:
    """Whether `data` is valid, without importing jsonschema (see `schema_predicate`). False
    means "ask jsonschema", which is also the answer when the schema uses a keyword the
    predicate does not interpret."""
    return _predicate()(data)


@functools.cache
def _predicate() -> Callable[[Any], bool]:
    from flashctl.schema.predicate import Unsupported, compile_predicate

    try:
        return compile_predicate(inlined_schema())
    except Unsupported:
        return lambda data: False


@functools.cache
def _validator() -> Any:
    # Local $refs inlined: the same checks, without a registry lookup per endpoint and route.
    return validator_class()(inlined_schema())


@functools.cache
def validator_class() -> Any:
    """jsonschema's Draft 2020-12 validator, reading `pattern` as ECMA-262 does (`^[a-z]+$`
    refuses `"demo\\n"`), `integer` as written so (not 8000.0) and `number` as finite; the
    predicate reads them the same way (see `schema_predicate`)."""
    from jsonschema import Draft202012Validator, ValidationError, validators

    from flashctl.schema.predicate import ecma_regex, is_finite_number, is_whole_number

    def pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
        if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")

    types = Draft202012Validator.TYPE_CHECKER.redefine_many(
        {
            "number": lambda checker, instance: is_finite_number(instance),
            "integer": lambda checker, instance: is_whole_number(instance),
        }
    )
    return validators.extend(Draft202012Validator, {"pattern": pattern}, type_checker=types)


@functools.cache
def inlined_schema() -> dict[str, Any]:
    """The schema with its local `$ref`s inlined, for walking it (validator, defaults)."""
    return dict(_inline_refs(load_schema(), load_schema()["$defs"]))


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """`node` with every `{"$ref": "#/$defs/x"}` replaced by (a merge with) `defs["x"]`; the
    schema has no recursive definitions, so this terminates."""
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return _inline_refs({**defs[ref.rsplit("/", 1)[-1]], **rest}, defs)
    return {k: _inline_refs(v, defs) for k, v in node.items()}


def check_schema(document: Document, *, dedupe: bool = True) -> list[Problem]:
    """Every schema violation in `document`, each at its node; with `dedupe`, one per position
    and kind (the form to report; repairs need every path, aliases and defaults included)."""
    # A bad value under `defaults:` is also inherited by every endpoint: report it once, where
    # it is written (the schema lists `defaults` before `endpoints`, so that message comes first).
    if conforms(document.data):
        return []  # valid: no need to import jsonschema, which only explains what is wrong
    problems: dict[tuple[int, int, str], Problem] = {}
    for error in _validator().iter_errors(document.data):
        specific = _most_specific(error)
        for problem in _problems_for(document, specific):
            kind = f"{specific.validator}:{problem.path[-1] if problem.path else ''}"
            if not dedupe:
                kind += repr(problem.path)
            problems.setdefault((problem.line, problem.column, kind), problem)
    return sorted(problems.values())


def _most_specific(error: Any) -> Any:
    """For anyOf/oneOf, the branch error that got furthest, unless all fail at the same node."""
    from jsonschema.exceptions import best_match

    if error.validator in ("anyOf", "oneOf") and error.context:
        deeper = [e for e in error.context if len(e.absolute_path) > len(error.absolute_path)]
        if deeper:
            return _most_specific(best_match(deeper))
    return error


def _problems_for(document: Document, error: Any) -> list[Problem]:
    path: JsonPath = tuple(error.absolute_path)
    where = render_path(path)
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        return [
            document.problem(
                (*path, key),
                "schema",
                f"unknown key '{key}' in {where}{_suggest(key, allowed)}",
                at_key=True,
            )
            for key in extra
        ]
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [document.problem(path, "schema", f"{where}: missing required key '{missing}'")]
    if error.schema_path and "propertyNames" in error.schema_path:
        name = error.instance
        message = f"name '{name}' in {where} must match {error.schema.get('pattern', '')}"
        message += ": lower-case letters, digits and '-', starting with a letter, at most 32"
        return [document.problem((*path, name), "schema", message, at_key=True)]
    return [document.problem(path, "schema", f"{where}: {_describe(error)}")]


def _describe(error: Any) -> str:
    kind, value, schema = error.validator, error.instance, error.schema
    shown = json.dumps(value) if not isinstance(value, (dict, list)) else type(value).__name__
    if len(shown) > 60:
        shown = shown[:57] + "..."
    if isinstance(value, float) and not math.isfinite(value) and kind in TYPE_KEYWORDS:
        return f"{_yaml_float(value)} is not a finite number (YAML reads 1e400 as .inf)"
    if kind == "type":
        expected = schema["type"]
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        hint = ' (quote it: "3.10" is not 3.1)' if isinstance(value, float) else ""
        if isinstance(value, float) and "string" not in expected and value.is_integer():
            hint = f" (write {int(value)})"
        got = _type_name(value)
        if value is not None and not isinstance(value, (dict, list)):
            got += f" {shown}"  # a scalar's value helps; "null null" or "list list" does not
        return f"expected {_article(expected)}, got {got}{hint}"
    if kind == "enum":
        options = ", ".join(json.dumps(o) for o in schema["enum"])
        if isinstance(value, float) and any(isinstance(o, str) for o in schema["enum"]):
            return f'{shown} is a number: quote it ("3.10" is not 3.1); one of {options}'
        return f"{shown} is not one of {options}{_suggest(str(value), schema['enum'])}"
    if kind == "const":
        return f"must be {json.dumps(schema['const'])}, got {shown}"
    choices = schema.get("oneOf") if kind == "oneOf" else None
    if choices and all(len(choice.get("required", ())) == 1 for choice in choices):
        # `oneOf` of required keys: exactly one of them (an endpoint's `routes` or `app`)
        names = " or ".join(f"`{choice['required'][0]}`" for choice in choices)
        return f"give exactly one of {names}"
    if kind in ("anyOf", "oneOf") and "pattern" in json.dumps(schema):
        return f"{shown} is not a size: write a number of bytes or e.g. 30MB, 512KiB, 1GB"
    if kind == "pattern":
        return f"{shown} does not have the expected form ({schema.get('description', '')})"
    if kind in ("minItems", "minProperties") and not value:
        return "must not be empty"
    return str(error.message)


TYPE_KEYWORDS = ("type", "anyOf", "oneOf")


def _yaml_float(value: float) -> str:
    return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    return names.get(type(value), "list" if isinstance(value, list) else "mapping")


def _article(expected: str) -> str:
    if expected == "object":
        return "a mapping"
    if expected == "array":
        return "a list"
    return ("an " if expected[0] in "aeiou" else "a ") + expected


def _suggest(word: str, options: list[Any]) -> str:
    close = difflib.get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def with_defaults(value: Any, schema: dict[str, Any] | None = None) -> Any:
    """A deep copy of `value` with the defaults of `schema` (a part of `inlined_schema()`, the
    whole of it by default) filled in for absent object keys.

    >>> fields = inlined_schema()["$defs"]["endpointFields"]
    >>> with_defaults({"runtime": {}}, fields)["runtime"]["port"]
    8000
    """
    return _fill(copy.deepcopy(value), schema if schema is not None else inlined_schema())


def _fill(value: Any, schema: dict[str, Any]) -> Any:
    for part in schema.get("allOf", []):
        value = _fill(value, part)
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = _fill(value[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            known = schema.get("properties", {})
            for key in value:
                if key not in known:
                    value[key] = _fill(value[key], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value = [_fill(item, schema["items"]) for item in value]
    return value


# Stand-ins for bad top-level values, so the rest of the file is still checked.
STAND_INS: dict[JsonPath, Any] = {("project",): "project", ("version",): 1}


def without_invalid(data: Any, problems: list[Problem]) -> Any:
    """A copy of `data` with the nodes that `problems` point at removed, so defaults take their
    place and the other rules can still check the rest. Routes are replaced by None (not removed)
    so the remaining routes keep their indices, and with them their positions in the file.
    """
    data = copy.deepcopy(data)
    for problem in problems:
        path = problem.path
        if path in STAND_INS:
            data[path[0]] = STAND_INS[path]  # required at the top: keep checking with a stand-in
            continue
        if len(path) >= 2 and isinstance(path[-1], int) and path[-2] != "routes":
            path = path[:-1]  # an invalid item of a list of values: drop the whole list
        _remove(data, path)
    return data


def _remove(data: Any, path: JsonPath) -> None:
    if not path:
        return
    parent = data
    for part in path[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return
    last = path[-1]
    if isinstance(parent, dict) and isinstance(last, str):
        parent.pop(last, None)
    elif isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
        parent[last] = None
