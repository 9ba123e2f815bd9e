"""Commands that deploy: plan, apply, status, destroy (to RunPod or, with --target, Kubernetes),
invoke and logs. Each gathers its options into a request for its flow (flashctl/targets.py)."""

from __future__ import annotations

from pathlib import Path

import click

from flashctl.cli.group import cli
from flashctl.cli.options import (
    API_URL,
    LOCAL_PORT,
    TARGET,
    WAIT_TIMEOUT,
    Options,
    build_options,
    format_option,
    project_options,
    target_option,
)
from flashctl.errors import ExitCode, UsageError


@cli.command()
@project_options
@API_URL
@format_option(
    ("text", "json"),
    "Output format (json: see flashctl/deploy/plan_file.py).",
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
@TARGET
@build_options
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
) -> ExitCode:
    """Show what apply would change on RunPod, field by field (with --target kubernetes:
    `kubectl apply --dry-run=client` on the rendered manifests, and with --detailed-exitcode
    `kubectl diff` too, for its diff and its verdict)."""
    from flashctl.targets import PlanRequest

    if build and out is not None:
        raise UsageError(
            "plan --build pushes nothing, so a saved plan would deploy images no registry has:"
            " run `flashctl apply --build`"
        )
    load = options.load_with_images(build, engine, platform, push=False)
    request = PlanRequest(api_url, fmt, out, prune, detailed_exitcode)
    return options.run_target(target, "plan", request, load)


@cli.command()
@project_options
@click.argument("plan_file", metavar="[PLAN]", required=False, type=click.Path(path_type=Path))
@API_URL
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Apply without asking.")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until each new release has rolled out: no stale worker, workers.min ready"
    " (kubernetes: until every Deployment has rolled out).",
)
@WAIT_TIMEOUT
@click.option("--prune", is_flag=True, help="Delete owned endpoints that left the file.")
@TARGET
@build_options
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
) -> ExitCode:
    """Make RunPod match the file (or carry out a saved PLAN); print each endpoint's URL.
    With --target kubernetes: `kubectl apply` on the rendered manifests, then (unless
    --no-wait) `kubectl rollout status` on each Deployment.

    Asks first on a terminal; without one, --yes is required (else exit 2).
    """
    from flashctl.targets import ApplyRequest

    if build and plan_file is not None:
        raise UsageError("a saved PLAN deploys the images it names; --build is for `apply` alone")
    load = options.load_with_images(build, engine, platform, push=True)
    request = ApplyRequest(api_url, plan_file, assume_yes, wait, wait_timeout, prune)
    return options.run_target(target, "apply", request, load)


@cli.command()
@project_options
@API_URL
@format_option(
    ("text", "json"),
    "Output format.",
)
@target_option(
    "runpod: the RunPod API; kubernetes: `kubectl get` on each endpoint's Deployment"
    " (kubectl's current context and namespace)."
)
@click.option(
    "--releases",
    is_flag=True,
    help="Also each endpoint's release history: version, when, the fields it changed (RunPod).",
)
@click.pass_obj
def status(
    options: Options, api_url: str | None, fmt: str, target: str, releases: bool
) -> ExitCode:
    """Each endpoint's id, URL, workers (ready/min/max) and health (with --target kubernetes:
    each endpoint's Deployment and its ready replicas)."""
    from flashctl.targets import StatusRequest

    if releases and target != "runpod":
        raise UsageError("--releases reads RunPod's release history: it needs --target runpod.")
    return options.run_target(target, "status", StatusRequest(api_url, fmt, releases))


@cli.command()
@project_options
@API_URL
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Delete without asking.")
@target_option(
    "runpod: the RunPod API; kubernetes: `kubectl delete -f` on the rendered objects that"
    " carry this project's labels (kubectl's current context and namespace)."
)
@click.pass_obj
def destroy(options: Options, api_url: str | None, assume_yes: bool, target: str) -> ExitCode:
    """Delete the file's endpoints that this project owns (never another project's); with
    --target kubernetes, the objects `render --target kubernetes` makes that the cluster has
    with this project's labels."""
    from flashctl.targets import DestroyRequest

    return options.run_target(target, "destroy", DestroyRequest(api_url, assume_yes))


@cli.command()
@project_options
@click.argument("endpoint")
@click.argument("method")
@click.argument("path")
@click.option("--data", metavar="JSON", help="JSON request body.")
@click.option("--local", is_flag=True, help="Call `flashctl dev` on localhost instead of RunPod.")
@LOCAL_PORT
@API_URL
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
) -> ExitCode:
    """Call METHOD PATH on ENDPOINT and print the response body (exit 1 unless 2xx)."""
    from flashctl.deploy.flows import InvokeRequest, run_invoke

    request = InvokeRequest(endpoint, method, path, data, local, port, api_url)
    return options.run_flow(run_invoke, request)


@cli.command()
@project_options
@click.argument("endpoint")
@click.option(
    "--follow", is_flag=True, help="Keep streaming new lines (and new workers') until Ctrl-C."
)
@click.option(
    "--since",
    metavar="DURATION",
    help="Lines from this long ago on (30s, 10m, 1h30m, 2d) or from an RFC 3339 time.",
)
@click.option(
    "--tail",
    type=click.IntRange(0, 5000),
    metavar="N",
    help="Print at most N past lines, merged over the workers [default: 100, or with --since"
    " every line since then].",
)
@click.option("--worker", metavar="ID", help="Only this worker's log (see `flashctl status`).")
@format_option(("text", "json"), "json: each event as a JSON line (worker, id, ts, source, line).")
@API_URL
@click.pass_obj
def logs(
    options: Options,
    endpoint: str,
    follow: bool,
    since: str | None,
    tail: int | None,
    worker: str | None,
    fmt: str,
    api_url: str | None,
) -> ExitCode:
    """Print the log of ENDPOINT's workers, merged in time order, each line prefixed with its
    worker (the runtime's JSON lines made readable); with --follow, keep streaming until Ctrl-C
    (exit 0)."""
    from flashctl.logs.flows import LogsRequest, run_logs

    request = LogsRequest(endpoint, follow, since, tail, worker, fmt, api_url)
    return options.run_flow(run_logs, request)


@cli.command()
@project_options
@click.argument("endpoint")
@click.option(
    "--to",
    "version",
    type=click.IntRange(1),
    metavar="VERSION",
    help="The release to go back to (default: the one before the current release).",
)
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Roll back without asking.")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until the rolled-back release has rolled out (as `apply --wait`).",
)
@WAIT_TIMEOUT
@API_URL
@click.pass_obj
def rollback(
    options: Options,
    endpoint: str,
    version: int | None,
    assume_yes: bool,
    wait: bool,
    wait_timeout: float,
    api_url: str | None,
) -> ExitCode:
    """Put ENDPOINT back on the configuration of an earlier release (rebuilt from RunPod's
    release diffs), shown as a plan first. flash.yaml is not changed: the next apply would
    undo the rollback. Asks first on a terminal; without one, --yes is required (else exit 2)."""
    from flashctl.deploy.rollback import RollbackRequest, run_rollback

    request = RollbackRequest(endpoint, version, assume_yes, api_url, wait, wait_timeout)
    return options.run_flow(run_rollback, request)
