"""What a load test sends: the route (`--route 'POST /path'` or the endpoint's first plain route),
its body or query, and the URL and key (local `flashctl dev`, or the deployed endpoint).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flashctl.errors import UsageError
from flashctl.model import Endpoint

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
QUERY_METHODS = ("GET", "DELETE")  # the runtime reads their parameters from the query string


@dataclass(frozen=True)
class Target:
    """One request, repeated: everything but the key is safe to print."""

    method: str
    url: str
    body: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.body is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


def parse_route(text: str) -> tuple[str, str]:
    """`'POST /users'` -> `('POST', '/users')`; a UsageError naming the problem otherwise.

    >>> parse_route("post /compute")
    ('POST', '/compute')
    """
    method, _, path = text.strip().partition(" ")
    method, path = method.upper(), path.strip()
    if method not in METHODS or not path.startswith("/"):
        raise UsageError(
            f"--route '{text}' is not 'METHOD /path' (METHOD one of {', '.join(METHODS)})."
        )
    return method, path


def pick_route(endpoint: Endpoint, route: str | None) -> tuple[str, str]:
    """The `--route` given, else the endpoint's first route without path parameters."""
    if route is not None:
        return parse_route(route)
    if endpoint.app:
        raise UsageError(
            f"'{endpoint.key}' serves the ASGI app {endpoint.app}, whose routes flashctl does not"
            " know: choose one with --route 'METHOD /path' (e.g. --route 'GET /items')."
        )
    for candidate in endpoint.routes:
        if "{" not in candidate.path:
            return candidate.method, candidate.path
    raise UsageError(
        f"Every route of '{endpoint.key}' has path parameters: choose one with "
        "--route 'METHOD /path' (e.g. --route 'GET /users/1')."
    )


def declared(endpoint: Endpoint, method: str, path: str) -> bool:
    """Whether a route of `endpoint` serves METHOD PATH (path parameters match any segment);
    an app endpoint's app may serve any."""
    if endpoint.app:
        return True
    for route in endpoint.routes:
        pattern = re.sub(r"\{[^}:]+:path\}", ".+", route.path)
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", pattern)
        if route.method == method and re.fullmatch(pattern, path):
            return True
    return False


def request_parts(method: str, data: str | None) -> tuple[bytes | None, dict[str, str]]:
    """The `--data` JSON as a body, or for GET and DELETE as query parameters (top-level keys)."""
    if data is None:
        return None, {}
    try:
        value: Any = json.loads(data)
    except ValueError as err:
        raise UsageError(f"--data is not valid JSON: {err}") from None
    if method not in QUERY_METHODS:
        return json.dumps(value).encode(), {}
    if not isinstance(value, dict):
        raise UsageError(f"--data for {method} must be a JSON object: its keys become the query.")
    return None, {
        key: item if isinstance(item, str) else json.dumps(item) for key, item in value.items()
    }
