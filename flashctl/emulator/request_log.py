"""What the emulator was asked: counts per route and a bounded log, for tests and benchmarks.

Served at `GET /_emulator/requests` as `{"counts": {"GET /v2/serverless": 2, ...}, "total": n,
"requests": [...]}`; each logged request has its method, path, route template, status, fault,
user agent, and the JSON bodies of the request and of the response (a registry credential's
username and password are never kept: see `redacted`).
"""

from __future__ import annotations

import re
from collections import Counter, deque
from typing import Any

_TEMPLATES = [
    (re.compile(r"/v2/serverless"), "/v2/serverless"),
    (re.compile(r"/v2/serverless/[^/]+"), "/v2/serverless/{id}"),
    (re.compile(r"/v2/serverless/[^/]+/workers"), "/v2/serverless/{id}/workers"),
    (re.compile(r"/v2/serverless/[^/]+/releases"), "/v2/serverless/{id}/releases"),
    (re.compile(r"/v2/registries/[^/]+"), "/v2/registries/{id}"),
    (
        re.compile(r"/v2/serverless/[^/]+/workers/[^/]+/logs"),
        "/v2/serverless/{id}/workers/{workerId}/logs",
    ),
]
# Request fields RunPod keeps write-only: never kept in the log (nor anywhere else).
WRITE_ONLY = {("POST", "/v2/registries"): ("username", "password")}
REDACTED = "[redacted]"


def redacted(method: str, template: str, body: Any) -> Any:
    """`body` as the log keeps it: the write-only fields of its route replaced.

    >>> redacted("POST", "/v2/registries", {"name": "a", "username": "u", "password": "p"})
    {'name': 'a', 'username': '[redacted]', 'password': '[redacted]'}
    """
    fields = WRITE_ONLY.get((method, template), ())
    if not fields or not isinstance(body, dict):
        return body if not fields or body is None else REDACTED
    return {key: REDACTED if key in fields else value for key, value in body.items()}


def route_template(path: str) -> str:
    """The path with ids replaced, as the OpenAPI document writes it.

    >>> route_template("/v2/serverless/abc123/workers")
    '/v2/serverless/{id}/workers'
    """
    for pattern, template in _TEMPLATES:
        if pattern.fullmatch(path):
            return template
    return path


class RequestLog:
    def __init__(self, limit: int = 10_000) -> None:
        self.counts: Counter[str] = Counter()
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._sequence = 0

    def record(self, entry: dict[str, Any]) -> None:
        self._sequence += 1
        self.counts[f"{entry['method']} {entry['template']}"] += 1
        self._entries.append({"seq": self._sequence, **entry})

    def snapshot(self) -> dict[str, Any]:
        return {
            "counts": dict(sorted(self.counts.items())),
            "total": self._sequence,
            "requests": list(self._entries),
        }

    def reset(self) -> None:
        self.counts.clear()
        self._entries.clear()
        self._sequence = 0
