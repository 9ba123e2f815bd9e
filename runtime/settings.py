"""Service-wide settings, filled in by the generated ``handler_service.py`` from flash.yaml."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Settings:
    title: str = "flashctl service"
    version: str = "0.1.0"
    request_timeout: float | None = 30.0  # seconds per handler call, then 504
    max_body: int = 30 * 1024 * 1024  # bytes, then 413 (RunPod caps payloads at 30 MB)
    body_timeout: float | None = 30.0  # seconds to receive a whole request body, then 408
    max_concurrency: int = 64  # in-flight requests per process, then 503
    rate_limit: tuple[int, float] | None = None  # (requests, per seconds) per client IP, then 429
    trusted_proxies: int = 0  # proxies whose X-Forwarded-For entries name the client (RunPod: 1)
    docs: bool = False  # serve /openapi.json and /docs
    metrics: bool = False  # serve Prometheus metrics at /metrics
    startup: Callable[[], Any] | Callable[[], Awaitable[Any]] | None = None
    drain_timeout: float = 30.0  # seconds in-flight requests get after SIGTERM
    unknown_keys: str = "reject"  # body/query keys no parameter names: "reject" (422), "ignore"

    def __post_init__(self) -> None:
        if self.max_body < 0:
            raise ValueError(f"Settings 'max_body' has value {self.max_body!r}. Must be >= 0.")
        if self.body_timeout is not None and self.body_timeout <= 0:
            raise ValueError(
                f"Settings 'body_timeout' has value {self.body_timeout!r}. Must be > 0 or None."
            )
        if self.unknown_keys not in ("reject", "ignore"):
            raise ValueError(
                f"Settings 'unknown_keys' has value {self.unknown_keys!r}. "
                "Must be 'reject' or 'ignore'."
            )
        if self.max_concurrency < 1:
            raise ValueError(
                f"Settings 'max_concurrency' has value {self.max_concurrency!r}. Must be >= 1."
            )
        if self.trusted_proxies < 0:
            raise ValueError(
                f"Settings 'trusted_proxies' has value {self.trusted_proxies!r}. Must be >= 0."
            )
        if self.rate_limit is not None:
            requests, per = self.rate_limit
            if requests < 1 or per <= 0:
                raise ValueError(
                    f"Settings 'rate_limit' has value {self.rate_limit!r}. "
                    "Must be (requests >= 1, seconds > 0)."
                )
