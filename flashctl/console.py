"""Where a command's output goes: results on stdout, progress and messages on stderr.

One `Console` per command run; colour is decided here once (a terminal, and no NO_COLOR), and
`debug_log` turns on the `--debug` request log. Progress lines may come from several threads.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import click


@dataclass
class Console:
    """Where output goes; progress lines may come from several threads at once."""

    _lock: threading.Lock = field(default_factory=threading.Lock)

    def out(self, text: str | bytes) -> None:
        click.echo(text, nl=False)

    def err(self, text: str) -> None:
        click.echo(text, nl=False, err=True)

    def progress(self, line: str) -> None:
        with self._lock:
            click.echo(line, err=True)

    @staticmethod
    def color(stream: str) -> bool:
        """Colour only on a terminal and never with NO_COLOR (design section 5)."""
        handle = sys.stdout if stream == "stdout" else sys.stderr
        return handle.isatty() and "NO_COLOR" not in os.environ


@contextmanager
def debug_log(enabled: bool) -> Iterator[None]:
    """With `enabled`, each request's method, URL, status and time go to stderr for the
    duration (the RunPod client's log; it redacts the key)."""
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
