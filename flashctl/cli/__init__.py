"""The command line: a thin click shell over the pipeline.

Each command gathers its options into a plain request and calls its flow (`run_<command>`), which
returns an `ExitCode`; heavy modules (jsonschema, jinja2, starlette, hypercorn, requests) are
imported inside commands so `--version` and `--help` stay fast. `main()` is the one place that
exits: with the flow's code, or with a FlashError's message and code.

- `group.py`: the `flashctl` group and its global options; `options.py`: what commands share
- `project.py`: validate, render, dev, schema
- `deploy.py`: plan, apply, status, destroy, invoke, logs
- `tools.py`: emulator, init, loadtest, import-flash
"""

from __future__ import annotations

import sys

import click

from flashctl.cli import deploy, project, tools  # noqa: F401  (each registers its commands)
from flashctl.cli.group import cli, debug_after_every_command
from flashctl.cli.options import Options
from flashctl.errors import ExitCode, FlashError

debug_after_every_command()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and exit once, with the command's code; user errors become a
    message and their code, not a traceback."""
    sys.exit(run(argv))


def run(argv: list[str] | None) -> int:
    options = Options()
    try:
        code = cli.main(args=argv, prog_name="flashctl", standalone_mode=False, obj=options)
    except FlashError as err:
        if options.debug:
            raise
        click.echo(f"error: {err}", err=True)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return ExitCode.FAILED
    except click.ClickException as err:
        err.show()
        return ExitCode.USAGE if err.exit_code == 2 else err.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return ExitCode.INTERRUPTED
    return int(code or ExitCode.OK)
