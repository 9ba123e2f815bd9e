"""What every command shares: the global options, gathered into one plain `Options`, and the
option declarations several commands repeat (so each is written once)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flashctl.console import Console
from flashctl.errors import ExitCode

if TYPE_CHECKING:
    from flashctl.compiler.pipeline import Load, Loaded


@dataclass
class Options:
    """Global options shared by every command."""

    file: Path = Path("flash.yaml")
    environment: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    debug: bool = False

    def resolved_variables(self) -> dict[str, str]:
        """`--var` values over the process environment."""
        return {**os.environ, **self.variables}

    def load(self) -> Loaded:
        """The valid project of `--file`, or an InputError listing its problems."""
        from flashctl.compiler.pipeline import load_valid_project

        return load_valid_project(
            self.file, variables=self.resolved_variables(), environment=self.environment
        )

    def run_flow(self, flow: Any, request: Any, load: Load | None = None) -> ExitCode:
        """`flow(load, console, request)` with the --debug log; `load` replaces loading the
        file (`--build` hands in the project with its images)."""
        from flashctl.console import debug_log

        with debug_log(self.debug):
            return flow(load or self.load, Console(), request)

    def run_target(
        self, target: str, command: str, request: Any, load: Load | None = None
    ) -> ExitCode:
        """Run `command`'s flow for `target` (flashctl/targets.py)."""
        from flashctl.targets import flow

        return self.run_flow(flow(target, command), request, load)

    def load_with_images(self, build: bool, engine: str, platform: str, *, push: bool) -> Load:
        """`load`, or with --build a loader of the project deploying the images it builds
        (and with `push`, pushes) first (flashctl/images)."""
        if not build:
            return self.load
        from flashctl.images.flows import BuildOptions, built_project, planned_project

        flow = built_project if push else planned_project
        loaded = flow(self.load(), BuildOptions((), push, engine, platform), Console().progress)
        return lambda: loaded


def parse_vars(values: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"'{item}' is not KEY=VALUE", param_hint="--var")
        parsed[name] = value
    return parsed


def project_options(command: Any) -> Any:
    """-f/-e/--var accepted after the command too (`flashctl validate -f x.yaml`); they override
    the same options given before it."""

    def merge(ctx: click.Context, param: click.Parameter, value: object) -> object:
        options: Options = ctx.ensure_object(Options)
        if param.name == "file" and value is not None:
            options.file = value  # type: ignore[assignment]
        elif param.name == "environment" and value is not None:
            options.environment = value  # type: ignore[assignment]
        elif param.name == "variables" and value:
            options.variables.update(parse_vars(value))  # type: ignore[arg-type]
        return value

    decorators = [
        click.option(
            "-f",
            "--file",
            "file",
            type=click.Path(path_type=Path),
            expose_value=False,
            callback=merge,
            help="The project file (default ./flash.yaml).",
        ),
        click.option(
            "-e",
            "--env",
            "environment",
            expose_value=False,
            callback=merge,
            help="Environment overlay to apply.",
        ),
        click.option(
            "--var",
            "variables",
            multiple=True,
            metavar="KEY=VALUE",
            expose_value=False,
            callback=merge,
            help="Value for ${KEY}; repeatable.",
        ),
    ]
    for decorator in decorators:
        command = decorator(command)
    return command


def size_option(value: str | None) -> int | None:
    from flashctl.compiler.units import parse_size

    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from err


def target_option(help: str) -> Any:
    return click.option(
        "--target",
        type=click.Choice(["runpod", "kubernetes"]),
        default="runpod",
        show_default=True,
        help=help,
    )


TARGET = target_option(
    "runpod: the RunPod API; kubernetes: kubectl apply on freshly rendered manifests"
    " (kubectl's current context and namespace)."
)

LOCAL_PORT = click.option(
    "--port",
    default=8888,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="The port of `flashctl dev` (with --local).",
)

WAIT_TIMEOUT = click.option(
    "--wait-timeout",
    default=600.0,
    show_default=True,
    type=click.FloatRange(0),
    metavar="SECONDS",
    help="Give up waiting after this long (exit 1).",
)
API_URL = click.option(
    "--api-url",
    metavar="URL",
    help="RunPod API base URL (default: FLASHCTL_API_URL, else https://api.runpod.io).",
)

ENGINE = click.option(
    "--engine",
    type=click.Choice(["auto", "docker", "podman", "buildah"]),
    default="auto",
    show_default=True,
    help="Container engine; auto: docker (with a daemon and buildx), then podman, then buildah.",
)
PLATFORM = click.option(
    "--platform",
    default="linux/amd64",
    show_default=True,
    metavar="OS/ARCH",
    help="Platform to build for (RunPod runs linux/amd64).",
)


def build_options(command: Any) -> Any:
    """--build, --engine, --platform for plan and apply (flashctl/images)."""
    for decorator in (
        PLATFORM,
        ENGINE,
        click.option(
            "--build",
            is_flag=True,
            help="apply: build and push each endpoint's image first, then deploy those images;"
            " plan: show the images apply --build would deploy (nothing built or pushed).",
        ),
    ):
        command = decorator(command)
    return command


def format_option(choices: tuple[str, ...], help: str) -> Any:
    """`--format` (as `fmt`), the first choice the default."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help=help,
    )
