"""Where a project deploys: each target names the flow that serves each command for it.

    flow("kubernetes", "plan")(load, console, PlanRequest(...)) -> ExitCode

Like the report formats, targets are a small explicit table; a flow is imported only when its
command runs, so `flashctl --help` loads none of them. A target that cannot serve an option
(a saved plan on Kubernetes) raises UsageError naming it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# target -> command -> "module:function"
TARGETS: dict[str, dict[str, str]] = {
    "runpod": {
        "render": "flashctl.render.flows:run_render",
        "plan": "flashctl.deploy.flows:run_plan",
        "apply": "flashctl.deploy.flows:run_apply",
        "status": "flashctl.deploy.flows:run_status",
        "destroy": "flashctl.deploy.flows:run_destroy",
    },
    "kubernetes": {
        "render": "flashctl.kubernetes.flows:run_render",
        "plan": "flashctl.kubernetes.flows:run_plan",
        "apply": "flashctl.kubernetes.flows:run_apply",
        "status": "flashctl.kubernetes.flows:run_status",
        "destroy": "flashctl.kubernetes.flows:run_destroy",
    },
}


def flow(target: str, command: str) -> Callable[..., Any]:
    module, _, function = TARGETS[target][command].partition(":")
    return getattr(importlib.import_module(module), function)


@dataclass(frozen=True)
class RenderRequest:
    output: Path | None  # None: the target's folder under .flashctl/
    check: bool
    force: bool
    max_file_size: int | None = None  # None: the default limits
    max_context_size: int | None = None


@dataclass(frozen=True)
class PlanRequest:
    api_url: str | None
    fmt: str
    out: Path | None
    prune: bool
    detailed_exitcode: bool


@dataclass(frozen=True)
class ApplyRequest:
    api_url: str | None
    plan_file: Path | None
    assume_yes: bool
    wait: bool
    wait_timeout: float
    prune: bool


@dataclass(frozen=True)
class StatusRequest:
    api_url: str | None
    fmt: str
    releases: bool = False  # RunPod only: each endpoint's release history too


@dataclass(frozen=True)
class DestroyRequest:
    api_url: str | None
    assume_yes: bool
