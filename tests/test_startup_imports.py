"""`flashctl --version`, `--help` and validating a valid file stay fast: they import none of the
heavy dependencies (a valid file is confirmed without jsonschema, see flashctl/schema/predicate.py).

Each check runs in a fresh interpreter (this test process has imported everything already) and
reads `sys.modules` there after the command ran.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("jsonschema", "jinja2", "starlette", "hypercorn", "requests")

PROBE = """
import json, sys
import flashctl.cli
{run}
heavy = sorted(
    name for name in {heavy!r}
    if any(m == name or m.startswith(name + ".") for m in sys.modules)
)
print("HEAVY=" + json.dumps(heavy))
"""
RUN = """
try:
    flashctl.cli.main({argv!r})
except SystemExit:
    pass
"""


def heavy_modules_after(argv: list[str] | None) -> list[str]:
    """The heavy modules loaded by a fresh interpreter that imports the CLI (and runs `argv`)."""
    run = RUN.format(argv=argv) if argv is not None else ""
    code = PROBE.format(run=run, heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    marker = [line for line in done.stdout.splitlines() if line.startswith("HEAVY=")]
    assert marker, f"probe failed:\n{done.stdout}\n{done.stderr}"
    loaded: list[str] = json.loads(marker[-1].removeprefix("HEAVY="))
    return loaded


def test_importing_the_cli_loads_no_heavy_dependency() -> None:
    assert heavy_modules_after(None) == []


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["--help"], ["validate", "--help"]],
    ids=["version", "help", "validate-help"],
)
def test_version_and_help_load_no_heavy_dependency(argv: list[str]) -> None:
    assert heavy_modules_after(argv) == []


def test_validating_a_valid_file_loads_no_heavy_dependency() -> None:
    example = str(Path(__file__).resolve().parents[1] / "flash.yaml.example")
    assert heavy_modules_after(["validate", "-f", example]) == []
