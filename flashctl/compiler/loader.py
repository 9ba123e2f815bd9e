"""Load flash.yaml text into a Document, keeping a line/column for every node.

We compose with ruamel.yaml (its C parser when installed, else the round-trip parser; see
`_compose`) and build plain values from the node graph ourselves: that is where duplicate keys
are seen (ruamel would keep one silently or raise on the first), where merge keys (`<<`) and
aliases are resolved, and where positions are recorded.
YAML 1.2 rules apply, so `on`/`off`/`yes` are strings, as the file format expects.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver

from flashctl.compiler.document import Document, Mark
from flashctl.problems import JsonPath, Problem

_SURROGATE = re.compile("[\ud800-\udfff]")
MERGE_TAG = "tag:yaml.org,2002:merge"
NULL = "tag:yaml.org,2002:null"
MAX_NODES = 1_000_000  # ~50x a 200-endpoint x 20-route file; aliases can multiply a small file
MAX_DEPTH = 100  # flash.yaml nests about 8 deep; composers recurse per level (C: segfault ~20k)


def _compose(text: str) -> Node | None:
    """The node graph of `text`, every node with its line and column.

    ruamel's C parser (ruamel.yaml.clib) composes ~6x faster than its pure-Python round-trip
    parser, whose comment handling we do not use; tags resolve by YAML 1.2 either way. The C
    scanner follows libyaml, which is stricter than YAML 1.2 in places (`{handler: app:go}`), so
    whatever it refuses is parsed again by the round-trip parser, whose verdict (and error
    position) stands.
    """
    import importlib.util

    if importlib.util.find_spec("_ruamel_yaml") is not None:  # what ruamel.yaml.clib installs
        try:
            node: Node | None = _yaml("safe", pure=False).compose(text)
            return node
        except YAMLError:
            pass
    node = _yaml("rt").compose(text)
    return node


def _yaml(typ: str, pure: bool = True) -> YAML:
    yaml = YAML(typ=typ, pure=pure)
    yaml.Resolver = _OneVersionResolver
    return yaml


class _OneVersionResolver(VersionedResolver):
    """ruamel's resolver, with the table of implicit tags looked up once per document.

    Stock ruamel finds the YAML version for every scalar it resolves, through two caught
    AttributeErrors with the C parser: half of composing a large file (B3: 0.24 s -> 0.13 s at
    200 endpoints). The version cannot change inside the one document we compose (a `%YAML`
    directive comes before it), so the first answer holds. Tests compare every tag with stock
    ruamel's."""

    @property
    def versioned_resolver(self) -> Any:
        table = self.__dict__.get("_table")
        if table is None:
            table = self.__dict__["_table"] = _STOCK_TABLE.__get__(self)
        return table


_STOCK_TABLE = VersionedResolver.versioned_resolver


class _TooLarge(Exception):
    def __init__(self, mark: object) -> None:
        self.mark = mark


class _TooDeep(_TooLarge):
    pass


_TOO_DEEP = (
    f"nested more than {MAX_DEPTH} levels deep (flash.yaml needs about 8): flatten the structure"
)


def _too_deep(text: str) -> Any:
    """The mark of the first collection nested deeper than MAX_DEPTH, or None.

    ruamel composes recursively, one call per level: the pure-Python composer hits the
    recursion limit within a few hundred levels and the C one overflows the stack (a crash, not
    an exception) at some tens of thousands, so depth is measured on the event stream, which
    both parsers produce without recursion. That costs a second pass over the text, made only
    when the text could nest that deep at all: every level opens a bracket, or is indented or
    `- `-prefixed on a line of its own, so brackets plus twice the longest line bound the depth.
    """
    longest = max(map(len, text.splitlines()), default=0)
    if text.count("[") + text.count("{") + 2 * longest + 2 <= MAX_DEPTH:
        return None
    import importlib.util

    # As in `_compose`: the C parser first; what it refuses, the pure one reads.
    for pure in (importlib.util.find_spec("_ruamel_yaml") is None, True):
        depth = 0
        try:
            for event in _yaml("safe", pure=pure).parse(text):
                name = type(event).__name__
                if name in ("MappingStartEvent", "SequenceStartEvent"):
                    depth += 1
                    if depth > MAX_DEPTH:
                        return event.start_mark
                elif name in ("MappingEndEvent", "SequenceEndEvent"):
                    depth -= 1
            return None
        except YAMLError:
            continue
    return None  # composing reports the syntax error, where it is


def load_text(text: str, file: str) -> tuple[Document | None, list[Problem]]:
    """Parse `text`; return the document (None if it cannot be parsed) and the problems found.

    >>> doc, problems = load_text("version: 1\\nproject: demo\\n", "flash.yaml")
    >>> doc.data, doc.positions[("project",)].line, problems
    ({'version': 1, 'project': 'demo'}, 2, [])
    """
    deep = _too_deep(text)
    if deep is not None:
        return None, [Problem(file, deep.line + 1, deep.column + 1, "yaml-syntax", _TOO_DEEP)]
    try:
        root = _compose(text)
    except RecursionError:  # not expected after the depth check: a problem, never a traceback
        return None, [Problem(file, 1, 1, "yaml-syntax", _TOO_DEEP)]
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = err.problem or err.context or "invalid YAML"
        lines = text.splitlines()
        here = lines[line - 1] if 0 < line <= len(lines) else ""
        if "\t" in here[: len(here) - len(here.lstrip())] or "'\\t'" in what:
            what += " (YAML forbids tabs for indentation; use spaces)"
        message = f"YAML syntax error: {what}"
        return None, [Problem(file, line, column, "yaml-syntax", message)]
    except YAMLError as err:  # errors without a position (e.g. several documents)
        first = str(err).splitlines()[0]
        return None, [Problem(file, 1, 1, "yaml-syntax", f"YAML syntax error: {first}")]
    if root is None:
        return None, [Problem(file, 1, 1, "schema", "the file is empty: start with `version: 1`")]
    builder = _Builder(file, escapes="\\u" in text or "\\U" in text)
    try:
        data = builder.build(root, ())
    except _TooLarge as err:
        line, column = err.mark.line + 1, err.mark.column + 1  # type: ignore[attr-defined]
        message = (
            f"the document expands to more than {MAX_NODES:,} values through aliases:"
            " write it out or use fewer nested aliases"
        )
        if isinstance(err, _TooDeep):
            message = _TOO_DEEP + " (aliases count at the depth where they are used)"
        return None, [Problem(file, line, column, "yaml-syntax", message)]
    if any(p.rule == "yaml-syntax" for p in builder.problems):
        return None, builder.problems  # a recursive structure has no meaning to check further
    return Document(file, data, builder.positions), builder.problems


class _Builder:
    """Turns a composed node graph into plain values, recording positions and duplicate keys."""

    def __init__(self, file: str, escapes: bool = False) -> None:
        self.file = file
        self.escapes = escapes  # `\\u` escapes in the text: a string may hold a lone surrogate
        self.positions: dict[JsonPath, Mark] = {}
        self.problems: list[Problem] = []
        self.active: set[int] = set()  # nodes being built: an alias back to one is a cycle
        self.built = 0  # values built, aliases expanded: bounded against "billion laughs"

    def build(self, node: Node, path: JsonPath, key: Node | None = None) -> Any:
        start = node.start_mark
        if id(node) in self.active:
            message = (
                "recursive alias: an anchor refers to a node that contains it; remove the cycle"
            )
            self.problems.append(
                Problem(
                    self.file, start.line + 1, start.column + 1, "yaml-syntax", message, path=path
                )
            )
            return None
        self.built += 1
        if self.built > MAX_NODES:
            raise _TooLarge(start)
        if len(path) > MAX_DEPTH:  # aliases nest what they name wherever they are used
            raise _TooDeep(start)
        self.active.add(id(node))
        try:
            return self._build(node, path, key, start)
        finally:
            self.active.discard(id(node))

    def _build(self, node: Node, path: JsonPath, key: Node | None, start: Any) -> Any:
        if (
            key is not None
            and isinstance(node, ScalarNode)
            and node.value == ""
            and node.tag == NULL
        ):
            start = key.start_mark  # an empty value has no text of its own: point at its key
        self.positions[path] = Mark(
            start.line + 1,
            start.column + 1,
            key.start_mark.line + 1 if key is not None else None,
            key.start_mark.column + 1 if key is not None else None,
        )
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        value = _scalar(node)
        if self.escapes and isinstance(value, str) and _SURROGATE.search(value):
            self._surrogate(start, path)
        return value

    def _surrogate(self, mark: Any, path: JsonPath) -> None:
        message = (
            "a \\u escape here is half of a surrogate pair, not a character, and cannot be"
            " written to any file: write the character itself or its \\U0001XXXX escape"
        )
        line, column = mark.line + 1, mark.column + 1
        self.problems.append(Problem(self.file, line, column, "yaml-syntax", message, path=path))

    def _mapping(self, node: MappingNode, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, Node] = {}
        merged: dict[str, Any] = {}
        merges = [v for k, v in node.value if k.tag == MERGE_TAG]
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = _key_text(key_node)
            if self.escapes and _SURROGATE.search(key):
                self._surrogate(key_node.start_mark, (*path, key))
            if key in seen:
                first = seen[key].start_mark.line + 1
                line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
                message = (
                    f"duplicate key '{key}': first given on line {first}, again on line {line};"
                    " keep one"
                )
                self.problems.append(
                    Problem(self.file, line, column, "duplicate-key", message, path=(*path, key))
                )
                continue
            seen[key] = key_node
            result[key] = self.build(value_node, (*path, key), key_node)
        # Explicit keys win over merged ones, as YAML's merge-key spec says, positions included:
        # merged nodes only fill in positions that explicit keys did not record.
        if not merges:
            return result
        # Merged nodes are built into a side table, then fill in only the positions that the
        # explicit keys did not record (explicit keys win, positions included).
        explicit, self.positions = self.positions, {}
        for value_node in merges:
            for source in _merge_sources(value_node):
                for k, v in self._mapping(source, path).items():
                    merged.setdefault(k, v)
        from_merges, self.positions = self.positions, explicit
        for where, mark in from_merges.items():
            self.positions.setdefault(where, mark)
        return {**merged, **result}


def _merge_sources(node: Node) -> list[MappingNode]:
    if isinstance(node, MappingNode):
        return [node]
    if isinstance(node, SequenceNode):
        return [item for item in node.value if isinstance(item, MappingNode)]
    return []


def _key_text(node: Node) -> str:
    # JSON Schema and the model address keys as strings; `1:` and `true:` become "1" and "true".
    return str(node.value) if isinstance(node, ScalarNode) else "<complex key>"


def _scalar(node: Node) -> Any:
    value: str = node.value
    tag = node.tag
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true"
    if tag == "tag:yaml.org,2002:int":
        return _int(value)
    if tag == "tag:yaml.org,2002:float":
        return _float(value)
    # Strings, timestamps and unknown tags stay text; the schema says what was expected.
    return value


def _int(value: str) -> int | str:
    text = value.replace("_", "")
    if len(text) > 40:  # no setting is that large; as text the schema reports it plainly
        return value
    try:
        if text.lower().startswith(("0x", "-0x", "+0x", "0o", "-0o", "+0o", "0b")):
            return int(text, 0)
        return int(text, 10)
    except ValueError:
        return value


def _float(value: str) -> float | str:
    text = value.replace("_", "").lower()
    if text in (".inf", "+.inf"):
        return math.inf
    if text == "-.inf":
        return -math.inf
    if text == ".nan":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return value
