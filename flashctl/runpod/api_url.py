"""Which RunPod API base URL the client talks to, and how a URL is shown in messages."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from flashctl.errors import DeployError

# The OpenAPI document's `servers` entry; its paths carry the `/v2` prefix themselves.
DEFAULT_API_URL = "https://api.runpod.io"
API_URL_ENV = "FLASHCTL_API_URL"
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def resolve_api_url(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The API base URL: `--api-url`, else FLASHCTL_API_URL, else RunPod's.

    A trailing `/v2` is accepted and dropped, since request paths carry it:

    >>> resolve_api_url("http://127.0.0.1:8765/v2/")
    'http://127.0.0.1:8765'
    """
    environ = os.environ if environ is None else environ
    url = (explicit or environ.get(API_URL_ENV, "") or DEFAULT_API_URL).strip().rstrip("/")
    url = url.removesuffix("/v2")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeployError(f"The API URL {display_url(url)!r} is not an http(s) URL.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        # The bearer key would cross the network in clear text.
        raise DeployError(
            f"Refusing to send the API key over plain http to {parts.hostname}; use https "
            "(plain http is allowed only for a loopback address such as the emulator)."
        )
    return url


def is_loopback(host: str) -> bool:
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def display_url(url: str) -> str:
    """The URL without any `user:password@` part, for messages.

    >>> display_url("https://me:secret@api.example:8443/v2")
    'https://api.example:8443/v2'
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
