"""Commands around the pipeline: the local RunPod emulator, and from zero to CI: init, loadtest,
import-flash."""

from __future__ import annotations

from pathlib import Path

import click

from flashctl.cli.group import cli
from flashctl.cli.options import API_URL, LOCAL_PORT, Options, format_option, project_options
from flashctl.errors import ExitCode


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
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
@click.option(
    "--latency-ms",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Delay added to every answer, in milliseconds.",
)
@click.option("--seed", type=int, help="Seed for reproducible faults.")
@click.option(
    "--rollout-interval",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0),
    metavar="SECONDS",
    help="Time between two worker replacements of a rolling update.",
)
@click.option(
    "--rate-limits",
    metavar="SPEC",
    help="Enforce per-key rate limits as RunPod does: `runpod` (its documented minute, hour and"
    " day quotas) or NAME=QUOTA/SECONDS,... (default: off).",
)
@click.option(
    "--list-lag",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    metavar="SECONDS",
    help="A new endpoint appears in the endpoint list only this long after its create.",
)
@click.option(
    "--run-workers",
    is_flag=True,
    help="Run the deployed endpoints' real workers (from their images or rendered build"
    " contexts, see --workers-from), behind"
    " a local load balancer at http://HOST:PORT/<endpoint id>/.",
)
@click.option(
    "--contexts",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".flashctl/build"),
    show_default=True,
    help="Render output folder (with manifest.json) the workers run from.",
)
@click.option(
    "--worker-ports",
    default="20000-20999",
    show_default=True,
    metavar="LOW-HIGH",
    help="Loopback ports the workers listen on.",
)
@click.option(
    "--max-workers",
    default=16,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Cap on worker processes over all endpoints.",
)
@click.option(
    "--secrets",
    "secrets_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="NAME=value lines: the values of the secrets endpoints reference.",
)
@click.option(
    "--worker-wait",
    default=120.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    metavar="SECONDS",
    help="How long a request waits for a ready worker before the 400 RunPod answers.",
)
@click.option(
    "--workers-from",
    type=click.Choice(["auto", "image", "context"]),
    default="auto",
    show_default=True,
    help="What workers run: the endpoint's image when a container engine (docker, podman,"
    " buildah) has it in its local store (auto) or always (image), or its rendered build"
    " context.",
)
def emulator(
    host: str,
    port: int,
    state: Path | None,
    api_key: str | None,
    fail_rate: float,
    latency_ms: float,
    seed: int | None,
    rollout_interval: float,
    rate_limits: str | None,
    list_lag: float,
    run_workers: bool,
    contexts: Path,
    worker_ports: str,
    max_workers: int,
    secrets_file: Path | None,
    worker_wait: float,
    workers_from: str,
) -> ExitCode:
    """Serve a local RunPod REST v2 API for offline deploys and CI; with --run-workers, a local
    RunPod that runs, load-balances and scales the deployed endpoints' workers."""
    from flashctl.emulator.server import serve_emulator
    from flashctl.emulator.workers import worker_options

    workers = None
    if run_workers:
        workers = worker_options(
            contexts, worker_ports, secrets_file, max_workers, worker_wait, workers_from
        )
    what = "local RunPod (workers run)" if run_workers else "RunPod API emulator"
    click.echo(f"{what} on http://{host}:{port}/v2 (Ctrl-C stops)", err=True)
    serve_emulator(
        host,
        port,
        state,
        api_key,
        fail_rate,
        latency_ms,
        seed,
        rollout_interval=rollout_interval,
        rate_limits=rate_limits,
        list_lag=list_lag,
        workers=workers,
    )
    return ExitCode.OK


@cli.command()
@click.argument(
    "folder", metavar="[DIR]", default=".", type=click.Path(path_type=Path, file_okay=False)
)
@click.option(
    "--gpu/--cpu", "gpu", default=False, show_default=True, help="GPU or CPU workers (default CPU)."
)
@click.option("--name", help="Project name (default: made from the folder's name).")
@click.option("--force", is_flag=True, help="Replace files that exist already.")
def init(folder: Path, gpu: bool, name: str | None, force: bool) -> ExitCode:
    """Scaffold a project in DIR: flash.yaml, a handler module and its test, a GitHub Actions
    workflow and a pre-commit config. Existing files are kept (exit 1) unless --force."""
    from flashctl.console import Console
    from flashctl.scaffold.flows import ScaffoldRequest, run_init

    return run_init(ScaffoldRequest(folder, gpu, name, force), Console())


@cli.command()
@project_options
@click.argument("endpoint")
@click.option("--local", is_flag=True, help="Load `flashctl dev` on localhost instead of RunPod.")
@LOCAL_PORT
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
@format_option(
    ("text", "json"),
    "Output format of the report on stdout.",
)
@API_URL
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
) -> ExitCode:
    """Load one route of ENDPOINT; report p50/p95/p99 latency and server time, throughput and
    errors by status; exit 1 when an objective of the file's `slo:` block is missed."""
    from flashctl.loadtest.flows import LoadtestRequest, run_loadtest

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
    return options.run_flow(run_loadtest, request)


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
def import_flash(
    directory: Path, output: Path | None, project: str | None, force: bool
) -> ExitCode:
    """Write a flash.yaml for a runpod-flash / tetra-rp project in DIR, read by parsing (never
    importing) its modules; list what could not be translated. Exit 1 if the result does not
    validate yet."""
    from flashctl.console import Console
    from flashctl.import_flash.flows import ImportRequest, run_import

    return run_import(ImportRequest(directory, output, project, force), Console())
