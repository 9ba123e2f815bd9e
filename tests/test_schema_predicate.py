"""The fast schema check agrees with jsonschema, so skipping jsonschema on valid files is safe.

jsonschema (Draft 2020-12, on the schema as shipped, `$ref`s and all, with `pattern` read as
ECMA-262 reads it) is the oracle everywhere: on every document of the case corpus, on keyword edge
cases, and on random values against every part of the real schema. (Mutated documents are compared
in tests/test_mutation_fuzz.py.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flashctl.compiler.pipeline import compile_file
from flashctl.schema.checker import conforms, inlined_schema, load_schema, validator_class
from flashctl.schema.predicate import Unsupported, compile_predicate

CASES = Path(__file__).parent / "cases"
ORACLE = validator_class()(load_schema())


def test_the_shipped_schema_uses_only_keywords_the_predicate_interprets() -> None:
    # If this fails, a keyword was added to the schema: interpret it in schema_predicate (and
    # add it to the edge cases below), or every valid file pays for importing jsonschema.
    compile_predicate(inlined_schema())


def test_an_unknown_keyword_is_refused_rather_than_ignored() -> None:
    with pytest.raises(Unsupported, match="dependentRequired"):
        compile_predicate({"type": "object", "dependentRequired": {"a": ["b"]}})
    with pytest.raises(Unsupported, match="patternProperties"):
        compile_predicate({"patternProperties": {"^x": {}}, "additionalProperties": False})


def _documents() -> list[Any]:
    params = []
    for case in sorted(p for p in CASES.glob("*/*") if (p / "flash.yaml").is_file()):
        params.append(pytest.param(case, id=f"{case.parent.name}/{case.name}"))
    return params


@pytest.mark.parametrize("case", _documents())
def test_agrees_with_jsonschema_on_every_corpus_document(case: Path) -> None:
    settings_file = case / "case.json"
    extra = json.loads(settings_file.read_text("utf-8")) if settings_file.is_file() else {}
    result = compile_file(
        case / "flash.yaml",
        variables=dict(extra.get("variables", {})),
        environment=extra.get("environment"),
    )
    if result.document is None:
        return  # the YAML did not load: no data to check
    data = result.document.data  # after interpolation and overlays, as check_schema sees it
    assert conforms(data) == ORACLE.is_valid(data)


# Each schema with values on both sides of its edges; jsonschema says which side is which.
EDGES: list[tuple[dict[str, Any], list[Any]]] = [
    ({"type": "integer"}, [0, -3, 3.0, 3.5, True, False, None, "3", 2**70, math.inf, math.nan]),
    ({"type": "number"}, [0, 1.5, True, "1", None, math.inf, math.nan, -(2**80)]),
    ({"type": "boolean"}, [True, False, 0, 1, "true", None]),
    ({"type": "null"}, [None, 0, "", False, []]),
    ({"type": "string"}, ["", "x", 1, None, ["x"]]),
    ({"type": "object"}, [{}, {"a": 1}, [], None, "x"]),
    ({"type": "array"}, [[], [1], {}, "ab", None]),
    ({"type": ["integer", "null"]}, [None, 1, 1.0, 1.5, "1", False]),
    ({"enum": [1, "a", None]}, [1, 1.0, True, "a", "A", None, False, 0]),
    ({"enum": [True]}, [True, 1, 1.0, "true"]),
    ({"enum": [[1, True], {"a": 0}]}, [[1, True], [1, 1], [True, True], {"a": 0}, {"a": False}]),
    ({"const": 1}, [1, 1.0, True, "1", None]),
    ({"const": False}, [False, 0, None, 0.0]),
    ({"pattern": "^[a-z]+$"}, ["abc", "ab1", "", 5, None, "abc\n"]),
    ({"pattern": "b"}, ["abc", "xyz", 1]),
    ({"pattern": "^[a-z]+$"}, ["abc\n", "abc\r", "abc\n\n", "\nabc"]),
    ({"pattern": "^\\d+\\.[\\d]+$"}, ["12.4", "\u0661\u0662.4", "12.\u0664", "12.4\n"]),
    ({"minimum": 1}, [0, 1, 0.999, 1.0, True, False, "0", -math.inf, math.nan]),
    ({"exclusiveMinimum": 0}, [0, 0.0, 1e-300, -1, False, math.nan]),
    ({"maximum": 8}, [8, 8.0001, 9, True, math.inf, math.nan]),
    ({"minItems": 1}, [[], [0], {}, "", None]),
    ({"minProperties": 1}, [{}, {"a": 1}, [], None]),
    ({"required": ["a", "b"]}, [{"a": 1, "b": None}, {"a": 1}, {}, [], "ab"]),
    (
        {"properties": {"a": {"type": "integer"}}, "additionalProperties": False},
        [{}, {"a": 1}, {"a": "1"}, {"b": 1}, {"a": 1, "b": 2}, [], 5],
    ),
    (
        {"properties": {"a": {}}, "additionalProperties": {"type": "string"}},
        [{"a": 1, "b": "x"}, {"b": 1}, {"a": None}],
    ),
    ({"propertyNames": {"pattern": "^[a-z]+$"}}, [{}, {"ab": 1}, {"Ab": 1}, {"": 1}, []]),
    ({"items": {"type": "integer"}}, [[], [1, 2], [1, "2"], [True], "12", {"0": "x"}]),
    ({"items": False}, [[], [1], None]),
    ({"allOf": [{"minimum": 1}, {"maximum": 2}]}, [0, 1, 2, 3, "x"]),
    ({"anyOf": [{"type": "integer"}, {"pattern": "^[0-9]+MB$"}]}, [1, "30MB", "30", 1.5, None]),
    ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, [1, 1.5, "1", 2.0]),
    ({"oneOf": [{"minimum": 0}, {"maximum": 10}]}, [5, -1, 11, "x"]),
    (True, [None, 1, {}]),
    (False, [None, 1, {}]),
    ({"description": "only annotations", "default": 3, "examples": [1]}, [None, "x", []]),
]


@pytest.mark.parametrize(("schema", "instances"), EDGES, ids=[str(i) for i in range(len(EDGES))])
def test_agrees_with_jsonschema_on_keyword_edges(
    schema: dict[str, Any], instances: list[Any]
) -> None:
    check, oracle = compile_predicate(schema), validator_class()(schema)
    for instance in instances:
        assert check(instance) == oracle.is_valid(instance), (schema, instance)


def test_a_pattern_anchors_the_whole_string_as_in_ecma_262() -> None:
    # Python's `$` also matches before a final newline; JSON Schema's (ECMA-262's) does not.
    for schema in ({"pattern": "^[a-z]+$"}, {"propertyNames": {"pattern": "^[a-z]+$"}}):
        value: Any = "demo\n" if "pattern" in schema else {"demo\n": 1}
        assert not compile_predicate(schema)(value)
        assert not validator_class()(schema).is_valid(value)


def _parts(schema: Any, where: str = "#") -> list[tuple[str, Any]]:
    """Every subschema of the inlined schema, with where it is."""
    if not isinstance(schema, dict):
        return []
    found = [(where, schema)]
    for key, value in schema.items():
        if key in ("properties", "$defs"):
            for name, sub in value.items():
                found += _parts(sub, f"{where}/{key}/{name}")
        elif key in ("items", "additionalProperties", "propertyNames"):
            found += _parts(value, f"{where}/{key}")
        elif key in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(value):
                found += _parts(sub, f"{where}/{key}/{i}")
    return found


PARTS = _parts(inlined_schema())
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["30MB", "1GB", "GET", "post", "/x", "api", "a-b", "0", "", "AMPERE_16"]),
    st.text(max_size=6),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["min", "max", "gpu", "cpu", "secret", "method", "path", "x"]),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=8,
)


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(part=st.sampled_from(PARTS), value=VALUES)
def test_agrees_with_jsonschema_on_random_values_for_every_part_of_the_schema(
    part: tuple[str, Any], value: Any
) -> None:
    where, schema = part
    assert compile_predicate(schema)(value) == validator_class()(schema).is_valid(value), where
