"""`flashctl import-flash` as a command: output choices, refusals, and projects it cannot use."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

PROJECT = """\
from runpod_flash import Endpoint

api = Endpoint(name="hello_api", cpu="cpu5c-2-4")


@api.post("/hello")
def hello(name: str) -> dict:
    return {"hello": name}
"""


def write(folder: Path, text: str = PROJECT, name: str = "app.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


def test_output_to_stdout_writes_no_file(run_cli, tmp_path, monkeypatch):
    folder = write(tmp_path / "proj")
    monkeypatch.chdir(tmp_path)

    result = run_cli("import-flash", "proj", "-o", "-")

    assert result.exit_code == 0, result
    document = YAML(typ="safe", pure=True).load(result.stdout)
    assert document["defaults"]["source"] == "proj"
    assert document["endpoints"]["hello-api"]["routes"][0]["handler"] == "app:hello"
    assert not (folder / "flash.yaml").exists()


def test_output_above_the_project_points_source_at_it(run_cli, tmp_path):
    write(tmp_path / "proj")
    output = tmp_path / "flash.yaml"

    result = run_cli("import-flash", str(tmp_path / "proj"), "-o", str(output))

    assert result.exit_code == 0, result
    assert YAML(typ="safe", pure=True).load(output.read_text())["defaults"]["source"] == "proj"
    assert run_cli("validate", "-f", str(output)).exit_code == 0


def test_output_outside_the_project_is_refused_as_its_source_would_be(run_cli, tmp_path):
    write(tmp_path / "proj")
    output = tmp_path / "deploy" / "flash.yaml"  # source would be ../proj: the `source` rule

    result = run_cli("import-flash", str(tmp_path / "proj"), "-o", str(output))

    assert result.exit_code == 2, result
    assert "source must be inside its folder" in result.stderr
    assert not output.parent.exists()


def test_an_existing_flash_yaml_is_kept_unless_forced(run_cli, tmp_path):
    folder = write(tmp_path / "proj")
    (folder / "flash.yaml").write_text("mine\n")

    refused = run_cli("import-flash", str(folder))
    forced = run_cli("import-flash", str(folder), "--force")

    assert refused.exit_code == 1, refused
    assert "Refusing to overwrite" in refused.stderr and "--force" in refused.stderr
    assert forced.exit_code == 0, forced
    assert "project: proj" in (folder / "flash.yaml").read_text()


def test_a_project_without_endpoints_is_an_error(run_cli, tmp_path):
    folder = write(tmp_path / "plain", "def f():\n    return 1\n")

    result = run_cli("import-flash", str(folder))

    assert result.exit_code == 1, result
    assert "No runpod-flash endpoint with routes found" in result.stderr
    assert not (folder / "flash.yaml").exists()


def test_unparsable_modules_are_listed_and_skipped(run_cli, tmp_path):
    folder = write(tmp_path / "proj")
    (folder / "broken.py").write_text("def oops(:\n")

    result = run_cli("import-flash", str(folder))

    assert result.exit_code == 0, result
    assert "broken.py: could not be read or parsed" in result.stderr


def test_a_result_that_does_not_validate_exits_1(run_cli, tmp_path):
    folder = write(
        tmp_path / "proj",
        PROJECT.replace('@api.post("/hello")', '@api.get("/hello/{who}")'),
    )

    result = run_cli("import-flash", str(folder))

    assert result.exit_code == 1, result
    assert "does not validate yet" in result.stderr
    assert "handler-signature" in result.stderr
    assert (folder / "flash.yaml").exists()  # written, to be fixed by hand


def test_not_a_folder_is_a_usage_error(run_cli, tmp_path):
    result = run_cli("import-flash", str(tmp_path / "missing"))
    assert result.exit_code == 2, result
