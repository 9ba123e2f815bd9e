"""Where `flashctl render` writes: its own folder in the project, and the folders it refuses.

The defaults live in `.flashctl/` beside flash.yaml (`.flashctl/build/`,
`.flashctl/kubernetes/`), a dot-folder named after the tool like `.aws-sam/` or `.terraform/`;
`.flashctl/` is never copied into a build context. Any other output folder must lie outside the
project folder and every endpoint's source: replacing one of those, or a folder around them,
would delete the project, and a folder inside a source would be copied into the build.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flashctl.model import Project

OWN_FOLDER = ".flashctl"
BUILD = "build"
KUBERNETES = "kubernetes"


def project_dir(project: Project) -> Path:
    return Path(os.path.abspath(project.base_dir))


def default_output(project: Project, name: str) -> Path:
    """`.flashctl/<name>` in the project folder, relative to the working folder when inside it."""
    path = project_dir(project) / OWN_FOLDER / name
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def refusal(project: Project, output: Path) -> str | None:
    """Why `output` must never be written, or None when it may be (whatever --force says)."""
    real = Path(os.path.realpath(output))
    own = Path(os.path.realpath(project_dir(project))) / OWN_FOLDER  # never through a link
    if real != own and real.is_relative_to(own):
        return None
    if real == own:
        return (
            f"output folder {output} is flashctl's own folder, which holds more than one "
            f"output; leave out -o to use {OWN_FOLDER}/{BUILD}/"
        )
    folders = {f"the source of endpoint '{e.key}'": e.source_dir for e in project.endpoints}
    folders["the project folder"] = project_dir(project)
    found: list[tuple[int, str, str, Path]] = []
    for what, folder in folders.items():
        protected = Path(os.path.realpath(folder))
        if real == protected:
            found.append((1, "is", what, folder))
        elif real.is_relative_to(protected):
            found.append((2, "lies inside", what, folder))
        elif protected.is_relative_to(real):
            found.append((3, "contains", what, folder))
    if found:
        _, relation, what, folder = min(found, key=lambda item: item[0])
        return (
            f"output folder {output} {relation} {what} ({folder}); rendering there would "
            f"replace or copy your files. Leave out -o to use {OWN_FOLDER}/ in the project "
            f"folder, or pass a folder outside the project and its sources."
        )
    return None
