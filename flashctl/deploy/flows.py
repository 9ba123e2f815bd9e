"""The deploy commands' flows, below click: `flashctl plan|apply|status|destroy|invoke`.

Each takes plain values (the CLI gathers them) and a `Console`; results go to stdout, progress
and plans being applied to stderr. Errors are FlashErrors; the CLI turns them into exit codes.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, replace
from pathlib import Path

import click

from flashctl.compiler.pipeline import Load, Loaded
from flashctl.console import Console
from flashctl.deploy.apply import ApplyInterrupted, Outcome, carry_out
from flashctl.deploy.confirm import confirm
from flashctl.deploy.connect import open_client, shown_url
from flashctl.deploy.cost import check_budget, cost_text, fetch_costs
from flashctl.deploy.desired import declared_environments, desired_endpoints
from flashctl.deploy.destroy import destroy_plan
from flashctl.deploy.normalize import base_url, owner
from flashctl.deploy.pending import PendingCreates
from flashctl.deploy.pending import refusal as pending_refusal
from flashctl.deploy.pending import warnings as pending_warnings
from flashctl.deploy.plan import (
    CREATE,
    DELETE,
    REPLACE,
    UPDATE_RESTART,
    Plan,
    RegistryPlan,
    make_plan,
)
from flashctl.deploy.plan_file import dumps, read_plan, stale_reasons, write_plan
from flashctl.deploy.plan_text import plan_text
from flashctl.deploy.recheck import refusals, with_live_urls
from flashctl.deploy.registries import (
    create_registries,
    plan_registries,
    registry_ids,
    registry_logins,
    undeclared,
    unresolved,
    unset_variables,
)
from flashctl.deploy.wait import WaitTarget, wait_for_rollouts
from flashctl.errors import DeployError, ExitCode, FlashError, InputError, UsageError
from flashctl.model import Project
from flashctl.runpod.client import RunPodClient
from flashctl.targets import ApplyRequest, DestroyRequest, PlanRequest, StatusRequest


def plan_for(client: RunPodClient, loaded: Loaded, *, prune: bool) -> Plan:
    """One list call (two when an endpoint uses a registry credential), then the pure plan."""
    project = loaded.project
    registries: tuple[RegistryPlan, ...] = ()
    if any(endpoint.registry_auth for endpoint in project.endpoints):
        desired_endpoints(project)  # a missing image is reported before any call
        registries = plan_registries(project, client.list_registries())
    desired = desired_endpoints(project, registry_ids(registries))
    remote = client.list_endpoints()
    wanted = {want.name for want in desired}
    # Parsing the file again for its environment names is only worth it when there are strays.
    strays = any(owner(r) == project.name and r.get("name") not in wanted for r in remote)
    plan = make_plan(
        desired,
        remote,
        project=project.name,
        environment=project.environment,
        api_url=shown_url(client),
        prune=prune,
        other_environments=declared_environments(loaded.text, project.file) if strays else (),
    )
    return dataclasses.replace(plan, registries=registries)


def run_plan(load: Load, console: Console, request: PlanRequest) -> ExitCode:
    """Print (and with `out`, save) the plan; the exit code `--detailed-exitcode` asks for."""
    loaded = load()
    with open_client(request.api_url) as client:
        plan = plan_for(client, loaded, prune=request.prune)
        journal = PendingCreates.of(loaded.project, shown_url(client), client.retry.settle)
        unsettled = journal.unsettled(e.name for e in plan.pending if e.action == CREATE)
        if unsettled:  # apply would refuse to create these now
            plan = replace(plan, warnings=plan.warnings + pending_warnings(unsettled))
        costs = fetch_costs(client, loaded.project)
    if request.fmt != "json":
        console.out(plan_text(plan, Console.color("stdout")) + cost_text(costs))
    if unset := unset_variables(plan, os.environ):
        console.progress("Warning: apply will need these variables:\n" + "\n".join(unset))
    check_budget(costs)  # over budget: exit 1, and no plan file is saved
    if request.out is not None:
        write_plan(request.out, plan)
        console.progress(
            f"saved the plan to {request.out}; `flashctl apply {request.out}` carries it out"
        )
    if request.fmt == "json":
        console.out(dumps(plan))
    return ExitCode.CHANGES if request.detailed_exitcode and plan.pending else ExitCode.OK


def run_apply(load: Load, console: Console, request: ApplyRequest) -> ExitCode:
    plan_file, assume_yes, wait = request.plan_file, request.assume_yes, request.wait
    with open_client(request.api_url) as client:
        if plan_file is not None:
            if request.prune:
                raise UsageError(
                    "--prune is decided when the plan is made: `flashctl plan --prune --out FILE`."
                )
            project = _project(load)
            plan = saved_plan(client, plan_file, project.name)
            if refused := undeclared(plan, project):
                raise DeployError(
                    f"The saved plan {plan_file} is refused: " + "; ".join(refused) + ". Nothing"
                    " was applied; run `flashctl plan --out` again and review it."
                )
        else:
            loaded = load()
            project = loaded.project
            plan = plan_for(client, loaded, prune=request.prune)
        console.err(plan_text(plan, Console.color("stderr")))
        journal = checked_journal(client, project, plan)  # before any write
        if project.budget_per_hour is not None:  # `plan` shows costs; apply holds the budget
            costs = fetch_costs(client, project)
            console.err(cost_text(costs))
            check_budget(costs)  # before any write
        if not plan.pending:
            print_urls(console, plan, [])
            return ExitCode.OK
        logins = registry_logins(plan, os.environ)  # an unset variable: exit 1, nothing written
        try:
            agreed = confirm("Apply these changes?", assume_yes=assume_yes, command="apply")
        except (click.exceptions.Abort, KeyboardInterrupt):
            agreed = False
        if not agreed:
            raise FlashError(
                f"Apply cancelled: nothing was changed ({len(plan.pending)} planned change(s)"
                " not made). Running `flashctl apply` again is safe: it plans afresh and asks"
                " again."
            )
        plan = create_registries(client, plan, logins, console.progress)
        if stuck := unresolved(plan):  # only a hand-edited plan file gets here
            raise DeployError(f"no registry credential id for {', '.join(stuck)}; nothing sent")
        outcomes = carry_out(client, plan, console.progress, journal=journal)
        failed = [o for o in outcomes if o.error is not None]
        if wait and not failed:
            try:
                wait_for_rollouts(
                    client, rollout_targets(outcomes), request.wait_timeout, console.progress
                )
            except KeyboardInterrupt:
                raise ApplyInterrupted(
                    "Apply interrupted while waiting for workers: every change was made"
                    f" ({len(outcomes)} endpoint(s)); only the wait was cut short. `flashctl"
                    " status` shows the workers; running `flashctl apply` again is safe (it finds"
                    " nothing left to change)."
                ) from None
        print_urls(console, plan, outcomes)
    if failed:
        details = "\n".join(f"  {o.planned.name}: {o.error}" for o in failed)
        raise DeployError(
            f"Apply failed for {len(failed)} of {len(outcomes)} endpoint(s); the others were "
            f"applied, and running `flashctl apply` again continues from here:\n{details}"
        )
    return ExitCode.OK


def checked_journal(client: RunPodClient, project: Project, plan: Plan) -> PendingCreates:
    """The project's noted creates (`pending.py`), minus those the list now shows; refuses
    (DeployError) to create a name whose earlier create may still appear."""
    journal = PendingCreates.of(project, shown_url(client), client.retry.settle)
    journal.forget(e.name for e in plan.endpoints if e.endpoint_id is not None)
    unsettled = journal.unsettled(e.name for e in plan.pending if e.action == CREATE)
    if unsettled:
        raise DeployError(pending_refusal(unsettled))
    return journal


def rollout_targets(outcomes: list[Outcome]) -> list[WaitTarget]:
    """The endpoints whose change made a new release, to follow with `apply --wait`: updates
    that restart workers, and creates (a replace is one) that start `workers.min` > 0 workers.
    An in-place update makes no release: nothing to wait for."""
    return [
        WaitTarget(o.planned.name, str(o.endpoint["id"]), o.planned.workers_min)
        for o in outcomes
        if o.endpoint is not None
        and (
            o.planned.action == UPDATE_RESTART
            or (o.planned.action in (CREATE, REPLACE) and o.planned.workers_min > 0)
        )
    ]


def _project(load: Load) -> Project:
    """This project for `apply PLAN` (its name, its budget): from flash.yaml, never from the
    plan file."""
    try:
        return load().project
    except InputError as err:
        raise InputError(
            f"{err}\n`apply PLAN` reads the project from the file to check that the plan is "
            "its own (pass -f FILE)."
        ) from err


def saved_plan(client: RunPodClient, path: Path, project: str) -> Plan:
    """A saved plan, if everything it touches is still `project`'s to touch and RunPod still
    matches what it was made against (one list call)."""
    plan = read_plan(path)
    if plan.api_url != shown_url(client):
        raise DeployError(
            f"{path} was made against {plan.api_url}, not {shown_url(client)}; make a new plan "
            "for this API."
        )
    remote = client.list_endpoints()
    refused = refusals(plan, remote, project)
    if refused:
        raise DeployError(
            f"The saved plan {path} is refused: project '{project}' may not carry it out on "
            "RunPod as it is now:\n"
            + "\n".join(f"  {line}" for line in refused)
            + "\nNothing was applied; run `flashctl plan --out` again and review it."
        )
    reasons = stale_reasons(plan, remote)
    if reasons:
        raise DeployError(
            f"The saved plan {path} is stale: RunPod changed since it was made ("
            + "; ".join(reasons)
            + "). Nothing was applied; run `flashctl plan --out` again and review it."
        )
    return with_live_urls(plan, remote)


def print_urls(console: Console, plan: Plan, outcomes: list[Outcome]) -> None:
    """Each endpoint's URL on stdout, `<name> <url>`, one a line."""
    after = {id(o.planned): o for o in outcomes}  # by identity: a pruned duplicate shares a name
    for planned in plan.endpoints:
        if planned.action == DELETE:
            continue
        outcome = after.get(id(planned))
        if outcome is not None and outcome.error is not None:
            continue
        url = base_url(outcome.endpoint) if outcome and outcome.endpoint else planned.url
        if url:
            console.out(f"{planned.name} {url}\n")


def run_destroy(load: Load, console: Console, request: DestroyRequest) -> ExitCode:
    project = load().project
    with open_client(request.api_url) as client:
        plan, skipped = destroy_plan(project, client.list_endpoints(), shown_url(client))
        for line in skipped:
            console.progress(line)
        if not plan.endpoints:
            console.progress(f"Nothing to destroy: project {project.name} owns none of these.")
            return ExitCode.OK
        for planned in plan.endpoints:
            console.err(f"  - {planned.name} ({planned.endpoint_id}): delete\n")
        question = f"Delete {len(plan.endpoints)} endpoint(s) of project {project.name}?"
        if not confirm(question, assume_yes=request.assume_yes, command="destroy"):
            raise FlashError("Destroy cancelled; nothing was deleted.")
        outcomes = carry_out(client, plan, console.progress)
    failed = [o for o in outcomes if o.error is not None]
    for outcome in outcomes:
        if outcome.error is None:
            console.out(f"deleted {outcome.planned.name} ({outcome.planned.endpoint_id})\n")
    if failed:
        details = "\n".join(f"  {o.planned.name}: {o.error}" for o in failed)
        raise DeployError(f"Destroy failed for {len(failed)} endpoint(s):\n{details}")
    return ExitCode.OK


def run_status(load: Load, console: Console, request: StatusRequest) -> ExitCode:
    from flashctl.deploy.status import (
        Spend,
        collect_releases,
        collect_spend,
        collect_status,
        releases_text,
        status_json,
        status_text,
        with_spend,
    )

    project = load().project
    with open_client(request.api_url) as client:
        rows = collect_status(client, project)
        histories = collect_releases(client, rows) if request.releases else None
        spend = collect_spend(client) if any(row.id for row in rows) else Spend({})
        rows = with_spend(rows, spend)
    if request.fmt == "json":
        console.out(status_json(rows, project, histories, spend))
    else:
        console.out(status_text(rows, spend))
        if histories:
            console.out("\n" + releases_text(histories))
    return ExitCode.OK


@dataclass(frozen=True)
class InvokeRequest:
    endpoint: str  # key or RunPod name
    method: str
    path: str
    data: str | None
    local: bool
    port: int
    api_url: str | None


def run_invoke(load: Load, console: Console, request: InvokeRequest) -> ExitCode:
    from flashctl.deploy import invoke
    from flashctl.runpod.create_body import endpoint_timeout_ms

    payload = invoke.parse_data(request.data)
    project = load().project
    endpoint = invoke.find_endpoint(project, request.endpoint)
    read_timeout = endpoint_timeout_ms(endpoint) / 1000 + 10
    if request.local:
        url = invoke.local_url(project, endpoint, request.port, request.path)
        reply = invoke.send(request.method, url, payload, api_key=None, read_timeout=read_timeout)
    else:
        url, key = invoke.remote_route(project, endpoint, request.path, request.api_url)
        reply = invoke.send(request.method, url, payload, api_key=key, read_timeout=read_timeout)
    body = reply.body
    if body:
        console.out(body if body.endswith(b"\n") else body + b"\n")
    if not 200 <= reply.status < 300:
        raise DeployError(f"{request.method.upper()} {url} answered {reply.status} {reply.reason}")
    return ExitCode.OK
