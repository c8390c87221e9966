"""The one contract between quoting strategies and the order manager: target quotes.

Arrays of shape (n_markets, n_levels), level 0 nearest the mid. Prices are integer ticks, sizes
integer lots, already rounded (bids down, asks up). A size of 0 means "no order at this level";
a market with every size 0 is not quoted (its live orders get cancelled).

A strategy returns one QuoteTargets for all its markets (rows aligned with its slots); the engine
hands each due market's row, copied (`market`), to the order diff, which reads its levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.core.domain import Side

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

    @classmethod
    def one_market(
        cls, bids: Sequence[tuple[int, int]] = (), asks: Sequence[tuple[int, int]] = ()
    ) -> QuoteTargets:
        """One market's ladder from (price_ticks, size_lots) levels per side, nearest the mid first."""
        targets = cls.empty(1, max(len(bids), len(asks)))
        for prices, sizes, levels in (
            (targets.bid_price_ticks, targets.bid_size_lots, bids),
            (targets.ask_price_ticks, targets.ask_size_lots, asks),
        ):
            for level, (price_ticks, size_lots) in enumerate(levels):
                prices[0, level] = price_ticks
                sizes[0, level] = size_lots
        return targets

    def market(self, row: int) -> QuoteTargets:
        """Row `row` as a one-market copy: it outlives the strategy's next call, which may reuse
        the arrays of this one (the vectorized core returns views of its workspace)."""
        s = slice(row, row + 1)
        return QuoteTargets(
            self.bid_price_ticks[s].copy(),
            self.bid_size_lots[s].copy(),
            self.ask_price_ticks[s].copy(),
            self.ask_size_lots[s].copy(),
        )

    def levels(self, row: int = 0) -> list[tuple[Side, int, int]]:
        """(side, price_ticks, size_lots) of every quoted level of `row`: bids, then asks."""
        out: list[tuple[Side, int, int]] = []
        for side, prices, sizes in (
            (Side.BUY, self.bid_price_ticks[row], self.bid_size_lots[row]),
            (Side.SELL, self.ask_price_ticks[row], self.ask_size_lots[row]),
        ):
            out += [(side, p, s) for p, s in zip(prices.tolist(), sizes.tolist(), strict=True) if s > 0]
        return out
