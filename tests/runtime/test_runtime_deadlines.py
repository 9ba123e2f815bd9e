"""Deadlines: 504 for the request that overran, nothing else disturbed."""

from __future__ import annotations

import asyncio

import pytest
from flashctl_runtime import HTTPError, Route
from flashctl_runtime.deadlines import Deadlines


def test_an_overrun_becomes_a_504_within_a_tick():
    deadlines = Deadlines(tick=0.01)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(HTTPError) as caught:
            await deadlines.within(0.05, asyncio.sleep(5))
        assert caught.value.status == 504
        return loop.time() - started

    assert asyncio.run(main()) < 1.0


def test_a_call_that_finishes_in_time_returns_its_result():
    deadlines = Deadlines(tick=0.01)

    async def answer() -> int:
        await asyncio.sleep(0.01)
        return 42

    async def main() -> int:
        result = await deadlines.within(1.0, answer())
        await asyncio.sleep(0.05)  # the timer has nothing left to cancel
        return result

    assert asyncio.run(main()) == 42


def test_a_cancel_from_the_server_is_not_turned_into_a_504():
    deadlines = Deadlines(tick=0.01)

    async def main() -> None:
        task = asyncio.create_task(deadlines.within(10.0, asyncio.sleep(10)))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_only_the_overrunning_request_is_cancelled():
    deadlines = Deadlines(tick=0.01)

    async def main() -> list[object]:
        slow = deadlines.within(0.05, asyncio.sleep(5))
        quick = deadlines.within(5.0, asyncio.sleep(0.2, result="done"))
        return await asyncio.gather(slow, quick, return_exceptions=True)

    slow, quick = asyncio.run(main())
    assert isinstance(slow, HTTPError) and slow.status == 504
    assert quick == "done"


def test_a_generator_slow_to_yield_its_first_item_gets_504(serve):
    async def tokens():
        await asyncio.sleep(5)
        yield "never"

    client = serve(Route("GET", "/tokens", tokens, timeout=0.1))
    assert client.get("/tokens").status_code == 504
