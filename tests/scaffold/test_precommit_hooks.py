"""The pre-commit hooks this repository publishes (.pre-commit-hooks.yaml) run as pre-commit runs
them: `entry` plus `args`, no file names, from the root of a repository (here a new project)."""

from __future__ import annotations

import re
import shlex

import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT

HOOKS = {
    hook["id"]: hook for hook in YAML(typ="safe", pure=True).load(ROOT / ".pre-commit-hooks.yaml")
}
# The keys pre-commit requires of every hook.
REQUIRED = {"id", "name", "entry", "language"}


def hook_args(hook_id: str) -> list[str]:
    entry = shlex.split(HOOKS[hook_id]["entry"])
    assert entry[0] == "flashctl"
    return entry[1:] + list(HOOKS[hook_id].get("args", []))


def test_both_hooks_are_published_and_install_flashctl_itself():
    assert set(HOOKS) == {"flashctl-validate", "flashctl-render-check"}
    for hook in HOOKS.values():
        assert set(hook) >= REQUIRED
        assert hook["language"] == "python"  # pre-commit pip-installs this repository
        assert hook["pass_filenames"] is False  # flashctl reads ./flash.yaml, not file names


@pytest.mark.parametrize(
    "path",
    ["flash.yaml", "svc/flash.yml", "flash.yaml.example", "flash.prod.yaml", "app/handlers.py"],
)
def test_validate_hook_runs_on_flash_yaml_like_and_python_changes(path):
    assert re.search(HOOKS["flashctl-validate"]["files"], path)


@pytest.mark.parametrize("path", ["README.md", "flashy.yaml", "docs/flash.md", "k8s/api.yaml"])
def test_validate_hook_skips_other_files(path):
    assert not re.search(HOOKS["flashctl-validate"]["files"], path)


@pytest.fixture
def project(run_cli, tmp_path, monkeypatch):
    assert run_cli("init", str(tmp_path)).exit_code == 0
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_validate_hook_passes_a_valid_project_and_fails_a_broken_one(run_cli, project):
    assert run_cli(*hook_args("flashctl-validate")).exit_code == 0

    flash_yaml = project / "flash.yaml"
    flash_yaml.write_text(flash_yaml.read_text().replace("handlers:predict", "handlers:gone"))
    failed = run_cli(*hook_args("flashctl-validate"))

    assert failed.exit_code == 1, failed
    assert "handler-not-found" in failed.stdout


def test_render_check_hook_fails_until_build_is_rendered(run_cli, project):
    assert run_cli(*hook_args("flashctl-render-check")).exit_code == 1
    assert run_cli("render").exit_code == 0

    fresh = run_cli(*hook_args("flashctl-render-check"))

    assert fresh.exit_code == 0, fresh
    assert "build is up to date" in fresh.stdout


def test_hook_args_can_point_at_another_file(run_cli, project):
    (project / "flash.yaml").rename(project / "service.yaml")
    assert run_cli(*hook_args("flashctl-validate"), "-f", "service.yaml").exit_code == 0
