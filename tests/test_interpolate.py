"""${VAR} interpolation in string values."""

from __future__ import annotations

from flashctl.compiler.interpolate import interpolate
from flashctl.compiler.loader import load_text


def run(text: str, variables: dict[str, str]):
    doc, _ = load_text(text, "f.yaml")
    problems = interpolate(doc, variables)
    return doc.data, problems


def test_variable_is_replaced_from_the_given_values():
    data, problems = run("image: app:${TAG}\n", {"TAG": "abc"})
    assert (data, problems) == ({"image": "app:abc"}, [])


def test_default_applies_when_unset_or_empty():
    assert run("a: ${X:-dev}\n", {})[0] == {"a": "dev"}
    assert run("a: ${X:-dev}\n", {"X": ""})[0] == {"a": "dev"}


def test_unset_variable_is_an_undefined_variable_problem_at_the_value():
    _, problems = run("a: 1\nb: x-${MISSING}\n", {})
    assert [(p.rule, p.line, p.column) for p in problems] == [("undefined-variable", 2, 4)]
    assert "--var MISSING=" in problems[0].message


def test_required_variable_reports_its_own_message():
    _, problems = run("a: ${KEY:?set KEY to the registry}\n", {})
    assert problems[0].message == "variable KEY is not set: set KEY to the registry"


def test_double_dollar_escapes_a_literal_reference():
    assert run("a: $${HOME}\n", {"HOME": "/root"})[0] == {"a": "${HOME}"}


def test_malformed_reference_is_reported():
    _, problems = run("a: ${1BAD}\n", {})
    assert problems[0].rule == "undefined-variable" and "malformed" in problems[0].message


def test_keys_and_non_strings_are_left_alone():
    assert run("${A}: 5\n", {"A": "x"})[0] == {"${A}": 5}


def test_a_default_may_hold_references_read_only_when_it_is_used():
    text = "a: ${A:-${B}}\nb: x-${A:-${B:-${C:-dev}}}-y\nc: ${A:-$${B}}\n"
    assert run(text, {"B": "b"})[0] == {"a": "b", "b": "x-b-y", "c": "${B}"}
    assert run(text, {"A": "a"}) == ({"a": "a", "b": "x-a-y", "c": "a"}, [])
    data, problems = run(text, {})
    assert data == {"a": "${B}", "b": "x-dev-y", "c": "${B}"}  # with a problem: B is unset
    assert [(p.line, p.message) for p in problems] == [
        (1, "variable B is not set: set it in the environment or pass --var B=...")
    ]


def test_an_unclosed_or_malformed_reference_is_reported_and_left_as_written():
    for text in ("a: ${A:-${B}\n", "a: ${A\n", "a: x${}y\n", "a: ${A:-x\n"):
        data, problems = run(text, {"A": "1", "B": "2"})
        assert data == {"a": text[3:-1]}
        assert [p.rule for p in problems] == ["undefined-variable"], text
        assert "malformed" in problems[0].message
    assert run("a: $HOME and $ and $$\n", {"HOME": "h"})[0] == {"a": "$HOME and $ and $$"}
