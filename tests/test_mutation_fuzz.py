"""Property: no mutation of a valid flash.yaml makes `validate` crash.

Seeds are the valid corpus cases and flash.yaml.example. A document is mutated structurally
(drop, retype, rename or add a key; values of every YAML type, huge numbers, unicode) and then
textually (duplicate a key, insert junk lines or characters, re-indent, truncate). Every result must
compile without an exception, give problems with a line, a column and a known rule, and make
`flashctl validate` exit 0 or 1 in every output format. The fast schema check
(`flashctl.schema.checker.conforms`) must agree with jsonschema on every mutant that loads.

`FLASHCTL_FUZZ_EXAMPLES` sets the number of documents (default 300, derandomized, no example
database, so CI is reproducible); `scripts/fuzz_validate.py N` runs the same property N times.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from flashctl.checks import PIPELINE_RULES, RULES
from flashctl.cli import main
from flashctl.compiler.pipeline import Compiled, compile_text
from flashctl.schema.checker import conforms, load_schema, validator_class

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases" / "valid"
KNOWN_RULES = frozenset(PIPELINE_RULES) | {rule.ID for rule in RULES}
FORMATS = ("text", "json", "github", "sarif")
ORACLE = validator_class()(load_schema())
MAX_EXAMPLES = int(os.environ.get("FLASHCTL_FUZZ_EXAMPLES", "300"))


# ---------------------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class Seed:
    """A valid document, where its handler files live, and the --env/--var it needs."""

    name: str
    text: str
    base_dir: Path
    environment: str | None = None
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Any:
        return _yaml().load(self.text)


def _yaml() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    return yaml


def load_seeds() -> list[Seed]:
    seeds = [Seed("flash.yaml.example", (ROOT / "flash.yaml.example").read_text("utf-8"), ROOT)]
    for case in sorted(p for p in CASES.iterdir() if (p / "flash.yaml").is_file()):
        settings_file = case / "case.json"
        extra = json.loads(settings_file.read_text("utf-8")) if settings_file.is_file() else {}
        if extra.get("xfail"):
            continue  # not valid yet: a known core bug reports problems on it
        seeds.append(
            Seed(
                case.name,
                (case / "flash.yaml").read_text("utf-8"),
                case,
                extra.get("environment"),
                dict(extra.get("variables", {})),
            )
        )
    return seeds


SEEDS = load_seeds()


# ------------------------------------------------------------------------------------ mutations

HUGE_NUMBERS = [0, -1, 1, 2**31, 2**63, -(2**64), 10**30, 10**100, 1e308, float("inf"), -0.0]
TRICKY_STRINGS = [
    "",
    " ",
    "${X}",
    "${X:?missing}",
    "${",
    "$${Y}",
    "${1BAD}",
    "/ping",
    "/execute/",
    "{id}",
    "/u/{id:int}/{id}",
    "app:fn",
    "a.b.c:fn",
    ":",
    "3.10",
    "on",
    "null",
    "~",
    "PTACH",
    "AMPERE_8",
    "cpu5c",
    "30MB",
    "1e999",
    "\t",
    "ünïcødé",
    "😀",
    "a" * 300,
    "../../..",
    "C:\\\\x",
]
KEY_NAMES = [
    "version",
    "project",
    "defaults",
    "endpoints",
    "environments",
    "slo",
    "routes",
    "compute",
    "gpu",
    "cpu",
    "scaling",
    "workers",
    "runtime",
    "env",
    "secret",
    "method",
    "path",
    "handler",
    "source",
    "startup",
    "docs",
    "<<",
    "PORT",
    "1",
    "",
]
JUNK_LINES = [
    "}",
    "]",
    "- ",
    "? ",
    ":",
    "&x",
    "*x",
    "<<: *x",
    "x: &a [*a]",
    "!!python/object:os.system x",
    "%YAML 1.1",
    "---",
    "...",
    "@",
    "`",
    "key: [",
    "key: {",
    "'",
    '"',
    "\t- a",
    "  -\tb",
    "!!binary |",
    "# comment",
    "a: b: c",
    "x: !!int abc",
    "x: !!float z",
    "x: 0x" + "f" * 40,
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(TRICKY_STRINGS),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(KEY_NAMES) | st.text(max_size=6), scalars, max_size=3),
)
key_names = st.one_of(st.sampled_from(KEY_NAMES), st.text(min_size=1, max_size=10))

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a node below `value` (mapping keys and list indices)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield (*path, i)
            yield from _paths(item, (*path, i))


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    node = data
    for part in path[:-1]:
        node = node[part]
    return node


def _near_miss(draw: Draw, key: str) -> str:
    if not key:
        return "x"
    i = draw(st.integers(0, len(key) - 1))
    return draw(
        st.sampled_from(
            [key[:i] + key[i + 1 :], key[:i] + key[i] * 2 + key[i + 1 :], key.upper(), key + "s"]
        )
    )


def _same_type(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.one_of(
            st.integers(), st.sampled_from([v for v in HUGE_NUMBERS if type(v) is int])
        )
    if isinstance(value, float):
        return st.floats(allow_nan=True, allow_infinity=True)
    if isinstance(value, str):
        return st.one_of(st.sampled_from(TRICKY_STRINGS), st.text(max_size=12), st.just(value * 2))
    if isinstance(value, list):
        return st.permutations(value).map(lambda items: items + items[:1])
    return values


def mutate_structure(draw: Draw, data: Any) -> Any:
    """Drop, retype, rename or add one node of `data` (a copy; YAML data of any shape)."""
    data = copy.deepcopy(data)
    paths = list(_paths(data))
    op = draw(
        st.sampled_from(["drop", "retype", "same-type", "same-type", "rename", "add", "root"])
    )
    if op == "root" or not paths:
        return draw(values)
    path = draw(st.sampled_from(paths))
    parent, last = _parent(data, path), path[-1]
    if op == "same-type":  # keeps the schema happy more often, so the semantic checks run
        parent[last] = draw(_same_type(parent[last]))
    elif op == "drop":
        del parent[last]
    elif op == "retype":
        parent[last] = draw(values)
    elif op == "rename" and isinstance(parent, dict):
        new = draw(st.one_of(key_names, st.just(_near_miss(draw, str(last)))))
        parent[new] = parent.pop(last)
    elif op == "add":
        target = parent[last]
        if isinstance(target, dict):
            target[draw(key_names)] = draw(values)
        elif isinstance(target, list):
            target.insert(draw(st.integers(0, len(target))), draw(values))
        else:
            parent[last] = [target, draw(values)]
    return data


_KEY_LINE = r"^(\s*)(- )?([A-Za-z_<][\w<-]*):"


def mutate_text(draw: Draw, text: str) -> str:
    """One textual edit: duplicate a key, add junk, re-indent, delete, truncate."""

    lines = text.split("\n")
    op = draw(
        st.sampled_from(
            [
                "duplicate-key",
                "duplicate-line",
                "junk-line",
                "junk-chars",
                "delete-chars",
                "indent",
                "swap-lines",
                "truncate",
            ]
        )
    )
    at = draw(st.integers(0, max(len(lines) - 1, 0)))
    if op == "duplicate-key":
        keyed = [i for i, line in enumerate(lines) if re.match(_KEY_LINE, line)]
        if keyed:
            i = draw(st.sampled_from(keyed))
            match = re.match(_KEY_LINE, lines[i])
            assert match is not None
            indent = match.group(1) + ("  " if match.group(2) else "")
            value = draw(st.sampled_from(["1", "x", "[]", "{}", "null", '"${DUP}"']))
            lines.insert(i + 1, f"{indent}{match.group(3)}: {value}")
    elif op == "duplicate-line":
        lines.insert(at, lines[at])
    elif op == "junk-line":
        junk = draw(st.one_of(st.sampled_from(JUNK_LINES), st.text(max_size=20)))
        indent = " " * draw(st.integers(0, 8))
        lines.insert(at, indent + junk)
    elif op == "indent":
        lines[at] = draw(st.sampled_from([" ", "  ", "\t", ""])) + lines[at].lstrip(
            draw(st.sampled_from(["", " ", "  "]))
        )
    elif op == "swap-lines":
        other = draw(st.integers(0, max(len(lines) - 1, 0)))
        lines[at], lines[other] = lines[other], lines[at]
    else:
        text = "\n".join(lines)
        pos = draw(st.integers(0, len(text)))
        if op == "junk-chars":
            chars = draw(
                st.one_of(
                    st.text(min_size=1, max_size=4),
                    st.sampled_from(list("{}[]:-&*!|>'\"#%@`\t\\,?")),
                )
            )
            return text[:pos] + chars + text[pos:]
        if op == "delete-chars":
            return text[:pos] + text[pos + draw(st.integers(1, 20)) :]
        return text[:pos]
    return "\n".join(lines)


@dataclass(frozen=True)
class Mutant:
    seed: Seed
    text: str
    edits: tuple[str, ...]


@st.composite
def mutants(draw: Draw) -> Mutant:
    seed = draw(st.sampled_from(SEEDS))
    structural = draw(st.integers(0, 3))
    textual = draw(st.integers(0 if structural else 1, 2))
    text = seed.text
    if structural:
        data = seed.data
        for _ in range(structural):
            data = mutate_structure(draw, data)
        buffer = io.StringIO()
        _yaml().dump(data, buffer)
        text = buffer.getvalue()
    for _ in range(textual):
        text = mutate_text(draw, text)
    return Mutant(seed, text, (f"{structural} structural", f"{textual} textual"))


# ------------------------------------------------------------------------------ the property

# Core bugs already reported (see tests/cases/invalid/*/case.json "xfail"): the same crash found
# again by the fuzzer is counted, not failed, so the suite stays green until the fix lands; then
# the entry goes and the strict xfail cases flip. Any other exception fails the test.
KNOWN_CRASHES: dict[str, Callable[[BaseException], bool]] = {}
# Python warnings that reach the user's stderr; ruamel warns on a reused anchor (legal YAML).
KNOWN_WARNINGS = {"ReusedAnchorWarning"}


def known_crash(error: BaseException) -> str | None:
    return next((name for name, match in KNOWN_CRASHES.items() if match(error)), None)


@dataclass
class Outcome:
    """What one document did: the problems, the CLI's exit code, or the crash."""

    problems: tuple[Any, ...] = ()
    exit_code: int | None = None
    crash: BaseException | None = None
    where: str = ""
    warnings: tuple[str, ...] = ()
    schema_verdicts: tuple[bool, bool] = (True, True)  # (fast check, jsonschema)
    loaded: bool = False  # the YAML loaded, so the two schema verdicts were compared


def workspace(seed: Seed, root: Path) -> Path:
    """A copy of the seed's handler folder under `root`, where mutated files can be written."""
    target = root / seed.name
    if not target.exists():
        if seed.base_dir == ROOT:  # flash.yaml.example: its source is ./examples/seed
            shutil.copytree(ROOT / "examples" / "seed", target / "examples" / "seed")
        else:
            shutil.copytree(seed.base_dir, target)
    return target


def run_document(mutant: Mutant, root: Path, fmt: str, strict: bool) -> Outcome:
    """Compile the mutant in-process, then run `flashctl validate` on it through click; Python
    warnings are recorded (a user would see them on stderr), not raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = _run(mutant, root, fmt, strict)
    outcome.warnings = tuple(sorted({w.category.__name__ for w in caught}))
    return outcome


def _run(mutant: Mutant, root: Path, fmt: str, strict: bool) -> Outcome:
    seed = mutant.seed
    base = workspace(seed, root)
    try:
        result: Compiled = compile_text(
            mutant.text,
            "flash.yaml",
            base_dir=base,
            variables=seed.variables,
            environment=seed.environment,
        )
    except (Exception, RecursionError) as err:
        return Outcome(crash=err, where="compile_text")
    verdicts = _schema_verdicts(result)
    path = base / "fuzz.yaml"
    path.write_text(mutant.text, encoding="utf-8")
    args = ["validate", "-f", str(path), "--format", fmt]
    args += [f"--var={k}={v}" for k, v in seed.variables.items()]
    args += ["-e", seed.environment] if seed.environment else []
    args += ["--strict"] if strict else []
    cli = click.command()(lambda: main(args))
    outcome = CliRunner().invoke(cli, [], catch_exceptions=True)
    if outcome.exception is not None and not isinstance(outcome.exception, SystemExit):
        return Outcome(result.problems, outcome.exit_code, outcome.exception, "flashctl validate")
    if "Traceback" in outcome.output:
        return Outcome(result.problems, outcome.exit_code, RuntimeError(outcome.output), "output")
    loaded = result.document is not None
    return Outcome(result.problems, outcome.exit_code, schema_verdicts=verdicts, loaded=loaded)


def _schema_verdicts(result: Compiled) -> tuple[bool, bool]:
    """Whether the fast check and jsonschema find the compiled document valid."""
    if result.document is None:
        return (True, True)  # the YAML did not load: nothing was checked
    data = result.document.data
    return (conforms(data), ORACLE.is_valid(data))


def violations(outcome: Outcome) -> list[str]:
    """What is wrong with an outcome that did not crash."""
    wrong = [f"Python warning {w} on stderr" for w in outcome.warnings if w not in KNOWN_WARNINGS]
    fast, oracle = outcome.schema_verdicts
    if fast != oracle:
        wrong.append(f"fast schema check says valid={fast}, jsonschema says valid={oracle}")
    if outcome.exit_code not in (0, 1):
        wrong.append(f"exit code {outcome.exit_code}")
    for p in outcome.problems:
        if p.line < 1 or p.column < 1:
            wrong.append(f"position {p.line}:{p.column} of {p}")
        if p.rule not in KNOWN_RULES:
            wrong.append(f"unknown rule {p.rule!r}")
        if not p.message.strip() or "Traceback" in p.message:
            wrong.append(f"bad message {p.message!r}")
    return wrong


@pytest.fixture(scope="module")
def fuzz_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="flashctl-fuzz-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutant=mutants(), fmt=st.sampled_from(FORMATS), strict=st.booleans())
def test_mutated_documents_never_crash_validate(
    fuzz_root: Path, mutant: Mutant, fmt: str, strict: bool
) -> None:
    outcome = run_document(mutant, fuzz_root, fmt, strict)
    if outcome.crash is not None:
        if known_crash(outcome.crash):
            return  # reported core bug, pinned by a strict xfail case in tests/cases
        raise AssertionError(
            f"{outcome.where} raised on a mutant of {mutant.seed.name}:\n{mutant.text}"
        ) from outcome.crash
    assert not violations(outcome), (violations(outcome), mutant.text)


def test_every_seed_is_valid(fuzz_root: Path) -> None:
    for seed in SEEDS:
        outcome = run_document(Mutant(seed, seed.text, ()), fuzz_root, "text", True)
        assert outcome.crash is None and outcome.exit_code == 0, (seed.name, outcome)
        assert not outcome.problems, (seed.name, outcome.problems)
