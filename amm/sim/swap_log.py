"""The simulated pool's recent swaps, bounded: what its `swap_history` serves (a chain pool reads
the same from its Swap logs)."""

from __future__ import annotations

from collections import deque

from amm.math.conversions import sqrt_price_x96_to_price
from amm.ports import SwapHistory
from amm.sim.v3_pool import SwapOutcome
from bot.core.clock import Clock

MAX_SWAPS = 200_000  # a day of a busy pool's swaps


class SwapLog:
    """Raw rows (time, sqrtPriceX96 after, fee in token0, fee in token1), converted only when
    asked: a swap in the simulation's hot loop only appends a tuple."""

    def __init__(self, clock: Clock, decimals: tuple[int, int], max_swaps: int = MAX_SWAPS) -> None:
        self.clock, self.decimals = clock, decimals
        self.started_ns = clock.now_ns()
        self._rows: deque[tuple[int, int, int, int]] = deque(maxlen=max_swaps)

    def record(self, zero_for_one: bool, outcome: SwapOutcome) -> None:
        fee = outcome.fee_amount
        row = (
            self.clock.now_ns(),
            outcome.sqrt_price_x96,
            fee if zero_for_one else 0,
            0 if zero_for_one else fee,
        )
        self._rows.append(row)

    def history(self, since_ns: int) -> SwapHistory:
        """From `since_ns`, or from what the log still holds: its start, or its oldest row once
        the bound has dropped older ones."""
        d0, d1 = self.decimals
        start = max(since_ns, self.started_ns)
        if len(self._rows) == self._rows.maxlen:
            start = max(start, self._rows[0][0])
        rows = [r for r in self._rows if r[0] >= start]
        return SwapHistory(
            start_ns=start,
            end_ns=max(self.clock.now_ns(), start),
            ts_ns=tuple(r[0] for r in rows),
            price=tuple(sqrt_price_x96_to_price(r[1], d0, d1) for r in rows),
            fee_token0=tuple(r[2] / 10.0**d0 for r in rows),
            fee_token1=tuple(r[3] / 10.0**d1 for r in rows),
        )
