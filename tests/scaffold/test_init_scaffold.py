"""`flashctl init`: what it writes, and that it never overwrites without --force."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from flashctl import __version__
from flashctl.scaffold.files import LAYOUT, SCHEMA_COPY

EXPECTED = sorted([*LAYOUT, SCHEMA_COPY])


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("variant", ["--cpu", "--gpu"])
def test_init_writes_a_project_that_validates_strictly(run_cli, tmp_path, variant: str):
    folder = tmp_path / "Sentiment_API"

    result = run_cli("init", str(folder), variant)

    assert result.exit_code == 0, result
    assert files_under(folder) == EXPECTED
    assert result.stdout.splitlines() == [str(folder / path) for path in [*LAYOUT, SCHEMA_COPY]]
    flash_yaml = (folder / "flash.yaml").read_text()
    assert flash_yaml.startswith("# yaml-language-server: $schema=.flashctl/flash.schema.json\n")
    assert "project: sentiment-api\n" in flash_yaml
    assert ("gpu: {pools:" in flash_yaml) == (variant == "--gpu")
    assert ("startup: handlers:load" in flash_yaml) == (variant == "--gpu")
    validated = run_cli("validate", "-f", str(folder / "flash.yaml"), "--strict")
    assert validated.exit_code == 0, validated


def test_schema_copy_is_the_schema_flashctl_prints(run_cli, tmp_path):
    run_cli("init", str(tmp_path))
    assert (tmp_path / SCHEMA_COPY).read_text() == run_cli("schema").stdout


def test_existing_files_are_kept_and_nothing_is_written(run_cli, tmp_path):
    (tmp_path / "flash.yaml").write_text("mine\n")

    result = run_cli("init", str(tmp_path))

    assert result.exit_code == 1, result
    assert "Refusing to overwrite flash.yaml" in result.stderr
    assert "nothing was written" in result.stderr and "--force" in result.stderr
    assert files_under(tmp_path) == ["flash.yaml"]
    assert (tmp_path / "flash.yaml").read_text() == "mine\n"


def test_force_replaces_existing_files(run_cli, tmp_path):
    (tmp_path / "flash.yaml").write_text("mine\n")

    result = run_cli("init", str(tmp_path), "--force", "--name", "forced")

    assert result.exit_code == 0, result
    assert "project: forced\n" in (tmp_path / "flash.yaml").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "Bad Name"], "--name 'Bad Name' is not a project name"),
        (["123"], "Cannot make a project name out of '123': pass --name"),
    ],
)
def test_unusable_names_are_usage_errors(run_cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)

    result = run_cli("init", *args)

    assert result.exit_code == 2, result
    assert message in result.stderr
    assert files_under(tmp_path) == []


def test_scaffolded_python_is_lint_clean(run_cli, tmp_path):
    run_cli("init", str(tmp_path / "cpu"))
    run_cli("init", str(tmp_path / "gpu"), "--gpu")
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, "--isolated", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_validates_pull_requests_and_deploys_main(run_cli, tmp_path):
    run_cli("init", str(tmp_path))
    workflow = YAML(typ="safe", pure=True).load(
        (tmp_path / ".github/workflows/flashctl.yml").read_text()
    )

    assert set(workflow["on"]) == {"pull_request", "push"}
    assert workflow["on"]["push"]["branches"] == ["main"]
    validate, deploy = workflow["jobs"]["validate"], workflow["jobs"]["deploy"]
    runs = [step.get("run", "") for step in validate["steps"]]
    assert "flashctl validate --format github" in runs and "python -m pytest" in runs
    assert deploy["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    deploy_runs = "\n".join(step.get("run", "") for step in deploy["steps"])
    for command in (
        "flashctl render",
        'docker build -t "$IMAGE:$GIT_SHA" .flashctl/build/api',
        "flashctl plan",
        "flashctl apply",
    ):
        assert command in deploy_runs


def test_pre_commit_config_runs_flashctl_validate(run_cli, tmp_path):
    run_cli("init", str(tmp_path))
    config = YAML(typ="safe", pure=True).load((tmp_path / ".pre-commit-config.yaml").read_text())

    (hook,) = config["repos"][0]["hooks"]
    assert hook["id"] == "flashctl-validate"
    assert hook["entry"] == "flashctl validate --strict"
    assert hook["pass_filenames"] is False


def test_the_pre_commit_hook_installs_the_pinned_flashctl_itself(run_cli, tmp_path):
    """`language: python` with flashctl as an additional dependency: pre-commit installs it in an
    environment of its own, so the hook works without flashctl on PATH (as check-jsonschema's
    hooks do); the pin is the one requirements-dev.txt has."""
    run_cli("init", str(tmp_path))
    config = YAML(typ="safe", pure=True).load((tmp_path / ".pre-commit-config.yaml").read_text())

    (hook,) = config["repos"][0]["hooks"]
    assert hook["language"] == "python"
    assert hook["additional_dependencies"] == [f"flashctl=={__version__}"]
    requirements = (tmp_path / "requirements-dev.txt").read_text().splitlines()
    assert f"flashctl=={__version__}" in requirements
    assert re.search(hook["files"], "flash.yaml") and re.search(hook["files"], "app/handlers.py")


def test_gitignore_leaves_out_the_render_output_and_secrets_but_keeps_the_schema_copy(
    run_cli, tmp_path
):
    git = shutil.which("git")
    if git is None:
        pytest.fail("git not found on PATH")
    assert run_cli("init", str(tmp_path)).exit_code == 0
    subprocess.run([git, "init", "-q", str(tmp_path)], check=True, timeout=30)
    paths = [".flashctl/build/api/Dockerfile", ".flashctl/kubernetes/api.yaml", ".env"]
    paths += [".env.production", ".flashctl/flash.schema.json", "app/handlers.py"]
    result = subprocess.run(
        [git, "-C", str(tmp_path), "check-ignore", "--no-index", *paths],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.stdout.split() == paths[:4]
