"""Backoff with full jitter, bounded, with Retry-After as a floor."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from flashctl.runpod.retry import RetryPolicy, parse_retry_after


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(1)

    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        delays = [policy.backoff(attempt, None, rng) for _ in range(200)]
        assert all(0.0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # spread over the whole range, not a fixed step


def test_retry_after_is_a_floor_for_the_wait() -> None:
    policy = RetryPolicy(base_delay=0.01)

    assert policy.backoff(1, 3.0, random.Random(0)) == 3.0


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)

    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(later, now=now) == 30.0
    assert parse_retry_after("not a date") is None
    assert parse_retry_after(None) is None
