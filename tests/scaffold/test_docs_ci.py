"""Every `flashctl` command in docs/ci.md (and in the workflow `flashctl init` writes) parses, and
the pipelines run as written: in order, in a project made by `flashctl init`, against the RunPod
API emulator, with the load test sent to the project served by `flashctl dev`."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import requests
from ruamel.yaml import YAML

from flashctl.cli import Options, cli
from flashctl.emulator.server import BackgroundEmulator
from flashctl.loadtest import runner
from tests.conftest import ROOT
from tests.servers import ToLoopback, free_port, start_interruptible, stop, wait_for_status

CI_DOC = ROOT / "docs" / "ci.md"
INIT_WORKFLOW = ROOT / "templates" / "init" / "github-workflow.yml"
KEY = "rpa_DOCSCI0123456789abcdefDOCSCI"


@dataclass(frozen=True)
class Command:
    args: list[str]  # after `flashctl`
    stdout_to: str | None  # `> file`
    line: str

    @property
    def subcommand(self) -> str:
        return self.args[0]


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    """(language, text) of each fenced block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", markdown, flags=re.M | re.S)


def commands_in(text: str) -> list[Command]:
    """The flashctl invocations of shell lines (plain, `- ` list items or `run:` values)."""
    found = []
    text = re.sub(r"\\\n\s*", " ", text)  # shell line continuations
    for raw in text.splitlines():
        line = re.sub(r"^\s*(- )?(run: )?", "", raw)
        for segment in re.split(r"&&|\|\||;", line):
            segment = segment.strip()
            if not segment.startswith("flashctl "):
                continue
            command, _, target = segment.partition(" > ")
            args = shlex.split(command.rstrip(" &"))[1:]
            found.append(Command(args, target.split()[0] if target else None, raw.strip()))
    return found


def blocks_by_section(markdown: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    for part in re.split(r"^## ", markdown, flags=re.M)[1:]:
        title, _, body = part.partition("\n")
        sections[title.strip()] = [text for _lang, text in code_blocks(body)]
    return sections


def doc_commands() -> list[Command]:
    return [c for _lang, text in code_blocks(CI_DOC.read_text()) for c in commands_in(text)]


def parse(args: list[str]) -> None:
    """Parse `flashctl ARGS` with click (subcommand, options and their values), running nothing."""
    name, *rest = args
    with click.Context(cli, info_name="flashctl", obj=Options()) as context:
        command = cli.get_command(context, name)
        assert command is not None, f"no command {name}"
        command.make_context(name, list(rest), parent=context).close()


def test_ci_doc_covers_every_step_of_the_pipeline():
    lines = [c.line for c in doc_commands()]
    for needed in (
        "flashctl validate --format github",
        "flashctl validate --format sarif > flashctl.sarif",
        "flashctl render",
        "flashctl plan --detailed-exitcode --out plan.json",
        "flashctl apply plan.json --yes",
        "flashctl loadtest api",
    ):
        assert any(needed in line for line in lines), needed
    assert CI_DOC.read_text().count("for context in .flashctl/build/*/; do") == 2
    sections = blocks_by_section(CI_DOC.read_text())
    for section in ("GitHub Actions", "GitLab CI"):
        subcommands = {c.subcommand for text in sections[section] for c in commands_in(text)}
        assert {"validate", "render", "plan", "apply", "loadtest"} <= subcommands, section


@pytest.mark.parametrize(
    "command",
    doc_commands() + commands_in(INIT_WORKFLOW.read_text()),
    ids=lambda c: " ".join(c.args),
)
def test_every_documented_command_parses(command: Command):
    try:
        parse(command.args)
    except click.ClickException as err:  # pragma: no cover - shown when the docs go wrong
        pytest.fail(f"`{command.line}` does not parse: {err.format_message()}")


def test_workflow_blocks_are_valid_yaml_with_the_expected_jobs():
    sections = blocks_by_section(CI_DOC.read_text())
    github = YAML(typ="safe", pure=True).load(sections["GitHub Actions"][0])
    gitlab = YAML(typ="safe", pure=True).load(sections["GitLab CI"][0])
    assert set(github["jobs"]) == {"validate", "deploy"}
    assert github["jobs"]["validate"]["permissions"]["security-events"] == "write"
    uses = [step.get("uses", "") for step in github["jobs"]["validate"]["steps"]]
    assert "github/codeql-action/upload-sarif@v3" in uses
    assert gitlab["stages"] == ["validate", "build", "deploy", "verify"]
    assert {"validate", "render", "images", "deploy", "loadtest"} <= set(gitlab)


@pytest.fixture
def served_project(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A project made by `flashctl init`, served by `flashctl dev` on a free port."""
    subprocess.run(
        [sys.executable, "-m", "flashctl", "init", "hello"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=60,
    )
    project, port = tmp_path / "hello", free_port()
    # The server logs a line per request: to a file, as a pipe nobody reads would fill and block.
    with (tmp_path / "dev.log").open("w") as log:
        dev = start_interruptible(
            [sys.executable, "-m", "flashctl", "dev", "--port", str(port), "--no-reload"],
            cwd=project,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_status(f"http://127.0.0.1:{port}/ping", 200, timeout=60)
            yield project, port
        finally:
            stop(dev)


@pytest.mark.slow
def test_documented_pipelines_run_in_order_against_the_emulator(
    run_cli, served_project, monkeypatch
):
    project, port = served_project
    monkeypatch.chdir(project)

    def session() -> requests.Session:
        made = requests.Session()
        made.mount("https://", ToLoopback(port))
        return made

    monkeypatch.setattr(runner, "new_session", session)
    sections = blocks_by_section(CI_DOC.read_text())
    pipelines = {
        "GitHub Actions": commands_in(sections["GitHub Actions"][0]),
        "GitLab CI": commands_in(sections["GitLab CI"][0]),
        "flashctl init's workflow": commands_in(INIT_WORKFLOW.read_text()),
    }
    with BackgroundEmulator(api_key=KEY, worker_ready_delay=0.0) as emulator:
        env = {
            "RUNPOD_API_KEY": KEY,
            "FLASHCTL_API_URL": emulator.url,
            "GIT_SHA": "3f2c9a1",
            "IMAGE": "ghcr.io/acme/hello",
            "HOME": str(project),
        }
        for pipeline, commands in pipelines.items():
            for command in commands:
                result = run_cli(*command.args, env=env)
                allowed = {0, 2} if "--detailed-exitcode" in command.args else {0}
                assert result.exit_code in allowed, f"{pipeline}: `{command.line}`\n{result!r}"
                if command.stdout_to:
                    (project / command.stdout_to).write_text(result.stdout)
        (endpoint,) = emulator.emulator.state.list()

    assert endpoint["name"] == "hello-api"
    assert endpoint["image"] == "ghcr.io/acme/hello:3f2c9a1"
    sarif = json.loads((project / "flashctl.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    loadtest = json.loads((project / "loadtest.json").read_text())
    assert loadtest["requests"] == 200 and loadtest["slo"]["met"] is True
    assert loadtest["url"] == endpoint["requestUrls"]["base"] + "/predict"
    assert json.loads((project / ".flashctl" / "build" / "api" / "endpoint.json").read_text())[
        "image"
    ] == ("ghcr.io/acme/hello:3f2c9a1")
