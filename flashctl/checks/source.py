"""`source`: an endpoint's `source` is a folder inside the folder of flash.yaml, written relative
to it (`app`, `./services/api`; null is that folder itself). Its files are copied into the image,
so a path that leads out of the project (`../elsewhere`, `/home/me/code`, or a link pointing out)
is refused, as is one that does not exist."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

from flashctl.compiler.document import Document
from flashctl.model import Endpoint, Project
from flashctl.problems import Problem

ID = "source"


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        reason = unusable(endpoint, project.base_dir)
        if reason is not None:
            yield document.problem(("endpoints", endpoint.key, "source"), ID, reason)


def unusable(endpoint: Endpoint, base_dir: Path) -> str | None:
    """Why `endpoint.source` cannot be used, or None when it is a folder inside `base_dir`."""
    source = endpoint.source
    if PurePosixPath(source).is_absolute() or PureWindowsPath(source).anchor:
        return (
            f"source '{source}' is an absolute path: write it relative to the folder of"
            " flash.yaml, inside it"
        )
    try:
        project = base_dir.resolve()
        folder = endpoint.source_dir.resolve()
        if not folder.is_relative_to(project):
            return (
                f"source '{source}' leads to {folder}, outside the folder of flash.yaml"
                f" ({project}): its files would be copied into the image; move the code inside"
                " the project"
            )
        if not folder.is_dir():
            return f"source folder '{source}' does not exist under {project}"
    except (OSError, ValueError) as err:  # a NUL byte, a name too long, a link loop
        return f"source is not a usable path ({getattr(err, 'strerror', None) or err})"
    return None
