"""What the project wants on RunPod: one create body per endpoint, keyed by its RunPod name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flashctl.errors import InputError
from flashctl.model import Project
from flashctl.runpod.create_body import create_body


@dataclass(frozen=True)
class DesiredEndpoint:
    key: str  # the endpoint's key in flash.yaml
    name: str  # its RunPod name, the identity on the server
    body: dict[str, Any]  # the `POST /v2/serverless` body


def desired_endpoints(
    project: Project, registry_ids: Mapping[str, str] | None = None
) -> tuple[DesiredEndpoint, ...]:
    """Every endpoint's create body; an InputError names each endpoint that has no image.
    `registry_ids` (credential name -> id) fills in `registry` (see `create_body`).

    RunPod runs an image, so deploying needs the one CI built from `.flashctl/build/<endpoint>`.
    """
    missing = [endpoint.key for endpoint in project.endpoints if not endpoint.image]
    if missing:
        lines = [
            f"  endpoint '{key}' has no image: set `endpoints.{key}.image` in {project.file}"
            f" (e.g. ghcr.io/you/{project.name}-{key}:1.0, built from .flashctl/build/{key})"
            for key in missing
        ]
        raise InputError("Cannot deploy without an image:\n" + "\n".join(lines))
    return tuple(
        DesiredEndpoint(
            endpoint.key, endpoint.runpod_name, create_body(project, endpoint, registry_ids)
        )
        for endpoint in project.endpoints
    )


def declared_environments(text: str, file: str) -> tuple[str, ...]:
    """The names under `environments:` in flash.yaml text (all of them, not just the chosen one).

    `--prune` uses them to keep off another environment's endpoints: `seed-api-prod` is not
    pruned by a run without `-e prod` while `prod` is declared.
    """
    from flashctl.compiler.loader import load_text

    document, _ = load_text(text, file)
    data = document.data if document is not None else None
    environments = data.get("environments") if isinstance(data, dict) else None
    return tuple(str(name) for name in environments) if isinstance(environments, dict) else ()
