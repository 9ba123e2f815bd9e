"""Load shedding: in-flight requests per process (503) and a request rate per client (429)."""

from __future__ import annotations

import math


class ConcurrencyLimit:
    """At most ``limit`` requests in flight; the rest are refused at once rather than queued,
    so a saturated worker answers fast and the load balancer can send the request elsewhere."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def full(self) -> bool:
        return self.in_flight >= self.limit

    def enter(self) -> bool:
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1


class RateLimit:
    """A token bucket per client key: bursts up to ``requests``, refilled at
    ``requests / per`` tokens a second.

    >>> limit = RateLimit(2, 60.0)
    >>> [limit.retry_after("1.2.3.4", now=0.0) for _ in range(3)]
    [None, None, 30]
    """

    # Past this many clients, forget the ones whose buckets are full again (they are idle).
    max_clients = 10_000

    def __init__(self, requests: int, per: float) -> None:
        self.capacity = float(requests)
        self.rate = requests / per
        self._buckets: dict[str, tuple[float, float]] = {}

    def retry_after(self, key: str, now: float) -> int | None:
        """``None`` when the request may go ahead (a token is taken), else whole seconds to wait."""
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_clients:
                self._forget_idle(now)
            return None
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))

    def _forget_idle(self, now: float) -> None:
        full = self.capacity / self.rate
        self._buckets = {
            key: (tokens, last)
            for key, (tokens, last) in self._buckets.items()
            if now - last < full
        }
