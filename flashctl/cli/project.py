"""Commands on the file itself: validate, render, build (images), dev, schema."""

from __future__ import annotations

from pathlib import Path

import click

from flashctl.cli.group import cli
from flashctl.cli.options import (
    ENGINE,
    PLATFORM,
    Options,
    format_option,
    project_options,
    size_option,
    target_option,
)
from flashctl.errors import ExitCode


@cli.command()
@project_options
@format_option(
    ("text", "json", "github", "sarif"),
    "Output format.",
)
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.pass_obj
def validate(options: Options, fmt: str, strict: bool) -> ExitCode:
    """Check flash.yaml against the schema and every rule; report all problems.

    Exit 0 when valid, 1 when there are errors (or warnings with --strict), 2 on usage errors.
    """
    from flashctl.compiler.pipeline import compile_file
    from flashctl.report import FORMATS

    result = compile_file(
        options.file, variables=options.resolved_variables(), environment=options.environment
    )
    from flashctl.console import Console

    color = fmt == "text" and Console.color("stdout")
    click.echo(FORMATS[fmt]([result], color), nl=False)
    failing = result.problems if strict else result.errors
    return ExitCode.FAILED if failing else ExitCode.OK


@cli.command()
@project_options
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder, replaced atomically (default: .flashctl/build, or .flashctl/kubernetes"
    " with --target kubernetes, beside flash.yaml); never the project or a source folder.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if OUTPUT differs.")
@click.option(
    "--force",
    is_flag=True,
    help="Replace OUTPUT even if it holds files flashctl did not write (no manifest of its own).",
)
@click.option(
    "--max-file-size",
    metavar="SIZE",
    callback=lambda ctx, param, value: size_option(value),
    help="Largest source file copied into a build context (default 100MiB).",
)
@click.option(
    "--max-context-size",
    metavar="SIZE",
    callback=lambda ctx, param, value: size_option(value),
    help="Most bytes copied from one endpoint's source (default 500MiB).",
)
@target_option("runpod: Docker build contexts; kubernetes: manifests for `kubectl apply -f`.")
@click.pass_obj
def render(
    options: Options,
    output: Path | None,
    check: bool,
    force: bool,
    max_file_size: int | None,
    max_context_size: int | None,
    target: str,
) -> ExitCode:
    """Write one Docker build context per endpoint, plus manifest.json (or, with --target
    kubernetes, one multi-document YAML file per endpoint).

    Credential files (.env, keys, .ssh/, .aws/, ...) and what the source's .dockerignore names
    are left out of the build contexts and listed; a `!pattern` in .dockerignore takes one back.
    """
    from flashctl.targets import RenderRequest

    request = RenderRequest(output, check, force, max_file_size, max_context_size)
    return options.run_target(target, "render", request)


@cli.command()
@project_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    default=8888,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--reload/--no-reload",
    default=True,
    show_default=True,
    help="Re-render and restart when flash.yaml or the source changes.",
)
@click.pass_obj
def dev(options: Options, host: str, port: int, reload: bool) -> ExitCode:
    """Serve every endpoint on localhost (one at /, several under /<endpoint>/), docs on."""
    from flashctl.console import Console
    from flashctl.dev.flows import DevOptions, run_dev

    return run_dev(options.load, Console(), DevOptions(host, port, reload, options.file))


@cli.command()
@format_option(
    ("json", "markdown"),
    "json: the JSON Schema itself; markdown: the reference in docs/flash-yaml.md.",
)
def schema(fmt: str) -> ExitCode:
    """Print the JSON Schema of flash.yaml (or its reference, generated from it)."""
    from flashctl.schema.checker import load_schema, schema_text

    if fmt == "markdown":
        from flashctl.schema.reference import markdown

        click.echo(markdown(load_schema()), nl=False)
    else:
        click.echo(schema_text(), nl=False)
    return ExitCode.OK


@cli.command("build")
@project_options
@click.argument("endpoints", nargs=-1, metavar="[ENDPOINT]...")
@click.option("--push", is_flag=True, help="Push each image to its registry (registry: or image:).")
@ENGINE
@PLATFORM
@click.pass_obj
def build_command(
    options: Options, endpoints: tuple[str, ...], push: bool, engine: str, platform: str
) -> ExitCode:
    """Render, then build each endpoint's image (all, or the ENDPOINTs named) with the engine
    found on PATH; print `endpoint: image` per endpoint. Engine output goes to stderr. A tag
    derived from the content (registry: without image:) is not rebuilt or pushed again."""
    from flashctl.console import Console
    from flashctl.images.flows import BuildOptions, run_build

    return run_build(options.load, Console(), BuildOptions(endpoints, push, engine, platform))
