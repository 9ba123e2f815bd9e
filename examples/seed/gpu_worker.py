"""GPU endpoint of the seed example: a health check, device info, a numeric job and a batched
"model" (`POST /embed`, route option `batch:`) that embeds the texts of many requests per call."""

from __future__ import annotations

import math
import os
import platform
from typing import Any

DIMS = 8  # length of an embedding

_state: dict[str, object] = {"loaded": False}


def load() -> None:
    """Start-up hook: load the model once per worker before /ping turns 200."""
    _state["loaded"] = True
    _state["device"] = os.environ.get("DEVICE", "cpu")


def health() -> dict[str, str]:
    """Liveness of the handler code itself."""
    return {"status": "ok", "service": "gpu"}


def info() -> dict[str, object]:
    """What this worker runs on."""
    return {
        "python": platform.python_version(),
        "device": _state.get("device", "unknown"),
        "model_loaded": bool(_state["loaded"]),
    }


def compute(numbers: list[float]) -> dict[str, float | int]:
    """Sum of squares of `numbers`."""
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers):
        raise ValueError("numbers must be a list of numbers")
    return {"count": len(numbers), "sum_of_squares": sum(n * n for n in numbers)}


def embed(items: list[Any]) -> list[dict[str, Any] | Exception]:
    """Embed each request's `text` as a unit vector of character statistics.

    Batched (`batch:` on the route): `items` holds the bodies of up to `max_size` concurrent
    requests and element i of the result answers request i. A body without a string `text`
    gets a ValueError (400) of its own; the others in the batch are still answered.
    """
    results: list[dict[str, Any] | Exception] = []
    for item in items:
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, str):
            results.append(ValueError('send {"text": "..."}'))
            continue
        vector = [0.0] * DIMS
        for char in text:
            vector[ord(char) % DIMS] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        results.append({"embedding": [round(v / norm, 6) for v in vector], "batch": len(items)})
    return results
