"""Loading YAML with positions: duplicate keys, anchors, merge keys, tabs, YAML 1.2 scalars."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import Node, ScalarNode, SequenceNode

from flashctl.compiler.loader import _yaml, load_text


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


# ruamel's stock resolver against the loader's (which looks the tag table up once per document)
SCALARS = (
    "on off yes no y n true True TRUE false ~ null Null NULL 0 017 0o17 0x1F 0b101 1_000 +1 -1"
    " 1e3 1.5e-3 .5 -.5 .inf -.Inf .nan 3.10 2001-12-14 2001-12-14t21:59:43.10-05:00 12:30:00"
    " '' \"\" x ${X} /ping GET"
)
CORPUS = sorted((Path(__file__).parent / "cases").glob("*/*/flash.yaml"))


def _tags(node: Node, seen: set[int] | None = None) -> list[tuple[str, str]]:
    """Every node's tag and scalar value, depth first; an alias back to an ancestor (a cycle)
    is listed once."""
    seen = set() if seen is None else seen
    if isinstance(node, ScalarNode):
        return [(str(node.tag), node.value)]
    if id(node) in seen:
        return [(str(node.tag), "(seen)")]
    seen.add(id(node))
    pairs = node.value if isinstance(node, SequenceNode) else [n for kv in node.value for n in kv]
    return [(str(node.tag), "")] + [t for child in pairs for t in _tags(child, seen)]


@pytest.mark.parametrize("directive", ["", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n"])
@pytest.mark.parametrize("pure", [False, True], ids=["c-parser", "round-trip"])
def test_the_loader_resolves_every_scalar_as_stock_ruamel_does(directive: str, pure: bool) -> None:
    text = directive + "".join(f"k{i}: {value}\n" for i, value in enumerate(SCALARS.split()))
    typ = "rt" if pure else "safe"
    ours = _yaml(typ, pure=pure).compose(text)
    stock = YAML(typ=typ, pure=pure).compose(text)
    assert _tags(ours) == _tags(stock)
    assert "tag:yaml.org,2002:bool" in {tag for tag, _ in _tags(ours)}


@pytest.mark.parametrize("path", CORPUS, ids=[p.parent.name for p in CORPUS])
def test_the_loader_tags_every_corpus_document_as_stock_ruamel_does(path: Path) -> None:
    text = path.read_text("utf-8")
    try:
        stock = YAML(typ="rt").compose(text)
    except YAMLError:
        return  # a syntax-error case: nothing to compare
    ours = _yaml("rt").compose(text)
    assert (stock is None and ours is None) or _tags(ours) == _tags(stock)
