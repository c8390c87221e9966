"""Past market data a strategy can start from instead of measuring for hours: a market's recent
prices (candle closes from a venue), columnar and oldest first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class HistoryUnavailable(Exception):
    """The source cannot serve the history asked for (no such market, no data kept, a refused or
    failed request); the caller starts without it."""


@dataclass(frozen=True, slots=True)
class PriceHistory:
    """A market's closes `interval_s` apart, oldest first (columns, not one object per row)."""

    interval_s: int
    ts_ns: tuple[int, ...]  # each close's time (the end of its candle)
    price: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError(f"PriceHistory.interval_s must be positive, not {self.interval_s}")
        if len(self.ts_ns) != len(self.price):
            raise ValueError(f"PriceHistory: {len(self.ts_ns)} ts_ns but {len(self.price)} prices")
        if any(b <= a for a, b in zip(self.ts_ns, self.ts_ns[1:], strict=False)):
            raise ValueError("PriceHistory.ts_ns must increase")
        bad = next((p for p in self.price if not (math.isfinite(p) and p > 0.0)), None)
        if bad is not None:
            raise ValueError(f"PriceHistory.price must be positive and finite, not {bad}")

    def __len__(self) -> int:
        return len(self.ts_ns)
