"""Loading YAML with positions: duplicate keys, anchors, merge keys, tabs, YAML 1.2 scalars."""

from __future__ import annotations

from flashctl.loader import load_text


def test_every_node_keeps_its_line_and_column():
    doc, problems = load_text("a:\n  b: [1, {c: x}]\n", "f.yaml")
    assert problems == []
    value = doc.positions[("a", "b", 1, "c")]
    assert (value.line, value.column) == (2, 14)
    mark = doc.positions[("a", "b")]
    assert (mark.key_line, mark.key_column) == (2, 3)


def test_duplicate_key_is_reported_naming_both_lines():
    doc, problems = load_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert [(p.rule, p.line, p.column) for p in problems] == [("duplicate-key", 3, 1)]
    assert "first given on line 1, again on line 3" in problems[0].message
    assert doc.data == {"a": 1, "b": 2}


def test_every_duplicate_key_is_reported_not_only_the_first():
    _, problems = load_text("a: 1\na: 2\nb: {c: 1, c: 2}\n", "f.yaml")
    assert [(p.line, p.path) for p in problems] == [(2, ("a",)), (3, ("b", "c"))]


def test_anchors_and_merge_keys_are_resolved_with_explicit_keys_winning():
    text = "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n"
    doc, problems = load_text(text, "f.yaml")
    assert problems == []
    assert doc.data["other"] == {"x": 1, "y": 3}


def test_tabs_in_indentation_are_a_syntax_error_with_a_hint():
    _, problems = load_text("a:\n\tb: 1\n", "f.yaml")
    assert [(p.rule, p.line) for p in problems] == [("yaml-syntax", 2)]
    assert "tabs" in problems[0].message


def test_unparsable_yaml_is_a_syntax_problem_at_its_position():
    doc, problems = load_text("a: [1, 2\nb: 3\n", "f.yaml")
    assert doc is None
    assert problems[0].rule == "yaml-syntax" and problems[0].line == 2


def test_empty_file_is_a_problem_not_a_crash():
    doc, problems = load_text("", "f.yaml")
    assert doc is None and problems[0].rule == "schema" and "empty" in problems[0].message


def test_yaml_1_2_scalars_on_and_off_stay_strings():
    doc, _ = load_text("a: on\nb: off\nc: true\nd: 0x10\ne: 1_000\nf: null\n", "f.yaml")
    assert doc.data == {"a": "on", "b": "off", "c": True, "d": 16, "e": 1000, "f": None}


def test_yaml_1_2_plain_scalars_with_colons_in_flow_mappings_load():
    # libyaml's scanner (ruamel's C parser) refuses `app:go` here; YAML 1.2 allows it.
    doc, problems = load_text("r: {method: GET, handler: app:go}\n", "f.yaml")
    assert problems == [] and doc.data == {"r": {"method": "GET", "handler": "app:go"}}
