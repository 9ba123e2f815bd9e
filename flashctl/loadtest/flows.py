"""The `flashctl loadtest` flow below click: resolve the target, warm up, run, report, gate."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from flashctl.compiler.pipeline import Load
from flashctl.console import Console
from flashctl.errors import ExitCode, UsageError
from flashctl.loadtest import runner, slo, stats, target
from flashctl.loadtest import summary as report

DEFAULT_REQUESTS = 100


@dataclass(frozen=True)
class LoadtestRequest:
    endpoint: str
    local: bool
    port: int
    concurrency: int
    requests: int | None
    duration: float | None
    route: str | None
    data: str | None
    fmt: str
    api_url: str | None
    timeout: float | None = None  # per response; None: the route's timeout + 10 s


class ProgressPrinter:
    """The progress line on stderr: redrawn in place on a terminal, every 5 s otherwise."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.tty = sys.stderr.isatty()
        self.ticks = 0
        self.drawn = False

    def __call__(self, progress: runner.Progress) -> None:
        self.ticks += 1
        line = report.progress_line(progress)
        if self.tty:
            self.console.err("\r" + line.ljust(79))
            self.drawn = True
        elif self.ticks % 5 == 0:
            self.console.progress(line)

    def finish(self) -> None:
        if self.drawn:
            self.console.progress("")


def load_of(request: LoadtestRequest) -> runner.Load:
    if request.requests is not None and request.duration is not None:
        raise UsageError("Give either -n/--requests or -d/--duration, not both.")
    requests = request.requests
    if requests is None and request.duration is None:
        requests = DEFAULT_REQUESTS
    return runner.Load(request.concurrency, requests, request.duration, timeout=0.0)


def run_loadtest(load_project: Load, console: Console, request: LoadtestRequest) -> ExitCode:
    """Run the load test; the exit code is 1 when an objective of `slo:` is missed."""
    from flashctl.deploy.invoke import find_endpoint, local_url, remote_route
    from flashctl.runpod.create_body import endpoint_timeout_ms

    load = load_of(request)
    project = load_project().project
    endpoint = find_endpoint(project, request.endpoint)
    method, path = target.pick_route(endpoint, request.route)
    if not target.declared(endpoint, method, path):
        console.progress(f"warning: no route of '{endpoint.key}' serves {method} {path}")
    body, params = target.request_parts(method, request.data)
    timeout = request.timeout or endpoint_timeout_ms(endpoint) / 1000 + 10
    load = runner.Load(load.concurrency, load.requests, load.duration, timeout)
    if request.local:
        url = local_url(project, endpoint, request.port, path)
        key = None
    else:
        url, key = remote_route(project, endpoint, path, request.api_url)
    goal = f"{load.requests} requests" if load.requests else f"{load.duration:g} s"
    console.progress(
        f"loadtest: {method} {url}, {goal} at concurrency {load.concurrency} "
        "(after 1 warm-up request, not counted)"
    )
    to_send = target.Target(method, url, body, params, key)
    hint = f" Is `flashctl dev --port {request.port}` running?" if request.local else ""
    runner.warm_up(to_send, timeout, hint)
    printer = ProgressPrinter(console)
    try:
        outcome = runner.run(to_send, load, printer)
    finally:
        printer.finish()
    summary = stats.summarize(outcome.samples, outcome.elapsed_s)
    objectives = slo.check(summary, project.slo)
    header = report.Header(endpoint.key, method, url, load.concurrency, outcome.interrupted)
    render = report.json_text if request.fmt == "json" else report.text
    console.out(render(header, summary, objectives))
    if outcome.interrupted:
        console.progress("interrupted: the report covers the requests done until then")
        return ExitCode.INTERRUPTED
    missed = slo.missed(objectives)
    if missed:
        listed = "; ".join(o.describe() for o in missed)
        console.progress(f"SLO missed ({project.file} slo:): {listed}")
        return ExitCode.FAILED
    return ExitCode.OK
