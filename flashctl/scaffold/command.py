"""Writing a new project: all files or none (existing ones are replaced only with --force)."""

from __future__ import annotations

from pathlib import Path

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
