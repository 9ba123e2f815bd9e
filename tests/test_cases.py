"""The case corpus: `tests/cases/{valid,invalid}/<case>/flash.yaml`, collected automatically.

A valid case compiles with no problem at all. An invalid case lists in `expected.json` exactly the
problems `validate` must report: `{"rule", "line", "column"}`, plus `"severity": "warning"` for a
warning and optionally `"message_contains": [...]` for words the message must hold.

An optional `case.json` gives the `--env` (`"environment"`) and `--var` values (`"variables"`); the
process environment never leaks into a case. `"xfail": "reason"` marks a case that shows a known
core bug: the test fails strictly until the bug is fixed, then the marker must go.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from flashctl.checks import PIPELINE_RULES, RULES
from flashctl.compiler.pipeline import Compiled, compile_file

CASES = Path(__file__).parent / "cases"
KNOWN_RULES = set(PIPELINE_RULES) | {rule.ID for rule in RULES}
MIN_INVALID_CASES = 60
MIN_CASES_PER_RULE = 3


def _case_dirs(kind: str) -> list[Path]:
    return sorted(p for p in (CASES / kind).iterdir() if (p / "flash.yaml").is_file())


def _settings(case: Path) -> dict[str, Any]:
    path = case / "case.json"
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def _expected(case: Path) -> list[dict[str, Any]]:
    return json.loads((case / "expected.json").read_text("utf-8"))


def _params(kind: str) -> list[Any]:
    params = []
    for case in _case_dirs(kind):
        reason = _settings(case).get("xfail")
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


def _compile(case: Path) -> Compiled:
    settings = _settings(case)
    return compile_file(
        case / "flash.yaml",
        variables=dict(settings.get("variables", {})),  # never os.environ
        environment=settings.get("environment"),
    )


def _key(rule: str, line: int, column: int, severity: str) -> tuple[str, int, int, str]:
    return (rule, line, column, severity)


def _shown(result: Compiled) -> str:
    return "\n".join(
        f"  {p.line}:{p.column} {p.severity} [{p.rule}] {p.message}" for p in result.problems
    )


def _assert_messages_are_for_users(result: Compiled) -> None:
    for problem in result.problems:
        assert problem.message.strip(), f"empty message: {problem}"
        assert "Traceback" not in problem.message, problem.message
        assert problem.rule in KNOWN_RULES, f"unknown rule {problem.rule!r}"


@pytest.mark.parametrize("case", _params("valid"))
def test_valid_case_has_no_problems(case: Path) -> None:
    result = _compile(case)
    assert not result.problems, f"{case.name} should be clean, got:\n{_shown(result)}"
    assert result.project is not None


@pytest.mark.parametrize("case", _params("invalid"))
def test_invalid_case_reports_exactly_the_expected_problems(case: Path) -> None:
    result = _compile(case)
    expected = _expected(case)
    want = sorted(
        _key(e["rule"], e["line"], e["column"], e.get("severity", "error")) for e in expected
    )
    got = sorted(_key(p.rule, p.line, p.column, p.severity) for p in result.problems)
    assert got == want, f"{case.name}: expected {want}, got:\n{_shown(result)}"
    _assert_messages_are_for_users(result)
    for e in expected:
        key = _key(e["rule"], e["line"], e["column"], e.get("severity", "error"))
        message = next(
            p.message for p in result.problems if _key(p.rule, p.line, p.column, p.severity) == key
        )
        for words in e.get("message_contains", []):
            assert words in message, f"{case.name}: {words!r} not in {message!r}"


def test_corpus_has_enough_invalid_cases_and_covers_every_rule_three_times() -> None:
    cases = [c for c in _case_dirs("invalid") if not _settings(c).get("xfail")]
    assert len(cases) >= MIN_INVALID_CASES, (
        f"only {len(cases)} invalid cases (xfail ones not counted); want {MIN_INVALID_CASES}"
    )
    per_rule: Counter[str] = Counter()
    for case in cases:
        per_rule.update({e["rule"] for e in _expected(case)})
    unknown = set(per_rule) - KNOWN_RULES
    assert not unknown, f"expected.json names rules that do not exist: {sorted(unknown)}"
    thin = {rule: per_rule[rule] for rule in sorted(KNOWN_RULES) if per_rule[rule] < 3}
    assert not thin, f"rules with fewer than {MIN_CASES_PER_RULE} invalid cases: {thin}"


def test_corpus_has_at_least_ten_valid_cases() -> None:
    assert len(_case_dirs("valid")) >= 10


def test_every_expected_problem_is_well_formed() -> None:
    allowed = {"rule", "line", "column", "severity", "message_contains"}
    for case in _case_dirs("invalid"):
        expected = _expected(case)
        assert expected, f"{case.name}: expected.json is empty; a valid file belongs in valid/"
        for e in expected:
            assert set(e) <= allowed, f"{case.name}: unknown fields {set(e) - allowed}"
            assert e["line"] >= 1 and e["column"] >= 1, f"{case.name}: {e}"
            assert e.get("severity", "error") in ("error", "warning"), f"{case.name}: {e}"
