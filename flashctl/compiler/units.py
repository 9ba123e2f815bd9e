"""Sizes in flash.yaml (`30MB`, `512KiB`, or a number of bytes) and durations (`10m`)."""

from __future__ import annotations

import re

_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$")


def parse_size(value: int | str) -> int:
    """Bytes in `value`.

    >>> parse_size("30MB"), parse_size("1KiB"), parse_size(512)
    (30000000, 1024, 512)
    """
    if isinstance(value, int):
        return value
    match = _SIZE.match(value)
    if not match or match.group(2).upper() not in _UNITS:
        raise ValueError(f"{value!r} is not a size: write e.g. 30MB, 512KiB or a number of bytes")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: str) -> float:
    """Seconds in `value`: a number with a unit (ms, s, m, h, d), parts may follow each other.

    >>> parse_duration("10m"), parse_duration("1h30m"), parse_duration("90s"), parse_duration("5")
    (600.0, 5400.0, 90.0, 5.0)
    """
    text = value.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(
            f"{value!r} is not a duration: write e.g. 30s, 10m, 1h30m or 2d (a bare number is"
            " seconds)"
        )
    return float(sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts))
