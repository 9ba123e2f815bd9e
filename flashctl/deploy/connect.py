"""The RunPod client the deploy commands use, and their `--debug` request log.

`CLIENT_OPTIONS` are passed to every client made here; tests set a fast retry policy in it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flashctl.runpod.api_url import display_url
from flashctl.runpod.client import RunPodClient

CLIENT_OPTIONS: dict[str, Any] = {}


def open_client(api_url: str | None) -> RunPodClient:
    """A client for `--api-url` / FLASHCTL_API_URL / RunPod, with the configured key."""
    return RunPodClient.from_environment(api_url, **CLIENT_OPTIONS)


def shown_url(client: RunPodClient) -> str:
    return display_url(client.base_url)


@contextmanager
def debug_log(enabled: bool) -> Iterator[None]:
    """With `enabled`, each request's method, URL, status and time go to stderr for the
    duration (the client's log; it redacts the key)."""
    if not enabled:
        yield
        return
    logger = logging.getLogger("flashctl")
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time (click's test runner swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)
