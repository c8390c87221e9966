"""Delayed delivery of one venue stream in the order its events were made.

A real stream is one TCP connection: its messages arrive in the order they were sent. Simulated
venues delay each event with `loop.call_later`, but asyncio's timer heap does not keep timers
with equal deadlines in FIFO order (on virtual time many tie), so each timer delivers the oldest
pending event rather than its own. Deadlines must not decrease (the caller's job), which makes the
k-th timer to fire the k-th event's.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class InOrderDelivery(Generic[T]):
    def __init__(self, deliver: Callable[[T], None]) -> None:
        self._deliver = deliver
        self._pending: deque[T] = deque()

    def schedule(self, loop: asyncio.AbstractEventLoop, delay_s: float, event: T) -> None:
        self._pending.append(event)
        loop.call_later(delay_s, self._deliver_oldest)

    def _deliver_oldest(self) -> None:
        # one timer per event: the deque is never empty here
        self._deliver(self._pending.popleft())
