"""What `flashctl render|plan|apply --target kubernetes` do, below the CLI (which only gathers
options): render to a folder atomically or compare with it, and kubectl apply, dry run or not.

`render_to` replaces OUTPUT entirely (build_files.write_tree), so its default is a folder of its
own (`build-kubernetes/`), never `build/`, which `flashctl render` replaces in turn.
"""

from __future__ import annotations

from pathlib import Path

from flashctl import build_files
from flashctl.kubernetes import kubectl
from flashctl.kubernetes.render import Files, render_kubernetes
from flashctl.model import Project

DEFAULT_OUTPUT = Path("build-kubernetes")


def render_to(project: Project, output: Path) -> Files:
    """Write `<endpoint>.yaml` per endpoint into `output`, all or nothing."""
    files = render_kubernetes(project)
    build_files.write_tree(output, files)
    return files


def check_rendered(project: Project, output: Path) -> list[str]:
    """What differs between a fresh render and `output` (empty when up to date)."""
    return build_files.differences(render_kubernetes(project), build_files.read_tree(output))


def plan(project: Project) -> str:
    """`kubectl apply --dry-run=client` on a fresh render: what kubectl would create or change
    (it reads the live objects to say so, and writes nothing)."""
    return kubectl.require_success(kubectl.apply_files(render_kubernetes(project), dry_run=True))


def apply(project: Project) -> str:
    """`kubectl apply` on a fresh render; kubectl's report of each object."""
    return kubectl.require_success(kubectl.apply_files(render_kubernetes(project), dry_run=False))
