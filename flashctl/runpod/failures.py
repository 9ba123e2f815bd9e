"""Reading what went wrong with one HTTP attempt: a problem+json body, or a transport error."""

from __future__ import annotations

from typing import NamedTuple

import requests
import urllib3.exceptions


class Problem(NamedTuple):
    """RFC 9457 fields as RunPod sends them (`errors` is RunPod's list of validation failures)."""

    title: str
    detail: str
    errors: list[str]


def read_problem(response: requests.Response) -> Problem:
    """The problem+json fields of an error response, or the best that can be said without them."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        return Problem(
            str(body.get("title") or response.reason or ""),
            str(body.get("detail") or body.get("message") or body.get("error") or ""),
            [str(e) for e in errors] if isinstance(errors, list) else [],
        )
    # Not problem+json (a proxy's HTML page, say): a short, one-line excerpt.
    return Problem(str(response.reason or ""), " ".join(response.text.split())[:200], [])


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
