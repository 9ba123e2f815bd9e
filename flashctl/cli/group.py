"""The `flashctl` click group: global options, then one command per module of this package."""

from __future__ import annotations

from pathlib import Path

import click

from flashctl import __version__
from flashctl.cli.options import Options, parse_vars


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="flashctl")
@click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(path_type=Path),
    default=Path("flash.yaml"),
    show_default=True,
    help="The project file.",
)
@click.option("-e", "--env", "environment", help="Environment overlay to apply (environments:).")
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="KEY=VALUE",
    help="Value for ${KEY} in the file; repeatable; wins over the environment.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks (secrets stay redacted).")
@click.pass_context
def cli(
    ctx: click.Context, file: Path, environment: str | None, variables: tuple[str, ...], debug: bool
) -> None:
    """flashctl: declarative HTTP APIs on RunPod serverless load-balanced endpoints."""
    options = ctx.ensure_object(Options)  # main() passes its own, to read --debug afterwards
    options.file, options.environment, options.debug = file, environment, debug
    options.variables.update(parse_vars(variables))


def set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Options).debug = True


def debug_after_every_command() -> None:
    """`--debug` is accepted after the command too (`flashctl plan --debug`), as -f/-e/--var."""
    for command in cli.commands.values():
        command.params.append(
            click.Option(
                ["--debug"],
                is_flag=True,
                expose_value=False,
                callback=set_debug,
                help="Show tracebacks (secrets stay redacted).",
            )
        )
