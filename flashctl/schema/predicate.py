"""The schema compiled to a yes/no predicate: the fast path for documents that are valid.

Most files `flashctl validate` sees are valid, and then jsonschema only has to say "no errors".
Importing it costs about 100 ms (it builds its whole metaschema registry), a third of the start-up
budget (B4), so a valid document is confirmed by this predicate instead, and jsonschema is
imported only to explain a document the predicate rejects.

It must never accept what jsonschema rejects. So it interprets only the keywords listed in
`_KEYWORDS`, exactly as jsonschema's Draft 2020-12 validator does (types, `enum` equality that
tells `true` from `1`); any other keyword makes `compile_predicate` raise `Unsupported`, and the
caller then asks jsonschema every time. Three readings part from stock jsonschema, on both
sides alike (`flashctl.schema.checker.validator_class`): JSON Schema patterns are ECMA-262, where
`$` ends the string, but stock jsonschema runs them through Python's `re.search`, where `$`
also matches before a final newline (so `"demo\n"` would pass `^[a-z]+$`): both read patterns
through `ecma_regex`. An `integer` is written as one (not `8000.0`), and a `number` is finite.
Tests compare the two on the corpus, on mutated documents and on keyword edge cases.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[Any], bool]

# Keywords that never change validity.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"}
)


class Unsupported(Exception):
    """The schema uses a keyword this predicate does not interpret."""


def compile_predicate(schema: Any) -> Predicate:
    """A function telling whether an instance is valid under `schema`, a schema whose local
    `$ref`s are already inlined (`flashctl.schema.checker.inlined_schema`)."""
    if schema is True:
        return _always
    if schema is False:
        return _never
    if not isinstance(schema, dict):
        raise Unsupported(f"schema {schema!r}")
    tests: list[Predicate] = []
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        make = _KEYWORDS.get(keyword)
        if make is None:
            raise Unsupported(keyword)
        tests.append(make(value, schema))
    if not tests:
        return _always
    if len(tests) == 1:
        return tests[0]
    return lambda instance: all(test(instance) for test in tests)


def _always(instance: Any) -> bool:
    return True


def _never(instance: Any) -> bool:
    return False


# ------------------------------------------------------------------------------------ types


def _is_number(instance: Any) -> bool:
    return isinstance(instance, (int, float)) and not isinstance(instance, bool)


def is_finite_number(instance: Any) -> bool:
    """The schema's `number`: finite. YAML has `.inf` and `.nan` (and `1e400` reads as infinity),
    which no setting means and JSON cannot carry; stock jsonschema counts them as numbers."""
    return _is_number(instance) and (isinstance(instance, int) or math.isfinite(instance))


def is_whole_number(instance: Any) -> bool:
    """The schema's `integer`: written as one. Stock jsonschema also counts 3.0 (JSON does not
    tell 3.0 from 3), but YAML does, and `port: 8000.0` would reach the image as `8000.0`."""
    return isinstance(instance, int) and not isinstance(instance, bool)


_TYPES: dict[str, Predicate] = {
    "object": lambda instance: isinstance(instance, dict),
    "array": lambda instance: isinstance(instance, list),
    "string": lambda instance: isinstance(instance, str),
    "boolean": lambda instance: isinstance(instance, bool),
    "null": lambda instance: instance is None,
    "number": is_finite_number,
    "integer": is_whole_number,
}


def _type(value: Any, schema: dict[str, Any]) -> Predicate:
    names = [value] if isinstance(value, str) else list(value)
    try:
        checks = [_TYPES[name] for name in names]
    except (KeyError, TypeError):
        raise Unsupported(f"type {value!r}") from None
    if len(checks) == 1:
        return checks[0]
    return lambda instance: any(check(instance) for check in checks)


# -------------------------------------------------------------------------------- equality


def _equal(one: Any, two: Any) -> bool:
    """JSON equality as jsonschema defines it: `true` is not `1`, `1.0` is `1`."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[key], two[key]) for key in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return False  # `one is two` above already matched a bool with itself
    return bool(one == two)


def _enum(value: Any, schema: dict[str, Any]) -> Predicate:
    options = list(value)
    return lambda instance: any(_equal(instance, option) for option in options)


def _const(value: Any, schema: dict[str, Any]) -> Predicate:
    return lambda instance: _equal(instance, value)


# ------------------------------------------------------------------- strings, numbers, sizes


@functools.lru_cache(maxsize=256)
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """`pattern` read as ECMA-262 reads it: `$` only at the very end (Python's `\\Z`), `\\d` only
    ASCII digits. Searched, not matched, as JSON Schema says.

    >>> bool(ecma_regex("^[a-z]+$").search("demo\\n")), bool(re.search("^[a-z]+$", "demo\\n"))
    (False, True)
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            if escaped == "d":
                out.append("0-9" if in_class else "[0-9]")
            else:
                out.append(char + escaped)
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
        i += 1
    return re.compile("".join(out))


def _pattern(value: Any, schema: dict[str, Any]) -> Predicate:
    search = ecma_regex(value).search
    return lambda instance: not isinstance(instance, str) or search(instance) is not None


def _minimum(value: Any, schema: dict[str, Any]) -> Predicate:
    return lambda instance: not is_finite_number(instance) or not instance < value


def _exclusive_minimum(value: Any, schema: dict[str, Any]) -> Predicate:
    return lambda instance: not is_finite_number(instance) or not instance <= value


def _maximum(value: Any, schema: dict[str, Any]) -> Predicate:
    return lambda instance: not is_finite_number(instance) or not instance > value


def _min_items(value: Any, schema: dict[str, Any]) -> Predicate:
    return lambda instance: not isinstance(instance, list) or len(instance) >= value


def _min_properties(value: Any, schema: dict[str, Any]) -> Predicate:
    return lambda instance: not isinstance(instance, dict) or len(instance) >= value


# ------------------------------------------------------------------------ objects and arrays


def _required(value: Any, schema: dict[str, Any]) -> Predicate:
    keys = list(value)
    return lambda instance: not isinstance(instance, dict) or all(k in instance for k in keys)


def _properties(value: Any, schema: dict[str, Any]) -> Predicate:
    checks = {key: compile_predicate(sub) for key, sub in value.items()}

    def properties(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        return all(check(instance[key]) for key, check in checks.items() if key in instance)

    return properties


def _additional_properties(value: Any, schema: dict[str, Any]) -> Predicate:
    if "patternProperties" in schema:
        raise Unsupported("patternProperties")
    known = frozenset(schema.get("properties", {}))
    check = compile_predicate(value)

    def additional(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        return all(check(item) for key, item in instance.items() if key not in known)

    return additional


def _property_names(value: Any, schema: dict[str, Any]) -> Predicate:
    check = compile_predicate(value)
    return lambda instance: not isinstance(instance, dict) or all(check(k) for k in instance)


def _items(value: Any, schema: dict[str, Any]) -> Predicate:
    if "prefixItems" in schema:
        raise Unsupported("prefixItems")
    check = compile_predicate(value)
    return lambda instance: not isinstance(instance, list) or all(check(i) for i in instance)


# ------------------------------------------------------------------------------ combinators


def _all_of(value: Any, schema: dict[str, Any]) -> Predicate:
    checks = [compile_predicate(sub) for sub in value]
    return lambda instance: all(check(instance) for check in checks)


def _any_of(value: Any, schema: dict[str, Any]) -> Predicate:
    checks = [compile_predicate(sub) for sub in value]
    return lambda instance: any(check(instance) for check in checks)


def _one_of(value: Any, schema: dict[str, Any]) -> Predicate:
    checks = [compile_predicate(sub) for sub in value]
    return lambda instance: sum(1 for check in checks if check(instance)) == 1


_KEYWORDS: dict[str, Callable[[Any, dict[str, Any]], Predicate]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "minimum": _minimum,
    "exclusiveMinimum": _exclusive_minimum,
    "maximum": _maximum,
    "minItems": _min_items,
    "minProperties": _min_properties,
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional_properties,
    "propertyNames": _property_names,
    "items": _items,
    "allOf": _all_of,
    "anyOf": _any_of,
    "oneOf": _one_of,
}
