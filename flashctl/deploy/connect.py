"""The RunPod client the deploy commands use.

`CLIENT_OPTIONS` are passed to every client made here; tests set a fast retry policy in it.
"""

from __future__ import annotations

from typing import Any

from flashctl.runpod.api_url import display_url
from flashctl.runpod.client import RunPodClient

CLIENT_OPTIONS: dict[str, Any] = {}


def open_client(api_url: str | None) -> RunPodClient:
    """A client for `--api-url` / FLASHCTL_API_URL / RunPod, with the configured key."""
    return RunPodClient.from_environment(api_url, **CLIENT_OPTIONS)


def shown_url(client: RunPodClient) -> str:
    return display_url(client.base_url)
