"""Executable prices on a book snapshot: what taking `size_lots` would cost level by level."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sweep:
    """Taking `filled_lots` (≤ the size asked) from one side of a book."""

    filled_lots: int
    notional_ticks_lots: int  # Σ price_ticks · lots: exact
    worst_price_ticks: int

    @property
    def vwap_ticks(self) -> float:
        return self.notional_ticks_lots / self.filled_lots if self.filled_lots else float("nan")


def sweep(levels: Sequence[tuple[int, int]], size_lots: int) -> Sweep:
    """Walk (price_ticks, size_lots) levels, best first, until `size_lots` are taken."""
    left, notional, worst = size_lots, 0, 0
    for price, size in levels:
        if left <= 0:
            break
        take = min(size, left)
        notional += take * price
        worst = price
        left -= take
    return Sweep(size_lots - max(left, 0), notional, worst)
