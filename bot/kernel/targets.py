"""The contract between quote models and the order manager: target quotes for many markets.

Arrays of shape (n_markets, n_levels), level 0 nearest the mid. Prices are integer ticks, sizes
integer lots, already rounded (bids down, asks up). A size of 0 means "no order at this level";
a market with every size 0 is not quoted (its live orders get cancelled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class QuoteTargets:
    bid_price_ticks: IntArray
    bid_size_lots: IntArray
    ask_price_ticks: IntArray
    ask_size_lots: IntArray

    def __post_init__(self) -> None:
        shape = self.bid_price_ticks.shape
        for name in ("bid_size_lots", "ask_price_ticks", "ask_size_lots"):
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"QuoteTargets.{name} has shape {getattr(self, name).shape}, expected {shape}"
                )

    @property
    def n_markets(self) -> int:
        return int(self.bid_price_ticks.shape[0])

    @property
    def n_levels(self) -> int:
        return int(self.bid_price_ticks.shape[1])

    @classmethod
    def empty(cls, n_markets: int, n_levels: int) -> QuoteTargets:
        z = np.zeros((n_markets, n_levels), dtype=np.int64)
        return cls(z, z.copy(), z.copy(), z.copy())
