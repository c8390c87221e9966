"""Fixed spread around the mid with a linear inventory skew, N levels a side, all markets at once."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from bot.market_state import MarketState
from strategies.targets import QuoteTargets

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Guards floor/ceil against binary float error (30000.00 / 0.01 = 2999999.9999999995).
_GRID_EPS = 1e-9


class QuotingControls(BaseModel):
    """How live orders follow targets: shared by every quoting strategy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    markets: list[str] = Field(min_length=1, description='"venue:symbol" keys from [[markets]]')
    min_requote_interval_ms: float = Field(200.0, ge=0)
    refresh_tolerance_ticks: int = Field(1, ge=0)
    refresh_tolerance_bps: float = Field(
        0.0, ge=0, description="also keep orders within this distance; the larger of the two applies"
    )
    size_tolerance: float = Field(
        0.5, ge=0, le=1, description="fraction of target size a live order may differ"
    )
    max_order_age_s: float = Field(60.0, gt=0)


class FixedSpreadParams(QuotingControls):
    kind: Literal["fixed_spread"]
    bid_spread_bps: float = Field(gt=0)
    ask_spread_bps: float = Field(gt=0)
    levels: int = Field(1, ge=1, le=20)
    level_spacing_bps: float = Field(5.0, ge=0)
    skew_bps: float = Field(0.0, ge=0, description="reservation shift at full inventory (|q| = max_position)")


def fixed_spread_quotes(
    mid_price: FloatArray,
    tick_size: FloatArray,
    best_bid_ticks: IntArray,
    best_ask_ticks: IntArray,
    inventory_fraction: FloatArray,
    order_size_lots: IntArray,
    *,
    bid_spread_bps: float,
    ask_spread_bps: float,
    levels: int,
    level_spacing_bps: float,
    skew_bps: float,
) -> QuoteTargets:
    """Quotes for every market in one pass.

    reservation = mid · (1 − skew_bps·q/10⁴), q = position / max_position in [−1, 1]: a long book
    lowers both sides so asks fill first. Level l sits (spread + l·spacing) bps from the
    reservation. Post-only: a bid stays ≥ 1 tick under the best ask, an ask ≥ 1 tick over the best
    bid. The side that would grow |q| past 1 is not quoted; a NaN mid quotes nothing.
    """
    level = np.arange(levels, dtype=np.float64)[None, :]
    q = np.clip(np.nan_to_num(inventory_fraction, nan=0.0), -1.0, 1.0)
    reservation = (mid_price * (1.0 - skew_bps * q / 1e4))[:, None]
    tick = tick_size[:, None]
    with np.errstate(invalid="ignore"):
        bid = np.floor(
            reservation * (1.0 - (bid_spread_bps + level * level_spacing_bps) / 1e4) / tick + _GRID_EPS
        )
        ask = np.ceil(
            reservation * (1.0 + (ask_spread_bps + level * level_spacing_bps) / 1e4) / tick - _GRID_EPS
        )
    valid = np.isfinite(mid_price)[:, None]
    bid_ticks = np.where(valid, bid, 0).astype(np.int64)
    ask_ticks = np.where(valid, ask, 0).astype(np.int64)
    has_ask = (best_ask_ticks > 0)[:, None]
    has_bid = (best_bid_ticks > 0)[:, None]
    bid_ticks = np.where(has_ask, np.minimum(bid_ticks, best_ask_ticks[:, None] - 1), bid_ticks)
    ask_ticks = np.where(has_bid, np.maximum(ask_ticks, best_bid_ticks[:, None] + 1), ask_ticks)
    size = np.broadcast_to(order_size_lots[:, None], bid_ticks.shape)
    bid_size = np.where(valid & (q < 1.0)[:, None] & (bid_ticks > 0), size, 0).astype(np.int64)
    ask_size = np.where(valid & (q > -1.0)[:, None] & (ask_ticks > 0), size, 0).astype(np.int64)
    return QuoteTargets(bid_ticks, bid_size, ask_ticks, ask_size)


class FixedSpreadStrategy:
    """The skeleton's market maker: fixed spread, linear inventory skew, N levels a side."""

    def __init__(self, name: str, params: FixedSpreadParams, slots: npt.NDArray[np.int64]) -> None:
        self.name = name
        self.params = params
        self.slots = slots

    def targets(self, state: MarketState, now_ns: int) -> QuoteTargets:
        s = self.slots
        p = self.params
        return fixed_spread_quotes(
            state.mid_price[s],
            state.tick_size[s],
            state.best_bid_ticks[s],
            state.best_ask_ticks[s],
            state.inventory_fraction()[s],
            state.order_size_lots[s],
            bid_spread_bps=p.bid_spread_bps,
            ask_spread_bps=p.ask_spread_bps,
            levels=p.levels,
            level_spacing_bps=p.level_spacing_bps,
            skew_bps=p.skew_bps,
        )
