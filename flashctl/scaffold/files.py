"""The files of a new project, as `{relative path: text}`; pure apart from reading templates.

Templates live in `templates/init/` (shipped as `flashctl.templates`): `*.j2` files are rendered
with Jinja from a small view (project name, GPU or CPU, flashctl's version, which
requirements-dev.txt and the pre-commit hook pin); the others are copied as they are (the
GitHub workflow is full of `${{ ... }}`, which Jinja must not touch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from flashctl.errors import UsageError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,31}\Z")

# Where each template goes in the new project (dot files are stored without their dot, so
# package-data globs pick them up).
LAYOUT = {
    "flash.yaml": "flash.yaml.j2",
    "app/handlers.py": "handlers.py.j2",
    "tests/test_handlers.py": "test_handlers.py.j2",
    "tests/conftest.py": "conftest.py.j2",
    "requirements-dev.txt": "requirements-dev.txt.j2",
    ".gitignore": "gitignore",
    ".pre-commit-config.yaml": "pre-commit-config.yaml.j2",
    ".github/workflows/flashctl.yml": "github-workflow.yml",
}
SCHEMA_COPY = ".flashctl/flash.schema.json"  # what flash.yaml's yaml-language-server line names


@dataclass(frozen=True)
class Scaffold:
    project: str
    gpu: bool


def project_name(folder_name: str) -> str:
    """A valid project name from a folder name, or a UsageError asking for --name.

    >>> project_name("My_Cool API!")
    'my-cool-api'
    """
    name = re.sub(r"[^a-z0-9]+", "-", folder_name.lower())
    name = re.sub(r"^[^a-z]+", "", name)[:32].strip("-")
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f"Cannot make a project name out of '{folder_name}': pass --name (lower-case "
            "letters, digits and '-', starting with a letter, at most 32)."
        )
    return name


def checked_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f"--name '{name}' is not a project name: lower-case letters, digits and '-', "
            "starting with a letter, at most 32."
        )
    return name


def scaffold_files(scaffold: Scaffold) -> dict[str, str]:
    """Every file of the new project, by POSIX path relative to its folder."""
    from flashctl import __version__
    from flashctl.schema.checker import schema_text

    view = {"project": scaffold.project, "gpu": scaffold.gpu, "version": __version__}
    files = {path: _render(template, view) for path, template in LAYOUT.items()}
    files[SCHEMA_COPY] = schema_text()
    return files


def _render(template: str, view: dict[str, Any]) -> str:
    source = resources.files("flashctl.templates").joinpath("init", template).read_text("utf-8")
    if not template.endswith(".j2"):
        return source
    import jinja2

    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # YAML and Python, never HTML
    )
    return str(environment.from_string(source).render(**view))
