"""Writing a new project: all files or none (existing ones are replaced only with --force)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flashctl.console import Console
from flashctl.errors import ExitCode
from flashctl.files import write_files
from flashctl.scaffold.files import Scaffold, checked_name, project_name, scaffold_files


def plan_scaffold(folder: Path, name: str | None, gpu: bool) -> tuple[Scaffold, dict[str, str]]:
    scaffold = Scaffold(
        checked_name(name) if name else project_name(folder.resolve().name), gpu=gpu
    )
    return scaffold, scaffold_files(scaffold)


def write_scaffold(folder: Path, files: dict[str, str], *, force: bool) -> list[str]:
    """Write `files` under `folder`; refuse (writing nothing) if any exists, unless `force`."""
    write_files(folder, {path: text.encode("utf-8") for path, text in files.items()}, force=force)
    return list(files)


@dataclass(frozen=True)
class ScaffoldRequest:
    folder: Path
    gpu: bool
    name: str | None
    force: bool


def run_init(request: ScaffoldRequest, console: Console) -> ExitCode:
    """`flashctl init`: write the project's files and say what to run next."""
    folder = request.folder
    scaffold, files = plan_scaffold(folder, request.name, request.gpu)
    for path in write_scaffold(folder, files, force=request.force):
        console.out(f"{folder / path}\n")
    where = "" if folder == Path(".") else f"cd {folder} && "
    console.progress(
        f"created {scaffold.project} ({'GPU' if request.gpu else 'CPU'}); next: {where}flashctl "
        "validate && flashctl dev (and `python -m pytest` for the handler tests)"
    )
    return ExitCode.OK
