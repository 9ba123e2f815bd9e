"""Writing a new project: all files or none (existing ones are replaced only with --force)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flashctl.errors import FlashError
from flashctl.scaffold.files import Scaffold, checked_name, project_name, scaffold_files


def plan_scaffold(folder: Path, name: str | None, gpu: bool) -> tuple[Scaffold, dict[str, str]]:
    scaffold = Scaffold(
        checked_name(name) if name else project_name(folder.resolve().name), gpu=gpu
    )
    return scaffold, scaffold_files(scaffold)


def existing(folder: Path, files: dict[str, str]) -> list[str]:
    return [path for path in files if (folder / path).exists()]


def write_scaffold(folder: Path, files: dict[str, str], *, force: bool) -> list[str]:
    """Write `files` under `folder`; refuse (writing nothing) if any exists, unless `force`."""
    clashes = existing(folder, files)
    if clashes and not force:
        raise FlashError(
            f"Refusing to overwrite {', '.join(clashes)} in {folder}: nothing was written "
            "(pass --force to replace them)."
        )
    for path, text in files.items():
        _write(folder / path, text)
    return list(files)


def _write(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so a file is never half-written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as err:
        raise FlashError(f"Could not write {path}: {err.strerror}.") from err
