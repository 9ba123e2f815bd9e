"""Load shedding: in-flight requests per process (503) and a request rate per client (429)."""

from __future__ import annotations

import math
from collections import OrderedDict

from starlette.types import Scope


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

    # At most this many clients are remembered; past it the one seen longest ago is forgotten
    # (its bucket starts full if it comes back). O(1) a request, whatever the number of keys.
    max_clients = 10_000

    def __init__(self, requests: int, per: float) -> None:
        self.capacity = float(requests)
        self.rate = requests / per
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def retry_after(self, key: str, now: float) -> int | None:
        """``None`` when the request may go ahead (a token is taken), else whole seconds to wait."""
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is None:
            tokens = self.capacity
            if len(buckets) >= self.max_clients:
                buckets.popitem(last=False)
        else:
            tokens = min(self.capacity, bucket[0] + (now - bucket[1]) * self.rate)
            buckets.move_to_end(key)
        if tokens >= 1.0:
            buckets[key] = (tokens - 1.0, now)
            return None
        buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))


def client_address(scope: Scope, trusted_proxies: int) -> str:
    """The client address the rate limit counts: with ``trusted_proxies`` proxies in front
    (RunPod's load balancer is one), the ``X-Forwarded-For`` entry the outermost of them wrote,
    counted from the right, since entries further left are whatever the client sent; else, or
    when the header has fewer entries, the connection's peer. Both servers leave ``client`` as
    the peer (uvicorn's own proxy-header handling is off), so they key the same.

    >>> client_address({"headers": [(b"x-forwarded-for", b"6.6.6.6, 1.2.3.4")],
    ...                 "client": ("10.0.0.1", 5)}, 1)
    '1.2.3.4'
    """
    if trusted_proxies:
        values = [value for name, value in scope["headers"] if name == b"x-forwarded-for"]
        if values:
            entries = b",".join(values).split(b",")
            if len(entries) >= trusted_proxies:
                entry = entries[-trusted_proxies].strip()[:64]  # an address is at most 45
                if entry:
                    return entry.decode("latin-1")
    client = scope.get("client")
    return str(client[0]) if client else ""
