"""The two ways a RunPod call fails: the API answered with an error, or it could not be reached.

Both are DeployErrors (exit code 1). Their messages name the action ("creating endpoint 'api'"),
the HTTP status or the URL, and RunPod's own `detail` and `errors`, so the user can act on them.
Below them, how one HTTP attempt's failure is read: a problem+json body (`read_problem`), or a
transport error (`never_sent`, `transport_reason`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import requests
import urllib3.exceptions

from flashctl.errors import DeployError


class RunPodAPIError(DeployError):
    """RunPod answered with an error status (an `application/problem+json` body, usually).

    >>> str(RunPodAPIError("POST", "/v2/serverless", 400, action="creating endpoint 'x'",
    ...                    endpoint_name="x", detail="gpu and cpu are mutually exclusive"))
    "RunPod rejected creating endpoint 'x' (400): gpu and cpu are mutually exclusive"
    """

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        *,
        action: str,
        endpoint_name: str | None = None,
        title: str = "",
        detail: str = "",
        errors: Sequence[str] = (),
        key_source: str | None = None,
        attempts: int = 1,
        note: str = "",
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.action = action
        self.endpoint_name = endpoint_name
        self.title = title
        self.detail = detail
        self.errors = tuple(errors)
        self.key_source = key_source
        self.attempts = attempts
        self.note = note
        super().__init__(self._message())

    def _message(self) -> str:
        said = self.detail or self.title or "no detail given"
        if self.status == 401:
            source = f"from {self.key_source}" if self.key_source else "in use"
            head = (
                f"RunPod rejected the API key {source} (401) while {self.action}: {said}. "
                "Check that the key is current and has access to serverless endpoints."
            )
        elif self.status >= 500 or self.status == 429:
            tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
            head = f"RunPod failed {self.action} ({self.status}){tries}: {said}"
        else:
            head = f"RunPod rejected {self.action} ({self.status}): {said}"
        lines = [head, *(f"  - {error}" for error in self.errors)]
        return "\n".join([*lines, self.note] if self.note else lines)


class RunPodConnectionError(DeployError):
    """No usable HTTP response: refused, timed out, or the connection dropped mid-response."""

    def __init__(
        self, url: str, reason: str, *, action: str, attempts: int, note: str = ""
    ) -> None:
        self.url = url
        self.reason = reason
        self.action = action
        self.attempts = attempts
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        message = (
            f"Could not reach the RunPod API at {url} while {action}: {reason}{tries}. "
            "Check the network, or FLASHCTL_API_URL / --api-url if you point flashctl elsewhere."
        )
        super().__init__(f"{message}\n{note}" if note else message)


class ProblemDetails(NamedTuple):
    """RFC 9457 fields as RunPod sends them (`errors` is RunPod's list of validation failures)."""

    title: str
    detail: str
    errors: list[str]


def read_problem(response: requests.Response) -> ProblemDetails:
    """The problem+json fields of an error response, or the best that can be said without them."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        return ProblemDetails(
            str(body.get("title") or response.reason or ""),
            str(body.get("detail") or body.get("message") or body.get("error") or ""),
            [str(e) for e in errors] if isinstance(errors, list) else [],
        )
    # Not problem+json (a proxy's HTML page, say): a short, one-line excerpt.
    return ProblemDetails(str(response.reason or ""), " ".join(response.text.split())[:200], [])


def never_sent(err: requests.RequestException) -> bool:
    """True when the request cannot have reached the server (no connection was made)."""
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(err.args[0], "reason", None) if err.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def transport_reason(err: requests.RequestException, connect: float, read: float) -> str:
    """A few words on why no usable response came, for messages and logs."""
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return f"no connection within {connect:g} s"
    if isinstance(err, requests.exceptions.ReadTimeout):
        return f"no response within {read:g} s"
    if isinstance(
        err, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
    ):
        return "the connection closed before the response was complete"
    if isinstance(err, requests.exceptions.SSLError):
        return "the TLS handshake failed"
    reason = getattr(err.args[0], "reason", None) if err.args else None
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "the host name did not resolve"
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return "connection refused" if "refused" in str(reason).lower() else "could not connect"
    return "the connection closed without a response"
