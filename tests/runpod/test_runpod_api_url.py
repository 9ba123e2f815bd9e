"""Which base URL the client uses."""

from __future__ import annotations

from typing import Any

import pytest

from flashctl.errors import DeployError
from flashctl.runpod.api_url import DEFAULT_API_URL, display_url, resolve_api_url


def test_default_is_the_server_of_runpods_openapi_document(official: Any) -> None:
    servers = official.document["servers"]

    assert resolve_api_url(environ={}) == DEFAULT_API_URL == servers[0]["url"]


def test_flashctl_api_url_overrides_and_may_end_in_v2() -> None:
    environ = {"FLASHCTL_API_URL": "http://127.0.0.1:8765/v2/"}

    assert resolve_api_url(environ=environ) == "http://127.0.0.1:8765"
    assert resolve_api_url("http://localhost:9000", environ=environ) == "http://localhost:9000"


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(DeployError, match="plain http"):
        resolve_api_url("http://api.example.com/v2", environ={})


def test_a_non_http_url_is_refused() -> None:
    with pytest.raises(DeployError, match="not an http"):
        resolve_api_url("ftp://127.0.0.1", environ={})


def test_credentials_in_a_url_are_not_displayed() -> None:
    assert display_url("https://user:pw@api.example:8443/v2") == "https://api.example:8443/v2"
