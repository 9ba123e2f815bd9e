"""`env`: variable names are shell-safe identifiers; `PORT`, `PORT_HEALTH`, `HEALTH_CHECK_PATH`
and `FLASHCTL_PROJECT` are set by flashctl (from `runtime.port`, `runtime.health_path` and the
project); secret names are letters, digits, `_` and `-`. A literal value under a name that looks
secret is a warning: use `{secret: name}`."""

from __future__ import annotations

import re
from collections.abc import Iterator

from flashctl.compiler.document import Document
from flashctl.model import Project
from flashctl.problems import Problem

ID = "env"
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
SECRET = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
MANAGED = {
    "PORT": "set from runtime.port",
    "PORT_HEALTH": "set from runtime.port",
    "HEALTH_CHECK_PATH": "set from runtime.health_path",
    "FLASHCTL_PROJECT": "marks the endpoints this project owns",
}
SECRET_LOOKING = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|PRIVATE_KEY)", re.I)


def check(project: Project, document: Document) -> Iterator[Problem]:
    for endpoint in project.endpoints:
        for var in endpoint.env:
            at = ("endpoints", endpoint.key, "env", var.name)
            if var.name in MANAGED:
                yield document.problem(
                    at,
                    ID,
                    f"{var.name} is managed by flashctl ({MANAGED[var.name]}): remove it from env",
                    at_key=True,
                )
            elif not NAME.match(var.name):
                yield document.problem(
                    at,
                    ID,
                    f"'{var.name}' is not a valid variable name: use letters, digits and '_',"
                    " not starting with a digit",
                    at_key=True,
                )
            if var.secret is not None and not SECRET.match(var.secret):
                yield document.problem(
                    (*at, "secret"),
                    ID,
                    f"secret name '{var.secret}' is invalid: use letters, digits, '_' and '-'",
                )
            if var.value and SECRET_LOOKING.search(var.name) and "${" not in var.value:
                yield document.problem(
                    at,
                    ID,
                    f"{var.name} holds a literal value that looks secret: store it as a RunPod"
                    " secret and write {secret: name}",
                    severity="warning",
                )
