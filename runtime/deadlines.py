"""Per-request deadlines with one timer per service instead of one per request.

``asyncio.timeout`` schedules and cancels a timer on every call: ~6 us of CPU on uvloop alone,
up to ~20 us inside the request path as measured here, as much as the rest of the runtime's
own work on a request. A deadline is a dict entry instead; one timer, running only while
deadlines are pending, cancels the overdue tasks every ``tick`` seconds, so a 504 comes at
most one tick late.

The request path arms the current task directly (``arm``, then ``overdue`` where it catches
the cancel, ``disarm`` when done): a request reads its body under ``body_timeout`` and then
calls its handler under ``request_timeout`` with one entry, re-armed, and no wrapper coroutine.
``within`` wraps one awaitable for the other callers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from .errors import HTTPError

T = TypeVar("T")
_current_task = asyncio.current_task


class Deadlines:
    def __init__(self, tick: float = 0.05) -> None:
        self.tick = tick
        self._loop: asyncio.AbstractEventLoop | None = None
        # task -> (when it is due on the loop's clock, seconds it was given, status)
        self._due: dict[asyncio.Task[Any], tuple[float, float, int]] = {}
        self._expired: dict[asyncio.Task[Any], tuple[float, int]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def arm(self, seconds: float, status: int = 504) -> asyncio.Task[Any]:
        """Cancel the current task once ``seconds`` have passed (re-arming replaces an earlier
        deadline); ``status`` 504 for a handler, 408 while the request body is read."""
        task = _current_task()
        assert task is not None
        loop = task.get_loop()
        if loop is not self._loop:  # a new loop (tests start several): start afresh
            self._loop, self._due, self._expired, self._timer = loop, {}, {}, None
        self._due[task] = (loop.time() + seconds, seconds, status)
        if self._timer is None:
            self._timer = loop.call_later(self.tick, self._check)
        return task

    def rearm(self, task: asyncio.Task[Any], seconds: float, status: int = 504) -> None:
        """As ``arm``, for ``task`` (armed before, still current): the next stage's deadline."""
        loop = self._loop
        assert loop is not None
        self._due[task] = (loop.time() + seconds, seconds, status)
        if self._timer is None:
            self._timer = loop.call_later(self.tick, self._check)

    def overdue(self, task: asyncio.Task[Any]) -> HTTPError | None:
        """In ``except CancelledError``: the error to answer with when the cancel was this
        task's deadline alone (not the server's as well), else ``None``: let it through."""
        expired = self._expired.pop(task, None)
        if expired is None or _uncancel(task) != 0:
            return None
        return _expired(*expired)

    def disarm(self, task: asyncio.Task[Any]) -> None:
        self._due.pop(task, None)
        if self._expired:
            self._expired.pop(task, None)

    async def within(self, seconds: float, awaitable: Awaitable[T], status: int = 504) -> T:
        """``await awaitable``, or 504 once ``seconds`` have passed (cancelling it); with
        ``status=408`` the awaitable is reading the request body, and the connection closes."""
        task = self.arm(seconds, status)
        try:
            return await awaitable
        except asyncio.CancelledError:
            error = self.overdue(task)
            if error is None:
                raise
            raise error from None
        finally:
            self.disarm(task)

    def _check(self) -> None:
        loop = self._loop
        assert loop is not None
        now = loop.time()
        for task, (due, seconds, status) in list(self._due.items()):
            if due <= now:
                del self._due[task]
                self._expired[task] = (seconds, status)
                task.cancel()
        self._timer = loop.call_later(self.tick, self._check) if self._due else None


def _expired(seconds: float, status: int) -> HTTPError:
    if status == 408:  # the rest of the body may still come: the connection cannot be reused
        detail = f"Request body did not arrive within {seconds:g} s"
        return HTTPError(408, detail, {"Connection": "close"})
    return HTTPError(status, f"Request did not finish within {seconds:g} s")


def _uncancel(task: asyncio.Task[Any]) -> int:
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    return int(uncancel()) if uncancel is not None else 0
