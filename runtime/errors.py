"""The errors a handler (or the runtime itself) raises to choose an HTTP status.

Every error leaves the service as JSON ``{"detail": ..., "request_id": ...}``; the runtime maps
``HTTPError`` to its status, ``ValueError`` to 400, a deadline to 504 and anything else to 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class HTTPError(Exception):
    """Raise from a handler to answer with ``status`` and a JSON ``detail``.

    >>> raise HTTPError(404, "no user 7")   # -> 404 {"detail": "no user 7", "request_id": "..."}
    """

    def __init__(
        self, status: int, detail: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"HTTPError status must be 400..599, got {status!r}")
        self.status = status
        self.detail = _phrase(status) if detail is None else detail
        self.headers = dict(headers or {})
        super().__init__(status, self.detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status!r}, {self.detail!r})"


class RequestValidationError(HTTPError):
    """422 whose detail is a list of ``{"loc", "msg", "type"}`` items, as FastAPI clients expect."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(422, errors)


class BodyTooLarge(HTTPError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body is larger than {limit} bytes")


class ClientDisconnected(Exception):
    """The client went away before its request body arrived; nothing can be answered."""


# Raised by code written for FastAPI: same status, detail and headers as it would answer.
_FOREIGN = frozenset(
    {("fastapi.exceptions", "HTTPException"), ("starlette.exceptions", "HTTPException")}
)


def from_http_exception(err: Exception) -> Exception:
    """``fastapi.HTTPException`` / ``starlette.exceptions.HTTPException`` (or a subclass) as
    an ``HTTPError`` with its status, detail and headers; anything else unchanged. Recognised
    by class, never imported. A status outside 400..599 stays what it was (a 500)."""
    if isinstance(err, HTTPError) or not any(
        (cls.__module__, cls.__name__) in _FOREIGN for cls in type(err).__mro__
    ):
        return err
    status = getattr(err, "status_code", None)
    if not isinstance(status, int) or not 400 <= status <= 599:
        return err
    headers = getattr(err, "headers", None)
    translated = HTTPError(status, getattr(err, "detail", None), headers or None)
    translated.__cause__ = err
    return translated
