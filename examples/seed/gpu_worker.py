"""GPU endpoint of the seed example: a health check, device info and a numeric job."""

from __future__ import annotations

import os
import platform

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
