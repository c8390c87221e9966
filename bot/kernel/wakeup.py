"""The flag the engine's requote loop sleeps on."""

from __future__ import annotations

import asyncio


class Wakeup:
    """A flag the requote loop sleeps on, with a timeout: `asyncio.Event` plus `wait_for`, without
    the task and the three loop passes `wait_for` takes on every wake (one per book).

    The timeout's timer outlives a wait that `set()` ended: the next wait usually asks for the same
    deadline (the next market due has not changed), and keeps it instead of cancelling one timer
    and scheduling another on every wake (most of a backtest's timers, and the heap's work)."""

    __slots__ = ("_deadline", "_set", "_timer", "_waiter")

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0  # loop time the pending timer fires at

    def set(self) -> None:
        if not self._set:
            self._set = True
            self._release()

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    async def wait(self, timeout_s: float | None) -> None:
        """Until `set()` (at once if it is set) or `timeout_s` seconds (None: no timeout)."""
        if self._set:
            return
        loop = asyncio.get_running_loop()
        if timeout_s is None:
            self._cancel_timer()
        else:
            deadline = loop.time() + timeout_s
            if self._timer is None or deadline != self._deadline:
                self._cancel_timer()
                self._timer, self._deadline = loop.call_at(deadline, self._timeout), deadline
        waiter = self._waiter = loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None
            if self._timer is not None and self._deadline <= loop.time():
                self._cancel_timer()  # its time has come: done, or about to fire for nobody

    def _timeout(self) -> None:
        self._timer = None
        self._release()

    def _release(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
