"""The thread pool sync handlers run in."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from flashctl_runtime.threads import ThreadPool

REQUEST = contextvars.ContextVar("REQUEST", default="none")


def test_blocking_calls_run_side_by_side():
    pool = ThreadPool(4)
    barrier = threading.Barrier(3, timeout=5)  # breaks if the calls were run one by one

    async def main() -> list[int]:
        return await asyncio.gather(*(pool.run(barrier.wait) for _ in range(3)))

    assert sorted(asyncio.run(main())) == [0, 1, 2]
    pool.close()


def test_calls_see_the_callers_context_and_keyword_arguments():
    pool = ThreadPool(2)

    def describe(suffix: str) -> str:
        return REQUEST.get() + suffix

    async def main() -> str:
        REQUEST.set("req-1")
        return await pool.run(describe, suffix="!")

    assert asyncio.run(main()) == "req-1!"
    pool.close()


def test_exceptions_reach_the_caller():
    pool = ThreadPool(1)

    def fail() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        asyncio.run(pool.run(fail))
    pool.close()


def test_a_cancelled_call_is_abandoned_and_the_pool_keeps_working():
    pool = ThreadPool(2)
    release = threading.Event()

    async def main() -> str:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await pool.run(release.wait, timeout=5)
        return await pool.run(str, object="OK")

    try:
        assert asyncio.run(main()) == "OK"
    finally:
        release.set()
        pool.close()


def test_threads_are_started_only_as_needed():
    pool = ThreadPool(8)

    async def main() -> None:
        for _ in range(5):
            await pool.run(str, object=1)

    asyncio.run(main())
    assert len(pool._threads) == 1  # one call at a time reuses the idle thread
    pool.close()
