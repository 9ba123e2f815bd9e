"""`flashctl invoke`: call one route of an endpoint, on RunPod or on the local `flashctl dev`.

On RunPod the URL is the endpoint's `requestUrls.base` plus the path, with the API key as a
bearer token. Locally it is `http://127.0.0.1:PORT/<endpoint>/<path>` when the project has
several endpoints and `http://127.0.0.1:PORT/<path>` when it has one, as `flashctl dev` serves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from flashctl.deploy.normalize import base_url, owner
from flashctl.deploy.plan import name_conflict
from flashctl.errors import DeployError, UsageError
from flashctl.model import Endpoint, Project
from flashctl.runpod.api_url import is_loopback
from flashctl.runpod.auth import BearerAuth
from flashctl.runpod.errors import transport_reason

CONNECT_TIMEOUT = 10.0
new_session = requests.Session  # tests swap in a session with a recording transport


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    body: bytes


def find_endpoint(project: Project, ref: str) -> Endpoint:
    """The endpoint named `ref`: its flash.yaml key or its RunPod name."""
    for endpoint in project.endpoints:
        if ref in (endpoint.key, endpoint.runpod_name):
            return endpoint
    keys = ", ".join(e.key for e in project.endpoints)
    raise UsageError(f"No endpoint '{ref}' in {project.file}; its endpoints are: {keys}.")


def local_url(project: Project, endpoint: Endpoint, port: int, path: str) -> str:
    """The route's URL on `flashctl dev --port PORT`.

    One endpoint is served at `/`, several under `/<endpoint>/` (design section 5).
    """
    prefix = f"/{endpoint.key}" if len(project.endpoints) > 1 else ""
    return f"http://127.0.0.1:{port}{prefix}/{path.lstrip('/')}"


def remote_route(
    project: Project, endpoint: Endpoint, path: str, api_url: str | None
) -> tuple[str, str]:
    """The deployed endpoint's URL for `path` and the API key to send with it (one list call);
    what `invoke` and `loadtest` both call."""
    from flashctl.deploy.connect import open_client

    with open_client(api_url) as client:
        remote = client.list_endpoints()
        key = client.credentials.api_key
    url = remote_url(remote, endpoint, project, path)
    refuse_plain_http(url)
    return url, key


def refuse_plain_http(url: str) -> None:
    """The API key goes only to https URLs, or to loopback (the emulator, `flashctl dev`)."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not is_loopback(parts.hostname or ""):
        raise DeployError(f"Refusing to send the API key over plain http to {parts.hostname}.")


def remote_url(
    remote: Sequence[Mapping[str, Any]], endpoint: Endpoint, project: Project, path: str
) -> str:
    """The route's URL on RunPod, from this project's deployed endpoint (`deployed_endpoint`)."""
    found = deployed_endpoint(remote, endpoint, project, action="calling")
    base = base_url(found) if found else None
    if base is None:
        raise DeployError(
            f"{endpoint.runpod_name} is not deployed (no endpoint of that name has a URL); "
            "run `flashctl apply` first, or pass --local to call `flashctl dev`."
        )
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def deployed_endpoint(
    remote: Sequence[Mapping[str, Any]], endpoint: Endpoint, project: Project, *, action: str
) -> Mapping[str, Any] | None:
    """The listed endpoint of this name that `project` may use: its own first, then one no
    project owns; never another project's (as `plan.name_conflict` rules: a DeployError that
    starts `Not <action> <name>`)."""
    named = [e for e in remote if e.get("name") == endpoint.runpod_name]
    conflict = name_conflict(endpoint.runpod_name, named, project.name)
    if conflict is not None:
        raise DeployError(
            f"Not {action} {endpoint.runpod_name}: {conflict.strip()}. flashctl acts only on "
            f"endpoints of project '{project.name}'."
        )
    named = sorted(
        (e for e in named if owner(e) in (project.name, None)),
        key=lambda e: owner(e) != project.name,
    )
    return named[0] if named else None


def parse_data(data: str | None) -> Any:
    """The `--data` JSON, or a UsageError pointing at the mistake."""
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError as err:
        raise UsageError(f"--data is not valid JSON: {err}") from None


def send(
    method: str,
    url: str,
    payload: Any,
    *,
    api_key: str | None,
    read_timeout: float,
) -> Reply:
    """One request; the key goes only to https URLs (or loopback) and never into a message."""
    if api_key:
        refuse_plain_http(url)
    http = new_session()
    try:
        response = http.request(
            method.upper(),
            url,
            json=payload,
            auth=BearerAuth(api_key) if api_key else None,
            timeout=(CONNECT_TIMEOUT, read_timeout),
        )
    except requests.RequestException as err:
        # The exception's own text may quote request details; a summary is enough.
        reason = transport_reason(err, CONNECT_TIMEOUT, read_timeout)
        raise DeployError(f"Could not reach {url}: {reason}.") from None
    finally:
        http.close()
    return Reply(response.status_code, response.reason or "", response.content)
