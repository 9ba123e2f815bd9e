"""One JSON object per line on stdout: per request, and at start-up, readiness and shutdown."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

# default=str: a log line must never fail because a field is not JSON-able.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode

# A JSON string literal of ``text``, quotes included (the C encoder json.dumps uses).
quote: Any = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring

_second: tuple[int, str] = (-1, "")


def timestamp(now: float | None = None) -> str:
    """UTC, millisecond precision: ``2025-01-31T12:00:00.123Z``."""
    global _second
    now = time.time() if now is None else now
    whole = int(now)
    if _second[0] != whole:  # formatting the date is most of the cost: once a second
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((now - whole) * 1000):03d}Z"


def emit(event: str, level: str = "info", **fields: Any) -> None:
    write(_encode({"ts": timestamp(), "level": level, "event": event, **fields}))


def write(line: str) -> None:
    # sys.stdout is looked up on every call so that test capture and redirection apply; flushed
    # so a container's log collector sees each line as it happens.
    out = sys.stdout
    out.write(line + "\n")
    out.flush()
