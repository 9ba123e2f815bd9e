"""Sizes in flash.yaml: `30MB`, `512KiB`, or a number of bytes."""

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
