"""How the API key is attached to requests, and kept out of logs and messages."""

from __future__ import annotations

from collections.abc import Mapping

import requests

REDACTED = "[redacted]"


class BearerAuth(requests.auth.AuthBase):
    """Adds the key per request; an explicit auth also stops requests from reading ~/.netrc."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._api_key}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(<redacted>)"

    def scrub(self, text: str) -> str:
        """`text` with the key replaced, for anything a server sends back that we show."""
        return text.replace(self._api_key, REDACTED) if self._api_key else text

    def redacted_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers fit for a debug log: Authorization (and any value holding the key) hidden."""
        return {
            name: REDACTED if name.lower() == "authorization" else self.scrub(value)
            for name, value in headers.items()
        }
