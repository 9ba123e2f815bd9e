"""`flashctl validate`: formats, exit codes, options before and after the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLE, ROOT

BROKEN = """\
version: 1
project: demo
endpoints:
  api:
    compute: {gpu: {pools: [ADA_24]}}
    env:
      API_TOKEN: plain-text
    routes:
      - {method: PTACH, path: /a, handler: "app:a"}
      - {method: GET, path: /ping, handler: "app:a"}
"""


def write_project(tmp_path: Path, text: str = BROKEN) -> Path:
    (tmp_path / "app.py").write_text("def a():\n    return 1\n")
    path = tmp_path / "flash.yaml"
    path.write_text(text)
    return path


def test_example_validates_with_exit_0(run_cli):
    result = run_cli("validate", "-f", str(EXAMPLE))
    assert result.exit_code == 0, result
    assert "ok (3 endpoints, 12 routes)" in result.stdout


def test_example_validates_in_every_environment(run_cli):
    result = run_cli("-e", "prod", "validate", "-f", str(EXAMPLE), "--strict")
    assert result.exit_code == 0, result


def test_text_report_lists_every_problem_sorted_with_position_and_rule(run_cli, tmp_path):
    path = write_project(tmp_path)
    result = run_cli("validate", "-f", str(path))
    assert result.exit_code == 1, result
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{path}:7:18: warning: API_TOKEN holds a literal value that looks secret: store it as"
        " a RunPod secret and write {secret: name} [env]"
    )
    assert lines[1].startswith(f"{path}:9:18: error: unknown HTTP method 'PTACH'")
    assert lines[1].endswith("[method]")
    assert "(did you mean PATCH?)" in lines[1]
    assert lines[2].startswith(f"{path}:10:29: error: '/ping' is reserved")
    assert lines[3] == f"{path}: 2 errors, 1 warning"


def test_warnings_alone_pass_unless_strict(run_cli, tmp_path):
    text = BROKEN.replace("PTACH", "PATCH").replace("path: /ping", "path: /b")
    path = write_project(tmp_path, text)
    assert run_cli("validate", "-f", str(path)).exit_code == 0
    strict = run_cli("validate", "-f", str(path), "--strict")
    assert strict.exit_code == 1, strict


def test_json_report_is_a_stable_documented_object(run_cli, tmp_path):
    path = write_project(tmp_path)
    result = run_cli("validate", "-f", str(path), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert set(report) == {"version", "valid", "errors", "warnings", "files"}
    assert (report["version"], report["valid"], report["errors"], report["warnings"]) == (
        1,
        False,
        2,
        1,
    )
    first = report["files"][0]["problems"][1]
    assert first == {
        "file": str(path),
        "line": 9,
        "column": 18,
        "rule": "method",
        "severity": "error",
        "message": first["message"],
        "path": ["endpoints", "api", "routes", 0, "method"],
    }


def test_github_format_emits_workflow_annotations(run_cli, tmp_path):
    path = write_project(tmp_path)
    result = run_cli("validate", "-f", str(path), "--format", "github")
    assert result.exit_code == 1
    error = next(line for line in result.stdout.splitlines() if line.startswith("::error "))
    assert error.startswith(f"::error file={path},line=9,col=18,title=flashctl method::")
    assert any(line.startswith("::warning ") for line in result.stdout.splitlines())


def test_sarif_output_is_sarif_2_1_0_with_rules_and_regions(run_cli, tmp_path):
    path = write_project(tmp_path)
    result = run_cli("validate", "-f", str(path), "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert {"method", "reserved-path", "schema", "yaml-syntax"} <= set(rule_ids)
    findings = {(r["ruleId"], r["level"]) for r in run["results"]}
    assert findings == {("method", "error"), ("reserved-path", "error"), ("env", "warning")}
    region = run["results"][1]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 9, "startColumn": 18}
    for r in run["results"]:
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]


def test_missing_file_is_a_clear_error_without_traceback(run_cli, tmp_path):
    result = run_cli("validate", "-f", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert "nope.yaml: no such file" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_format_is_a_usage_error_with_exit_2(run_cli):
    result = run_cli("validate", "-f", str(EXAMPLE), "--format", "xml")
    assert result.exit_code == 2
    assert "xml" in result.stderr


def test_malformed_var_is_a_usage_error_with_exit_2(run_cli):
    result = run_cli("--var", "NOEQUALS", "validate", "-f", str(EXAMPLE))
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.stderr


def test_var_option_fills_a_variable_and_wins_over_the_environment(run_cli, tmp_path):
    text = BROKEN.replace("PTACH", '"${VERB}"').replace("path: /ping", "path: /b")
    path = write_project(tmp_path, text)
    unset = run_cli("validate", "-f", str(path), env={"VERB": None})  # type: ignore[dict-item]
    assert unset.exit_code == 1 and "[undefined-variable]" in unset.stdout
    given = run_cli("validate", "-f", str(path), "--var", "VERB=get", env={"VERB": "DELETE2"})
    assert given.exit_code == 0, given


def test_options_before_the_command_work_too(run_cli):
    assert run_cli("-f", str(EXAMPLE), "validate").exit_code == 0


def test_default_file_is_flash_yaml_in_the_current_folder(run_cli, tmp_path, monkeypatch):
    write_project(tmp_path, BROKEN.replace("PTACH", "GET").replace("/ping", "/b"))
    monkeypatch.chdir(tmp_path)
    result = run_cli("validate")
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[-1] == "flash.yaml: 0 errors, 1 warning"


def test_schema_command_prints_the_json_schema(run_cli):
    result = run_cli("schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["$schema"].endswith("2020-12/schema")
    assert result.stdout == (ROOT / "schemas" / "flash.schema.json").read_text()


def test_validate_runs_as_a_real_subprocess(tmp_path):
    path = write_project(tmp_path)
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "flashctl", "validate", "-f", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["errors"] == 2
    assert proc.stderr == ""


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flashctl", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
        check=False,
        cwd=cwd,
    )


def test_yaml_nested_fifty_thousand_levels_is_a_problem_not_a_crash(tmp_path):
    # The C composer recurses per level and overflows the stack (SIGSEGV) well before this.
    for opener, closer in (("[", "]"), ("{a: ", "}")):
        path = tmp_path / "flash.yaml"
        path.write_text("version: 1\nendpoints: " + opener * 50_000 + closer * 50_000 + "\n")
        proc = _run("validate", "-f", str(path), "--format", "json")
        assert proc.returncode == 1, proc.stderr
        [problem] = json.loads(proc.stdout)["files"][0]["problems"]
        assert (problem["rule"], problem["line"]) == ("yaml-syntax", 2), problem
        assert "nested more than 100 levels" in problem["message"]
        assert "Traceback" not in proc.stderr


def test_a_handler_module_nested_too_deeply_for_python_is_a_problem(run_cli, tmp_path):
    path = write_project(tmp_path, BROKEN.replace("PTACH", "POST").replace("/ping", "/b"))
    (tmp_path / "app.py").write_text(
        "x = " + "+".join(["1"] * 200_000) + "\n\n\ndef a(n: " + "-" * 5000 + "1):\n    return 1\n"
    )
    result = run_cli("validate", "-f", str(path))
    assert result.exit_code == 1, result
    assert "app.py cannot be parsed: it nests too deeply" in result.stdout, result
    assert "[handler-not-found]" in result.stdout


def test_a_file_that_is_not_utf8_is_a_problem_in_every_format(run_cli, tmp_path):
    path = tmp_path / "flash.yaml"
    path.write_bytes(b"version: 1\nproject: d\xffmo\n")
    result = run_cli("validate", "-f", str(path), "--format", "json")
    assert result.exit_code == 1, result
    [problem] = json.loads(result.stdout)["files"][0]["problems"]
    assert (problem["rule"], problem["line"], problem["column"]) == ("yaml-syntax", 2, 11)
    assert "not UTF-8" in problem["message"]
    result = run_cli("validate", "-f", str(path))
    assert f"{path}:2:11: error: not UTF-8 text" in result.stdout, result
    rendered = run_cli("render", "-f", str(path), "-o", str(tmp_path / "out"))
    assert rendered.exit_code == 1 and "not UTF-8" in rendered.stderr, rendered


def test_an_unreadable_project_file_is_an_input_error_with_exit_1(run_cli, tmp_path, monkeypatch):
    folder = tmp_path / "flash.yaml"
    folder.mkdir()
    for command in (("validate",), ("render", "-o", str(tmp_path / "out")), ("plan",)):
        result = run_cli(*command, "-f", str(folder))
        assert result.exit_code == 1, result
        assert "is a directory" in result.stderr
    path = write_project(tmp_path / "f" if (tmp_path / "f").mkdir() is None else tmp_path)
    real = Path.read_bytes

    def denied(self: Path) -> bytes:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    for command in (("validate", "--format", "json"), ("render",)):
        result = run_cli(*command, "-f", str(path))
        assert result.exit_code == 1, result
        assert "cannot be read: Permission denied" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_source_that_leads_out_of_the_project_is_refused_at_source(run_cli, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "app.py").write_text("def a():\n    return 1\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "code").symlink_to(outside)
    text = BROKEN.replace("PTACH", "POST").replace("/ping", "/b")
    for source in ("../elsewhere", str(outside), "code"):
        path = project / "flash.yaml"
        path.write_text(text.replace("    compute:", f"    source: {source}\n    compute:", 1))
        result = run_cli("validate", "-f", str(path))
        assert result.exit_code == 1, result
        assert f"{path}:5:13: error: source" in result.stdout, result
        assert "[source]" in result.stdout
        rendered = run_cli("render", "-f", str(path), "-o", str(tmp_path / "out"))
        assert rendered.exit_code == 1, rendered
        assert not (tmp_path / "out").exists()
