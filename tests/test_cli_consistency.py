"""One CLI, consistent: `--debug` anywhere, help text on every option and command, and the
README's command table in step with the click group."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest

from flashctl.cli import cli
from flashctl.errors import InputError
from tests.conftest import ROOT


def commands(
    command: click.Command = cli, path: str = "flashctl"
) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from commands(sub, f"{path} {name}")


def test_debug_after_the_command_lets_the_traceback_through(run_cli, tmp_path):
    missing = str(tmp_path / "missing.yaml")
    assert run_cli("render", "-f", missing).exit_code == 1
    with pytest.raises(InputError):
        run_cli("render", "-f", missing, "--debug")
    with pytest.raises(InputError):
        run_cli("--debug", "render", "-f", missing)


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_accepts_debug_after_it(name):
    options = {opt for param in cli.commands[name].params for opt in getattr(param, "opts", [])}
    assert "--debug" in options


def test_every_command_and_option_has_help_text():
    missing = []
    for path, command in commands():
        if not (command.help or "").strip():
            missing.append(path)
        for param in command.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{path} {param.opts[0]}")
    assert missing == []


def test_the_readme_command_table_lists_every_command():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Commands", 1)[1].split("\n\n###", 1)[0]
    listed = set(re.findall(r"^\| `([a-z-]+)", table, re.MULTILINE))
    assert listed == set(cli.commands)


def test_the_readme_says_to_activate_the_venv_before_its_first_bare_flashctl_command():
    readme = (ROOT / "README.md").read_text()
    bare = re.search(r"^\s*(?:\$ )?flashctl ", readme, re.MULTILINE)
    assert bare is not None
    assert ". .venv/bin/activate" in readme[: bare.start()]


def test_every_target_names_a_flow_for_every_command_that_takes_target():
    from flashctl.targets import TARGETS, flow

    commands = {"render", "plan", "apply", "status", "destroy"}
    for target, flows in TARGETS.items():
        assert set(flows) == commands, target
        for command in commands:
            assert callable(flow(target, command)), (target, command)
