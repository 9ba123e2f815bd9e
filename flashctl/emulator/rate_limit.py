"""RunPod's REST API rate limits, per API key: a quota for each of several windows at once.

As RunPod documents them (docs.runpod.io/api-reference-v2/rate-limits and the OpenAPI
document's `TooManyRequestsError`): each user has a quota for a minute, an hour and a day; a
request counts against every window; when any window has run out, requests are refused with
429 `Too Many Requests`, `Retry-After` (seconds until that window resets) and the detail
`rate limit exceeded for the minute window`, until it resets. Every authenticated answer
carries the state in the IETF draft's headers:

    RateLimit-Policy: "minute";q=60;w=60, "hour";q=3000;w=3600, "day";q=50000;w=86400
    RateLimit: "minute";r=59;t=48, "hour";r=2999;t=3048, "day";r=49999;t=86248

Windows are fixed (aligned to multiples of their length). A refused request does not count.
The emulator enforces them only when asked (`create_emulator(rate_limits=...)`,
`python -m flashctl.emulator --rate-limits runpod`): `RUNPOD_WINDOWS` are the quotas of the
document's example.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    name: str  # "minute"
    quota: int  # requests allowed per window
    seconds: int  # the window's length


RUNPOD_WINDOWS = (Window("minute", 60, 60), Window("hour", 3000, 3600), Window("day", 50000, 86400))


def parse_windows(spec: str) -> tuple[Window, ...]:
    """`runpod`, or `NAME=QUOTA/SECONDS,...`; a ValueError saying what is wrong otherwise.

    >>> parse_windows("minute=2/60,second=1/1")
    (Window(name='minute', quota=2, seconds=60), Window(name='second', quota=1, seconds=1))
    """
    if spec.strip() == "runpod":
        return RUNPOD_WINDOWS
    windows = []
    for part in spec.split(","):
        name, _, rest = part.strip().partition("=")
        quota, _, seconds = rest.partition("/")
        if not (name.isidentifier() and quota.isdigit() and seconds.isdigit()):
            raise ValueError(f"{part.strip()!r} is not NAME=QUOTA/SECONDS (e.g. minute=60/60)")
        if int(seconds) < 1:
            raise ValueError(f"the window {name!r} must last at least 1 second")
        windows.append(Window(name, int(quota), int(seconds)))
    return tuple(windows)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds, when refused
    exceeded: str  # the window that ran out, when refused
    state: str  # the `RateLimit` header
    policy: str  # the `RateLimit-Policy` header


class RateLimiter:
    """Counts requests per key and window; safe to call from any thread."""

    def __init__(self, windows: Sequence[Window], clock: Callable[[], float] = time.time) -> None:
        if not windows:
            raise ValueError("a rate limit needs at least one window")
        self.windows = tuple(windows)
        self._clock = clock
        self._lock = threading.Lock()
        # (key digest, window name) -> (window index, requests counted in it)
        self._counts: dict[tuple[str, str], tuple[int, int]] = {}
        self.policy = ", ".join(f'"{w.name}";q={w.quota};w={w.seconds}' for w in self.windows)

    def check(self, key: str) -> Verdict:
        """Count a request of `key` if every window has room; refuse it otherwise."""
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
        with self._lock:
            now = self._clock()
            used = []
            for window in self.windows:
                index = int(now // window.seconds)
                counted_in, count = self._counts.get((digest, window.name), (index, 0))
                used.append((window, index, count if counted_in == index else 0))
            full = [(w, i) for w, i, count in used if count >= w.quota]
            if not full:
                for window, index, count in used:
                    self._counts[(digest, window.name)] = (index, count + 1)
                used = [(w, i, count + 1) for w, i, count in used]
            state = ", ".join(
                f'"{w.name}";r={max(0, w.quota - count)};t={_left(w, i, now)}'
                for w, i, count in used
            )
            if not full:
                return Verdict(True, 0, "", state, self.policy)
            window, index = max(full, key=lambda item: _left(item[0], item[1], now))
            return Verdict(False, _left(window, index, now), window.name, state, self.policy)


def _left(window: Window, index: int, now: float) -> int:
    """Whole seconds until the window resets (at least 1 while it has not)."""
    return max(1, math.ceil((index + 1) * window.seconds - now))
