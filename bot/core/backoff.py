"""Exponential backoff with jitter: the one delay rule for retries and restarts."""

from __future__ import annotations

import random


class Backoff:
    """`base_s * 2**attempt`, capped at `max_s`, with "equal jitter" (never below half of it);
    a venue's Retry-After wins when it asks for longer."""

    def __init__(self, base_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.base_s = base_s
        self.max_s = max_s
        self._rng = rng or random.Random()

    def delay_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        ceiling = min(self.max_s, self.base_s * 2 ** min(attempt, 60))
        delay = ceiling * (0.5 + 0.5 * self._rng.random())
        if retry_after_s is not None:
            delay = max(delay, retry_after_s)
        return delay
