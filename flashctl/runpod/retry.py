"""When the client tries a call again, and how long it waits first.

Backoff is exponential with full jitter (a uniform draw between 0 and the exponential step), so
many clients hitting one rate limit do not retry in lockstep. A server's `Retry-After` is a floor,
never shortened. Every call is bounded twice: by a number of attempts and by a time budget.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

# 500 is included beside the gateway errors: RunPod's (and the emulator's) 500s are transient,
# and every call either is idempotent or checks that it did not land before it is sent again.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for one logical call: `attempts` requests at most, within `budget` seconds.

    `settle`: how long RunPod's endpoint list may take to show a new endpoint. A create whose
    answer was lost is sent again only when the list still does not show it that long after
    it was sent; until then the list is polled every `settle_poll` seconds.
    """

    attempts: int = 5
    budget: float = 60.0
    base_delay: float = 0.5
    max_delay: float = 8.0
    settle: float = 20.0
    settle_poll: float = 1.0

    def backoff(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based).

        >>> RetryPolicy(base_delay=1.0).backoff(3, retry_after=None, rng=random.Random(0)) <= 4.0
        True
        >>> RetryPolicy().backoff(1, retry_after=7.0, rng=random.Random(0)) >= 7.0
        True
        """
        step = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        jittered = rng.uniform(0.0, step)
        return jittered if retry_after is None else max(retry_after, jittered)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: RunPod sends an integer, HTTP also allows a date.

    >>> parse_retry_after("12"), parse_retry_after("soon"), parse_retry_after(None)
    (12.0, None, None)
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
