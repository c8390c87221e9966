"""Our own pacing on top of ccxt's rate limiter: an order-rate budget, and a sleep a catch-up
request can cut short (the retry backoff is bot.core.backoff, shared with the supervisor)."""

from __future__ import annotations

import asyncio
import contextlib

from bot.core.clock import NS_PER_S, Clock


class OrderBudget:
    """Token bucket for order traffic (creates and cancels) of one venue.

    `acquire(n)` waits until n tokens are there; the bucket refills at `rate_per_s` up to `burst`.
    Waiters are served in arrival order, so a burst of cancels cannot starve behind creates.
    """

    def __init__(self, clock: Clock, rate_per_s: float, burst: int) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("order budget needs rate_per_s > 0 and burst >= 1")
        self._clock = clock
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self._tokens = float(burst)
        self._last_ns = clock.now_ns()
        self._lock = asyncio.Lock()
        self.waited_s = 0.0

    def _refill(self) -> None:
        now = self._clock.now_ns()
        self._tokens = min(self.burst, self._tokens + (now - self._last_ns) / NS_PER_S * self.rate_per_s)
        self._last_ns = now

    async def acquire(self, n: int = 1) -> None:
        need = min(float(n), self.burst)  # a batch larger than the burst drains the bucket once
        async with self._lock:
            self._refill()
            while self._tokens < need:
                wait_s = (need - self._tokens) / self.rate_per_s
                self.waited_s += wait_s
                await asyncio.sleep(wait_s)
                self._refill()
            self._tokens -= need


async def sleep_or_wake(wake: asyncio.Event, timeout_s: float) -> None:
    """Sleep `timeout_s`, or less if `wake` is set meanwhile; `wake` is cleared either way."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), timeout_s)
    wake.clear()
