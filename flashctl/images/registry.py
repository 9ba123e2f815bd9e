"""Ask a registry's v2 API whether it has a tag (`HEAD /v2/<name>/manifests/<tag>`).

Loopback registries over plain HTTP, others over HTTPS; a registry that wants a token gets an
anonymous one if its challenge offers it. Anything else (unreachable, refused, odd answers) is
"unknown", and the engine's push, with its own credentials, has the last word.
"""

from __future__ import annotations

import re
from typing import Any

from flashctl.images.tags import ImageName, is_loopback

TIMEOUT = 10.0
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def base_url(registry: str) -> str:
    return f"{'http' if is_loopback(registry) else 'https'}://{registry}"


def has_tag(name: ImageName) -> bool | None:
    """True/False when the registry says so; None when it cannot tell (then push anyway)."""
    import requests

    registry = name.registry
    if registry is None:
        return None
    url = f"{base_url(registry)}/v2/{name.repository}/manifests/{name.tag}"
    headers = {"Accept": MANIFEST_TYPES}
    try:
        with requests.Session() as session:
            session.trust_env = not is_loopback(registry)  # no proxy between us and loopback
            response = session.head(url, headers=headers, timeout=TIMEOUT, allow_redirects=True)
            if response.status_code == 401:
                token = _anonymous_token(session, response.headers.get("WWW-Authenticate", ""))
                if token is None:
                    return None
                headers["Authorization"] = f"Bearer {token}"
                response = session.head(url, headers=headers, timeout=TIMEOUT)
    except requests.RequestException:
        return None
    if response.status_code == 200:
        return True
    if response.status_code == 404:
        return False
    return None


def _anonymous_token(session: Any, challenge: str) -> str | None:
    import requests

    scheme, _, params = challenge.partition(" ")
    if scheme.lower() != "bearer":
        return None
    fields = dict(_CHALLENGE.findall(params))
    if "realm" not in fields or not fields["realm"].startswith("https://"):
        return None
    query = {k: v for k, v in fields.items() if k in ("service", "scope")}
    try:
        response = session.get(fields["realm"], params=query, timeout=TIMEOUT)
    except requests.RequestException:
        return None
    if response.status_code != 200:
        return None
    body = response.json()
    token = body.get("token") or body.get("access_token")
    return token if isinstance(token, str) else None
