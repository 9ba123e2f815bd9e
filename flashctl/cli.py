"""The command line: a thin click shell over the pipeline.

Commands gather options into plain values and call into the library; heavy modules (jsonschema,
jinja2, starlette, hypercorn, requests) are imported inside commands so `--version` and `--help`
stay fast. `main()` is the one place that turns a FlashError into a message and an exit code.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flashctl import __version__
from flashctl.errors import FlashError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from flashctl.compiler import Loaded


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
        from flashctl.compiler import load_valid_project

        return load_valid_project(
            self.file, variables=self.resolved_variables(), environment=self.environment
        )


def _parse_vars(values: tuple[str, ...]) -> dict[str, str]:
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
            options.variables.update(_parse_vars(value))  # type: ignore[arg-type]
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
    ctx.obj = Options(file, environment, _parse_vars(variables), debug)


@cli.command()
@project_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github", "sarif"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.pass_obj
def validate(options: Options, fmt: str, strict: bool) -> None:
    """Check flash.yaml against the schema and every rule; report all problems.

    Exit 0 when valid, 1 when there are errors (or warnings with --strict), 2 on usage errors.
    """
    from flashctl.compiler import compile_file
    from flashctl.report import FORMATS

    result = compile_file(
        options.file, variables=options.resolved_variables(), environment=options.environment
    )
    color = fmt == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    click.echo(FORMATS[fmt]([result], color), nl=False)
    failing = result.problems if strict else result.errors
    if failing:
        sys.exit(1)


@cli.command()
@project_options
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder, replaced atomically (default: build, or build-kubernetes with"
    " --target kubernetes).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if OUTPUT differs.")
@click.option(
    "--target",
    type=click.Choice(["runpod", "kubernetes"]),
    default="runpod",
    show_default=True,
    help="runpod: Docker build contexts; kubernetes: manifests for `kubectl apply -f`.",
)
@click.pass_obj
def render(options: Options, output: Path | None, check: bool, target: str) -> None:
    """Write one Docker build context per endpoint, plus manifest.json (or, with --target
    kubernetes, one multi-document YAML file per endpoint)."""
    if target == "kubernetes":
        return _render_kubernetes(options, output, check)
    from flashctl.build import check_rendered, render_to

    output = output or Path("build")
    loaded = options.load()
    if check:
        changes = check_rendered(loaded, output)
        if changes:
            click.echo("\n".join(changes))
            click.echo(f"{output} is out of date: run `flashctl render -o {output}`", err=True)
            sys.exit(1)
        click.echo(f"{output} is up to date")
        return
    files = render_to(loaded, output)
    for endpoint in loaded.project.endpoints:
        click.echo(f"{output / endpoint.key}/  ({endpoint.runpod_name})")
    click.echo(f"wrote {len(files)} files to {output}", err=True)


def _render_kubernetes(options: Options, output: Path | None, check: bool) -> None:
    from flashctl.kubernetes import commands as kubernetes

    output = output or kubernetes.DEFAULT_OUTPUT
    project = options.load().project
    if check:
        changes = kubernetes.check_rendered(project, output)
        if changes:
            click.echo("\n".join(changes))
            click.echo(
                f"{output} is out of date: run `flashctl render --target kubernetes -o {output}`",
                err=True,
            )
            sys.exit(1)
        click.echo(f"{output} is up to date")
        return
    files = kubernetes.render_to(project, output)
    for name in files:
        click.echo(output / name)
    click.echo(f"wrote {len(files)} files to {output}; apply: kubectl apply -f {output}", err=True)


_TARGET = click.option(
    "--target",
    type=click.Choice(["runpod", "kubernetes"]),
    default="runpod",
    show_default=True,
    help="runpod: the RunPod API; kubernetes: kubectl apply on freshly rendered manifests"
    " (kubectl's current context and namespace).",
)


@cli.command()
@project_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8888, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--reload/--no-reload",
    default=True,
    show_default=True,
    help="Re-render and restart when flash.yaml or the source changes.",
)
@click.pass_obj
def dev(options: Options, host: str, port: int, reload: bool) -> None:
    """Serve every endpoint on localhost (one at /, several under /<endpoint>/), docs on."""
    from flashctl import dev as dev_server

    dev_server.run(options.load, options.file, dev_server.DevOptions(host, port, reload))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--state", type=click.Path(path_type=Path), help="JSON file kept across restarts.")
@click.option(
    "--api-key",
    envvar="FLASHCTL_EMULATOR_API_KEY",
    help="Bearer key to require (default: any key).",
)
@click.option(
    "--fail-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of requests answered with 429/500/503 or a dropped connection.",
)
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(0))
@click.option("--seed", type=int, help="Seed for reproducible faults.")
def emulator(
    host: str,
    port: int,
    state: Path | None,
    api_key: str | None,
    fail_rate: float,
    latency_ms: float,
    seed: int | None,
) -> None:
    """Serve a local RunPod REST v2 API for offline deploys and CI."""
    from flashctl.runpod.emulator import serve_emulator

    click.echo(f"RunPod API emulator on http://{host}:{port}/v2 (Ctrl-C stops)", err=True)
    serve_emulator(host, port, state, api_key, fail_rate, latency_ms, seed)


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "markdown"]),
    default="json",
    show_default=True,
    help="json: the JSON Schema itself; markdown: the reference in docs/flash-yaml.md.",
)
def schema(fmt: str) -> None:
    """Print the JSON Schema of flash.yaml (or its reference, generated from it)."""
    from flashctl.schema import load_schema, schema_text

    if fmt == "markdown":
        from flashctl.schema_docs import markdown

        click.echo(markdown(load_schema()), nl=False)
        return
    click.echo(schema_text(), nl=False)


_ENGINE = click.option(
    "--engine",
    type=click.Choice(["auto", "docker", "podman", "buildah"]),
    default="auto",
    show_default=True,
    help="Container engine; auto: docker (with a daemon and buildx), then podman, then buildah.",
)
_PLATFORM = click.option(
    "--platform",
    default="linux/amd64",
    show_default=True,
    metavar="OS/ARCH",
    help="Platform to build for (RunPod runs linux/amd64).",
)


def _build_options(command: Any) -> Any:
    """--build, --engine, --platform for plan and apply (flashctl/images)."""
    for decorator in (
        _PLATFORM,
        _ENGINE,
        click.option(
            "--build",
            is_flag=True,
            help="apply: build and push each endpoint's image first, then deploy those images;"
            " plan: show the images apply --build would deploy (nothing built or pushed).",
        ),
    ):
        command = decorator(command)
    return command


def _load_with_images(
    options: Options, build: bool, engine: str, platform: str, *, push: bool
) -> Callable[[], Loaded]:
    """options.load, or with --build a loader of the project deploying the built images."""
    if not build:
        return options.load
    from flashctl.images.flows import BuildOptions, built_project, planned_project

    flow = built_project if push else planned_project
    loaded = flow(options.load(), BuildOptions((), push, engine, platform), _echo_err)
    return lambda: loaded


def _echo_err(line: str) -> None:
    click.echo(line, err=True)


# -- deploy to RunPod (flashctl/deploy) ------------------------------------------------------------

_API_URL = click.option(
    "--api-url",
    metavar="URL",
    help="RunPod API base URL (default: FLASHCTL_API_URL, else https://api.runpod.io).",
)


@cli.command()
@project_options
@_API_URL
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format (json: see flashctl/deploy/plan_file.py).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Save the plan (with each endpoint's remote fingerprint) for `flashctl apply FILE`.",
)
@click.option("--prune", is_flag=True, help="Plan to delete owned endpoints that left the file.")
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 with no changes, 2 with changes, 1 on error."
)
@_TARGET
@_build_options
@click.pass_obj
def plan(
    options: Options,
    api_url: str | None,
    fmt: str,
    out: Path | None,
    prune: bool,
    detailed_exitcode: bool,
    target: str,
    build: bool,
    engine: str,
    platform: str,
) -> None:
    """Show what apply would change on RunPod, field by field (with --target kubernetes:
    `kubectl apply --dry-run=client` on the rendered manifests, and with --detailed-exitcode
    `kubectl diff` too, for its diff and its verdict)."""
    if build and out is not None:
        raise UsageError(
            "plan --build pushes nothing, so a saved plan would deploy images no registry has:"
            " run `flashctl apply --build`"
        )
    load = _load_with_images(options, build, engine, platform, push=False)
    if target == "kubernetes":
        from flashctl.kubernetes import commands as kubernetes

        if out is not None or prune or fmt != "text":
            raise UsageError(
                "--out, --prune and --format json are for RunPod; `plan --target kubernetes`"
                " runs `kubectl apply --dry-run=client` (--detailed-exitcode works with it)"
            )
        project = load().project
        click.echo(kubernetes.plan(project), nl=False)
        if not detailed_exitcode:
            return
        diff = kubernetes.differences(project)
        if diff is not None:
            click.echo(diff, nl=False)
        sys.exit(0 if diff is None else 2)
    from flashctl.deploy.commands import Console, run_plan
    from flashctl.deploy.connect import debug_log

    with debug_log(options.debug):
        code = run_plan(
            load,
            Console(),
            api_url=api_url,
            fmt=fmt,
            out=out,
            prune=prune,
            detailed_exitcode=detailed_exitcode,
        )
    sys.exit(code)


@cli.command()
@project_options
@click.argument("plan_file", metavar="[PLAN]", required=False, type=click.Path(path_type=Path))
@_API_URL
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Apply without asking.")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until changed endpoints have workers.min ready workers (kubernetes: until every"
    " Deployment has rolled out).",
)
@click.option(
    "--wait-timeout",
    default=600.0,
    show_default=True,
    type=click.FloatRange(0),
    metavar="SECONDS",
    help="Give up waiting after this long (exit 1).",
)
@click.option("--prune", is_flag=True, help="Delete owned endpoints that left the file.")
@_TARGET
@_build_options
@click.pass_obj
def apply(
    options: Options,
    plan_file: Path | None,
    api_url: str | None,
    assume_yes: bool,
    wait: bool,
    wait_timeout: float,
    prune: bool,
    target: str,
    build: bool,
    engine: str,
    platform: str,
) -> None:
    """Make RunPod match the file (or carry out a saved PLAN); print each endpoint's URL.
    With --target kubernetes: `kubectl apply` on the rendered manifests, then (unless
    --no-wait) `kubectl rollout status` on each Deployment.

    Asks first on a terminal; without one, --yes is required (else exit 2).
    """
    if build and plan_file is not None:
        raise UsageError("a saved PLAN deploys the images it names; --build is for `apply` alone")
    load = _load_with_images(options, build, engine, platform, push=True)
    if target == "kubernetes":
        from flashctl.deploy.confirm import confirm
        from flashctl.kubernetes import commands as kubernetes

        if plan_file is not None or prune:
            raise UsageError("a saved PLAN and --prune are for RunPod, not --target kubernetes")
        project = load().project
        if not assume_yes:
            click.echo(kubernetes.plan(project), nl=False, err=True)
            if not confirm("Apply these objects with kubectl?", assume_yes=False, command="apply"):
                raise FlashError("Apply cancelled; nothing was changed.")
        click.echo(kubernetes.apply(project), nl=False)
        if wait:
            click.echo(
                f"waiting up to {wait_timeout:g} s for the Deployments to roll out", err=True
            )
            for said in kubernetes.rollouts(project, wait_timeout):
                click.echo(said, nl=False)
        return
    from flashctl.deploy.commands import Console, run_apply
    from flashctl.deploy.connect import debug_log

    with debug_log(options.debug):
        run_apply(
            load,
            Console(),
            api_url=api_url,
            plan_file=plan_file,
            assume_yes=assume_yes,
            wait=wait,
            wait_timeout=wait_timeout,
            prune=prune,
        )


@cli.command()
@project_options
@_API_URL
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.pass_obj
def status(options: Options, api_url: str | None, fmt: str) -> None:
    """Each endpoint's id, URL, workers (ready/min/max) and health."""
    from flashctl.deploy.commands import Console, run_status
    from flashctl.deploy.connect import debug_log

    with debug_log(options.debug):
        run_status(options.load, Console(), api_url=api_url, fmt=fmt)


@cli.command()
@project_options
@_API_URL
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Delete without asking.")
@click.pass_obj
def destroy(options: Options, api_url: str | None, assume_yes: bool) -> None:
    """Delete the file's endpoints that this project owns (never another project's)."""
    from flashctl.deploy.commands import Console, run_destroy
    from flashctl.deploy.connect import debug_log

    with debug_log(options.debug):
        run_destroy(options.load, Console(), api_url=api_url, assume_yes=assume_yes)


@cli.command()
@project_options
@click.argument("endpoint")
@click.argument("method")
@click.argument("path")
@click.option("--data", metavar="JSON", help="JSON request body.")
@click.option("--local", is_flag=True, help="Call `flashctl dev` on localhost instead of RunPod.")
@click.option("--port", default=8888, show_default=True, type=click.IntRange(1, 65535))
@_API_URL
@click.pass_obj
def invoke(
    options: Options,
    endpoint: str,
    method: str,
    path: str,
    data: str | None,
    local: bool,
    port: int,
    api_url: str | None,
) -> None:
    """Call METHOD PATH on ENDPOINT and print the response body (exit 1 unless 2xx)."""
    from flashctl.deploy.commands import Console, InvokeRequest, run_invoke
    from flashctl.deploy.connect import debug_log

    request = InvokeRequest(endpoint, method, path, data, local, port)
    with debug_log(options.debug):
        run_invoke(options.load, Console(), request, api_url=api_url)


# -- from zero to CI: init, loadtest, import-flash ---------------------------------------------


@cli.command()
@click.argument(
    "folder", metavar="[DIR]", default=".", type=click.Path(path_type=Path, file_okay=False)
)
@click.option(
    "--gpu/--cpu", "gpu", default=False, show_default=True, help="GPU or CPU workers (default CPU)."
)
@click.option("--name", help="Project name (default: made from the folder's name).")
@click.option("--force", is_flag=True, help="Replace files that exist already.")
def init(folder: Path, gpu: bool, name: str | None, force: bool) -> None:
    """Scaffold a project in DIR: flash.yaml, a handler module and its test, a GitHub Actions
    workflow and a pre-commit config. Existing files are kept (exit 1) unless --force."""
    from flashctl.scaffold.command import plan_scaffold, write_scaffold

    scaffold, files = plan_scaffold(folder, name, gpu)
    for path in write_scaffold(folder, files, force=force):
        click.echo(str(folder / path))
    where = "" if folder == Path(".") else f"cd {folder} && "
    click.echo(
        f"created {scaffold.project} ({'GPU' if gpu else 'CPU'}); next: {where}flashctl validate "
        "&& flashctl dev (and `python -m pytest` for the handler tests)",
        err=True,
    )


@cli.command()
@project_options
@click.argument("endpoint")
@click.option("--local", is_flag=True, help="Load `flashctl dev` on localhost instead of RunPod.")
@click.option("--port", default=8888, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "-c",
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Requests in flight at once.",
)
@click.option(
    "-n",
    "--requests",
    "request_count",
    type=click.IntRange(1, 1_000_000),
    help="Requests to send (default 100).",
)
@click.option(
    "-d",
    "--duration",
    type=click.FloatRange(0.1, 3600),
    metavar="SECONDS",
    help="Send for this long instead of a count.",
)
@click.option(
    "--route",
    metavar="'METHOD /path'",
    help="Route to load (default: the endpoint's first route without path parameters).",
)
@click.option("--data", metavar="JSON", help="JSON body (query parameters for GET/DELETE).")
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 3600),
    metavar="SECONDS",
    help="Wait this long for each response (default: the route's timeout + 10 s).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format of the report on stdout.",
)
@_API_URL
@click.pass_obj
def loadtest(
    options: Options,
    endpoint: str,
    local: bool,
    port: int,
    concurrency: int,
    request_count: int | None,
    duration: float | None,
    route: str | None,
    data: str | None,
    timeout: float | None,
    fmt: str,
    api_url: str | None,
) -> None:
    """Load one route of ENDPOINT; report p50/p95/p99 latency and server time, throughput and
    errors by status; exit 1 when an objective of the file's `slo:` block is missed."""
    from flashctl.deploy.connect import debug_log
    from flashctl.loadtest.command import LoadtestRequest, run_loadtest

    request = LoadtestRequest(
        endpoint,
        local,
        port,
        concurrency,
        request_count,
        duration,
        route,
        data,
        fmt,
        api_url,
        timeout,
    )
    with debug_log(options.debug):
        code = run_loadtest(options.load, request)
    sys.exit(code)


@cli.command("import-flash")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Where to write (default DIR/flash.yaml; - for stdout).",
)
@click.option("--project", help="Project name (default: made from DIR's name).")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
def import_flash(directory: Path, output: Path | None, project: str | None, force: bool) -> None:
    """Write a flash.yaml for a runpod-flash / tetra-rp project in DIR, read by parsing (never
    importing) its modules; list what could not be translated. Exit 1 if the result does not
    validate yet."""
    from flashctl.import_flash.command import ImportRequest, run_import

    sys.exit(run_import(ImportRequest(directory, output, project, force)))


# -- images: flashctl build, plan/apply --build (flashctl/images) ---------------------------------


@cli.command("build")
@project_options
@click.argument("endpoints", nargs=-1, metavar="[ENDPOINT]...")
@click.option("--push", is_flag=True, help="Push each image to its registry (registry: or image:).")
@_ENGINE
@_PLATFORM
@click.pass_obj
def build_command(
    options: Options, endpoints: tuple[str, ...], push: bool, engine: str, platform: str
) -> None:
    """Render, then build each endpoint's image (all, or the ENDPOINTs named) with the engine
    found on PATH; print `endpoint: image` per endpoint. Engine output goes to stderr. A tag
    derived from the content (registry: without image:) is not rebuilt or pushed again."""
    from flashctl.images.flows import BuildOptions, build_images

    loaded = options.load()
    built = build_images(
        loaded,
        BuildOptions(endpoints, push, engine, platform),
        lambda line: click.echo(line, err=True),
    )
    for result in built:
        click.echo(f"{result.endpoint}: {result.image}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; user errors become a message and an exit code, not a traceback."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="flashctl", standalone_mode=False)
    except FlashError as err:
        if debug:
            raise
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as err:
        err.show()
        sys.exit(UsageError.exit_code if err.exit_code == 2 else err.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
