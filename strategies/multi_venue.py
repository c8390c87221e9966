"""One instrument quoted on several venues as one book: consolidated fair value, one inventory.

Every venue's quotes for an instrument (base/quote) share one reservation price,
r = fair · (1 − skew_bps · q / 10⁴), where q is the instrument's TOTAL position across all its
venues over the sum of their position limits. A venue's anchor may lean toward its own book
(`local_anchor_weight`) so quotes stay competitive where a venue trades away from consensus.

Per venue: sizes come from the market's order size, the side that would push the venue's own
position past its limit is not quoted, and sizes are capped by the venue's balances (base for
asks, quote for bids, levels consume the balance in order).

Self-trade prevention across venues: every bid is clamped strictly below r and every ask strictly
above it, with a margin of the refresh tolerance (live orders may sit that far from their
target), so our bid on one venue is never at or above our ask on another, even when the
consolidated book is crossed and local anchors disagree.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator

from bot.market_state import MarketState
from strategies.controls import QuotingControls
from strategies.fair_value import FairValueEstimator, FairValueParams, InstrumentLayout
from strategies.quote_core import SNAP_TICKS as _GRID_EPS
from strategies.targets import QuoteTargets

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class MultiVenueParams(QuotingControls):
    kind: Literal["multi_venue_mm"]
    bid_spread_bps: float = Field(gt=0)
    ask_spread_bps: float = Field(gt=0)
    levels: int = Field(1, ge=1, le=20)
    level_spacing_bps: float = Field(5.0, ge=0)
    skew_bps: float = Field(0.0, ge=0, description="reservation shift at full TOTAL inventory")
    local_anchor_weight: float = Field(
        0.0, ge=0, le=1, description="0: quote around the consolidated fair; 1: around each venue's mid"
    )
    fair_value: FairValueParams = FairValueParams()

    @field_validator("fair_value")
    @classmethod
    def _no_amm(cls, value: FairValueParams) -> FairValueParams:
        if value.method == "amm":
            raise ValueError('method "amm" is not available to multi_venue_mm (no pool feed in the engine)')
        return value


def multi_venue_quotes(
    fair_price: FloatArray,
    local_mid: FloatArray,
    total_inventory_fraction: FloatArray,
    tick_size: FloatArray,
    best_bid_ticks: IntArray,
    best_ask_ticks: IntArray,
    position_lots: IntArray,
    max_position_lots: IntArray,
    order_size_lots: IntArray,
    lot_size: FloatArray,
    base_balance: FloatArray,
    quote_balance: FloatArray,
    tolerance_price: FloatArray,
    *,
    bid_spread_bps: float,
    ask_spread_bps: float,
    levels: int,
    level_spacing_bps: float,
    skew_bps: float,
    local_anchor_weight: float,
) -> QuoteTargets:
    """Targets for every market (rows) at once; `fair_price` and the fraction are per market's instrument."""
    level = np.arange(levels, dtype=np.float64)[None, :]
    q = np.clip(np.nan_to_num(total_inventory_fraction, nan=0.0), -1.0, 1.0)
    reservation = fair_price * (1.0 - skew_bps * q / 1e4)
    local = np.where(np.isfinite(local_mid), local_mid, fair_price)
    anchor = (reservation + local_anchor_weight * (local - fair_price))[:, None]
    tick = tick_size[:, None]
    with np.errstate(invalid="ignore"):
        bid = np.floor(anchor * (1.0 - (bid_spread_bps + level * level_spacing_bps) / 1e4) / tick + _GRID_EPS)
        ask = np.ceil(anchor * (1.0 + (ask_spread_bps + level * level_spacing_bps) / 1e4) / tick - _GRID_EPS)
        # self-trade prevention: bids strictly below the shared reservation, asks strictly above
        bid_cap = np.ceil((reservation - tolerance_price) / tick_size - _GRID_EPS) - 1
        ask_floor = np.floor((reservation + tolerance_price) / tick_size + _GRID_EPS) + 1
        bid = np.minimum(bid, bid_cap[:, None])
        ask = np.maximum(ask, ask_floor[:, None])
    valid = np.isfinite(fair_price)[:, None]
    bid_ticks = np.where(valid, bid, 0).astype(np.int64)
    ask_ticks = np.where(valid, ask, 0).astype(np.int64)
    # post-only on each venue's own book
    bid_ticks = np.where(
        (best_ask_ticks > 0)[:, None], np.minimum(bid_ticks, best_ask_ticks[:, None] - 1), bid_ticks
    )
    ask_ticks = np.where(
        (best_bid_ticks > 0)[:, None], np.maximum(ask_ticks, best_bid_ticks[:, None] + 1), ask_ticks
    )
    size = np.broadcast_to(order_size_lots[:, None], bid_ticks.shape).astype(np.float64)
    # per-venue position limit: the whole ladder on one side may not push past it
    room_buy = np.maximum(max_position_lots - position_lots, 0)[:, None]
    room_sell = np.maximum(max_position_lots + position_lots, 0)[:, None]
    bid_size = _consume(size, room_buy.astype(np.float64))
    ask_size = _consume(size, room_sell.astype(np.float64))
    # balances: asks consume base, bids consume quote (at their price)
    base_lots = np.floor(np.nan_to_num(base_balance, nan=np.inf) / lot_size + _GRID_EPS)[:, None]
    ask_size = _consume(ask_size, base_lots)
    bid_notional_per_lot = bid_ticks * tick * lot_size[:, None]
    quote_cap = np.nan_to_num(quote_balance, nan=np.inf)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        spent_before = np.cumsum(bid_size * bid_notional_per_lot, axis=1) - bid_size * bid_notional_per_lot
        affordable = np.floor(np.maximum(quote_cap - spent_before, 0) / bid_notional_per_lot + _GRID_EPS)
    bid_size = np.minimum(bid_size, np.where(bid_notional_per_lot > 0, affordable, 0))
    bid_size = np.where(valid & (bid_ticks > 0), bid_size, 0).astype(np.int64)
    ask_size = np.where(valid & (ask_ticks > 0), ask_size, 0).astype(np.int64)
    return QuoteTargets(bid_ticks, bid_size, ask_ticks, ask_size)


def _consume(size: FloatArray, budget: FloatArray) -> FloatArray:
    """Sizes of a ladder after levels consume `budget` (per row) in order, level 0 first."""
    before = np.cumsum(size, axis=1) - size
    return np.clip(np.minimum(size, budget - before), 0, None)


class MultiVenueStrategy:
    """Quoting strategy kind "multi_venue_mm" (driven by the engine like fixed_spread)."""

    def __init__(self, name: str, params: MultiVenueParams, slots: IntArray, state: MarketState) -> None:
        self.name = name
        self.params = params
        self.slots = slots
        markets = state.markets
        instruments = list(dict.fromkeys((markets[s].base, markets[s].quote) for s in slots))
        # Fair value and inventory use every book of the instrument the bot trades, quoted here or not.
        self.layout = InstrumentLayout.of(markets, instruments)
        self.fair = FairValueEstimator(params.fair_value, self.layout, markets)
        self.row_of_slot = np.array(
            [instruments.index((markets[s].base, markets[s].quote)) for s in slots], dtype=np.int64
        )
        present = self.layout.slots >= 0
        self._present = present
        self._safe = np.where(present, self.layout.slots, 0)

    def total_inventory_fraction(self, state: MarketState) -> FloatArray:
        """Per instrument: Σ position (base units) / Σ max position over all its venues."""
        lot = state.lot_size[self._safe]
        pos = np.where(self._present, state.position_lots[self._safe] * lot, 0.0).sum(axis=1)
        cap = np.where(self._present, state.max_position_lots[self._safe] * lot, 0.0).sum(axis=1)
        return pos / np.maximum(cap, 1e-300)

    def targets(self, state: MarketState, now_ns: int) -> QuoteTargets:
        s, p = self.slots, self.params
        fair = self.fair.values(state, now_ns).price[self.row_of_slot]
        q = self.total_inventory_fraction(state)[self.row_of_slot]
        tick = state.tick_size[s]
        # the engine measures its bps tolerance on the local mid; take the larger of the two
        ref = np.fmax(fair, state.mid_price[s])
        tolerance = np.maximum(p.refresh_tolerance_ticks * tick, p.refresh_tolerance_bps * ref / 1e4)
        return multi_venue_quotes(
            fair,
            state.mid_price[s],
            q,
            tick,
            state.best_bid_ticks[s],
            state.best_ask_ticks[s],
            state.position_lots[s],
            state.max_position_lots[s],
            state.order_size_lots[s],
            state.lot_size[s],
            state.base_balance[s],
            state.quote_balance[s],
            np.nan_to_num(tolerance, nan=0.0),
            bid_spread_bps=p.bid_spread_bps,
            ask_spread_bps=p.ask_spread_bps,
            levels=p.levels,
            level_spacing_bps=p.level_spacing_bps,
            skew_bps=p.skew_bps,
            local_anchor_weight=p.local_anchor_weight,
        )
