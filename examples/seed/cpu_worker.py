"""CPU endpoint of the seed example: text statistics and transforms."""

from __future__ import annotations

from collections.abc import Callable

OPERATIONS: dict[str, Callable[[str], str]] = {
    "uppercase": str.upper,
    "lowercase": str.lower,
    "reverse": lambda text: text[::-1],
    "title": str.title,
}


def health() -> dict[str, str]:
    """Liveness of the handler code itself."""
    return {"status": "ok", "service": "cpu"}


def validate(text: str) -> dict[str, object]:
    """Statistics of `text`: characters, words, lines, and whether it is empty."""
    return {
        "valid": bool(text.strip()),
        "characters": len(text),
        "words": len(text.split()),
        "lines": len(text.splitlines()) if text else 0,
    }


def transform(text: str, operation: str) -> str:
    """Apply `operation` (uppercase, lowercase, reverse, title) to `text`."""
    try:
        return OPERATIONS[operation](text)
    except KeyError:
        known = ", ".join(OPERATIONS)
        raise ValueError(f"unknown operation '{operation}': use one of {known}") from None
