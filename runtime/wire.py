"""Requests refused before routing: those a proxy in front could read one way and the service
another (two framings, an unknown HTTP version, a path with dot segments or encoded slashes),
and heads with more fields than any client needs.

Both servers parse HTTP/1.1 themselves and disagree at the edges: uvicorn's parser (llhttp)
refuses ``Content-Length`` together with ``Transfer-Encoding``, hypercorn's (h11) reads the
body as chunked and keeps the connection open, so bytes after the chunked body would be served
as a second request a front proxy never saw (RFC 9112 section 6.1 asks to refuse or close).
Checking the request head here gives both servers the same rules.
"""

from __future__ import annotations

import re

from starlette.types import Scope

MAX_HEADERS = 100  # fields per request head, as Apache's LimitRequestFields; then 431
MAX_HEAD_BYTES = 32 * 1024  # request line plus fields (each server enforces it, see serve.py)
VERSIONS = frozenset({"1.0", "1.1", "2", "3"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def head_refusal(scope: Scope, framings: int) -> tuple[int, str, bool] | None:
    """``(status, detail, close)`` when the request head must not be routed, else ``None``.
    ``framings``: how many Content-Length and Transfer-Encoding fields it has (counted by
    ``Exchange``, which reads every field anyway). ``close``: the connection cannot be trusted
    for another request."""
    version = scope.get("http_version", "1.1")
    if version not in VERSIONS:
        return 505, f"HTTP version {version} is not supported: use HTTP/1.1", True
    if len(scope["headers"]) > MAX_HEADERS:
        return 431, f"Request has more than {MAX_HEADERS} header fields", True
    if framings > 1:
        # two Content-Lengths or both headers: the servers refuse some of these themselves
        return 400, "Request has more than one Content-Length or Transfer-Encoding header", True
    return None


def path_refusal(scope: Scope) -> tuple[int, str, bool] | None:
    """As ``head_refusal``, for the path (the same for every request to it: the service
    remembers the paths it routed)."""
    problem = path_problem(scope["path"], scope.get("raw_path"))
    if problem is not None:
        return 400, f"Path {problem}: send the path in its plain form", False
    return None


def path_problem(path: str, raw: bytes | None) -> str | None:
    """What makes ``path`` ambiguous, or ``None``: empty or dot segments (``//``, ``/./``,
    ``/../``, also percent-encoded), encoded slashes and backslashes. These are refused, not
    normalized: a proxy that routes, authorizes or caches by path may have resolved them
    differently, so no single answer would be right."""
    if not path.startswith("/"):
        return "must start with /"
    if "//" in path:
        return "has an empty segment (//)"
    if "\\" in path:
        return "has a backslash"
    if raw is None or b"%" in raw:
        lowered = (raw or b"").lower()
        if b"%2f" in lowered or b"%5c" in lowered:
            return "has an encoded slash or backslash"
        if _CONTROL.search(path):  # %00, %09, %0d...: some proxies strip or cut at them
            return "has an encoded control character"
    if "/." in path:
        segments = path.split("/")
        if "." in segments or ".." in segments:
            return "has a dot segment (/./ or /../)"
    return None


def shadows_builtin(path: str, docs: bool) -> bool:
    """Another spelling of a path the runtime owns: ``/execute`` (in any case, with anything
    below it or after a ``;``), and ``/ping``, ``/metrics`` or the docs paths in another case or
    with a trailing slash. Routes themselves match case-sensitively; these never reach a
    handler (``/metrics`` is the runtime's whether metrics are on or off)."""
    head = path[1:].partition("/")[0].partition(";")[0]
    if head.strip().lower() == "execute":
        return True
    bare = path.partition(";")[0].rstrip("/").lower()
    return bare in ("/ping", "/metrics") or (docs and bare in ("/docs", "/openapi.json"))
