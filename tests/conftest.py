"""Shared fixtures: the repository root and `run_cli` over click's CliRunner."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "flash.yaml.example"


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"exit {self.exit_code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run `flashctl ARGS` in-process through `main()` (our error handling included)."""
    from flashctl.cli import main

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> CliResult:
        runner = CliRunner()
        wrapper = click.command()(lambda: main(list(args)))
        result = runner.invoke(
            wrapper,
            [],
            env=env,
            input=input,
            catch_exceptions=False,
        )
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def cli_emulators() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Emulator subprocesses a test started (append them): killed at its end if still up."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)
