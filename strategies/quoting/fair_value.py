"""Consolidated fair value of one instrument quoted on several venues (and possibly an AMM).

An instrument is a base/quote pair: BTC/USDT on sim_a and on sim_b are two books of one
instrument. The core is a pure function over arrays of shape (n_instruments, n_books): one row per
instrument, one column per venue book (padded), so every instrument is valued in one numpy pass.

Per book the price estimate is the size-weighted microprice of its fee-adjusted top of book: our
executable bid there is bid·(1 − fee), our executable ask ask·(1 + fee), so a venue with costly
taking contributes a wider, not a shifted, book. Methods:

- "reference": the reference venue's estimate alone (NaN while that venue is stale);
- "microprice": the average of the fresh books' estimates weighted by their top-of-book depth
  (base units), each weight halved for every `latency_half_life_ms` of effective age;
- "amm": the AMM pool's price (NaN while the pool price is stale).

Effective age = now − book time + the venue's configured latency (a slow venue's book is older
than its timestamp says). A book whose effective age exceeds `stale_after_ms`, or that is
one-sided or crossed, is dropped automatically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.domain import Market
from bot.kernel.market_state import MarketState

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

FairValueMethod = Literal["reference", "microprice", "amm"]


class VenueAdjustment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fee_bps: float | None = Field(
        None, ge=0, le=1000, description="taker fee used to adjust this venue's book; default: the market's"
    )
    latency_ms: float = Field(0.0, ge=0, description="added to the book's age (slow feeds look older)")


class FairValueParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    method: FairValueMethod = "microprice"
    reference_venue: str | None = None
    stale_after_ms: float = Field(default=5_000.0, gt=0)
    latency_half_life_ms: float = Field(default=1_000.0, gt=0)
    venues: dict[str, VenueAdjustment] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _reference_named(self) -> FairValueParams:
        if self.method == "reference" and not self.reference_venue:
            raise ValueError('reference_venue: required when method = "reference"')
        return self


@dataclass(frozen=True, slots=True)
class FairValues:
    price: FloatArray  # (n_instruments,), NaN when no usable source
    fresh: BoolArray  # (n_instruments, n_books): books that contributed or could have
    weight: FloatArray  # (n_instruments, n_books), zero for dropped books


def book_microprice(
    bid_price: FloatArray,
    ask_price: FloatArray,
    bid_qty: FloatArray,
    ask_qty: FloatArray,
    fee_bps: FloatArray,
) -> FloatArray:
    """Microprice of the fee-adjusted top of book; the plain adjusted mid when sizes are unknown."""
    bid = bid_price * (1.0 - fee_bps / 1e4)
    ask = ask_price * (1.0 + fee_bps / 1e4)
    depth = bid_qty + ask_qty
    with np.errstate(invalid="ignore", divide="ignore"):
        micro = (bid * ask_qty + ask * bid_qty) / depth
    return np.where(depth > 0, micro, 0.5 * (bid + ask))


def consolidated_fair_value(
    bid_price: FloatArray,
    ask_price: FloatArray,
    bid_qty: FloatArray,
    ask_qty: FloatArray,
    book_ts_ns: IntArray,
    fee_bps: FloatArray,
    latency_ms: FloatArray,
    now_ns: int,
    *,
    method: FairValueMethod,
    stale_after_ms: float,
    latency_half_life_ms: float,
    reference_col: IntArray | None = None,
    amm_price: FloatArray | None = None,
    amm_ts_ns: IntArray | None = None,
) -> FairValues:
    """Fair value per instrument (rows) from its books (columns); absent books have price 0 or NaN."""
    age_ms = (now_ns - book_ts_ns) / 1e6 + latency_ms
    with np.errstate(invalid="ignore"):
        usable = (bid_price > 0) & (ask_price > 0) & (bid_price < ask_price)
    fresh = usable & (age_ms <= stale_after_ms)
    n_rows = bid_price.shape[0]
    if method == "amm":
        if amm_price is None or amm_ts_ns is None:
            raise ValueError('method "amm" needs amm_price and amm_ts_ns')
        amm_fresh = (now_ns - amm_ts_ns) / 1e6 <= stale_after_ms
        price = np.where(amm_fresh & (amm_price > 0), amm_price, np.nan)
        return FairValues(price, fresh, np.zeros_like(bid_price))
    micro = book_microprice(bid_price, ask_price, bid_qty, ask_qty, fee_bps)
    if method == "reference":
        if reference_col is None:
            raise ValueError('method "reference" needs reference_col')
        rows = np.arange(n_rows)
        col = np.maximum(reference_col, 0)
        ok = (reference_col >= 0) & fresh[rows, col]
        price = np.where(ok, micro[rows, col], np.nan)
        weight = np.zeros_like(bid_price)
        weight[rows[ok], col[ok]] = 1.0
        return FairValues(price, fresh, weight)
    depth = np.nan_to_num(bid_qty + ask_qty, nan=0.0)
    depth = np.where(depth > 0, depth, 1.0)  # a fresh book without sizes still counts once
    weight = np.where(fresh, depth * np.exp2(-np.maximum(age_ms, 0.0) / latency_half_life_ms), 0.0)
    total = weight.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        price = np.where(total > 0, (np.where(fresh, micro, 0.0) * weight).sum(axis=1) / total, np.nan)
    return FairValues(price, fresh, weight)


@dataclass(frozen=True, slots=True)
class InstrumentLayout:
    """Which engine slots hold the books of each instrument: `slots[row, col]`, −1 = padding."""

    instruments: tuple[tuple[str, str], ...]  # (base, quote) per row
    slots: IntArray  # (n_instruments, n_books)

    @classmethod
    def of(cls, markets: Sequence[Market], only: Sequence[tuple[str, str]] | None = None) -> InstrumentLayout:
        """Group markets by base/quote (first-seen order); `only` restricts and orders the rows."""
        groups: dict[tuple[str, str], list[int]] = {}
        for slot, m in enumerate(markets):
            groups.setdefault((m.base, m.quote), []).append(slot)
        keys = list(only) if only is not None else list(groups)
        width = max((len(groups.get(k, [])) for k in keys), default=0)
        slots = np.full((len(keys), max(width, 1)), -1, dtype=np.int64)
        for row, key in enumerate(keys):
            members = groups.get(key, [])
            slots[row, : len(members)] = members
        return cls(tuple(keys), slots)

    def row_of(self, base: str, quote: str) -> int:
        return self.instruments.index((base, quote))


class FairValueEstimator:
    """Binds the pure core to the engine's arrays for a fixed set of instruments."""

    def __init__(self, params: FairValueParams, layout: InstrumentLayout, markets: Sequence[Market]) -> None:
        self.params = params
        self.layout = layout
        present = layout.slots >= 0
        safe = np.where(present, layout.slots, 0)
        venue_of = [m.venue for m in markets]
        fee = np.array([float(m.taker_fee_bps) for m in markets] or [0.0])
        latency = np.zeros(len(markets) or 1)
        for slot, venue in enumerate(venue_of):
            adj = params.venues.get(venue)
            if adj is not None:
                if adj.fee_bps is not None:
                    fee[slot] = adj.fee_bps
                latency[slot] = adj.latency_ms
        self._present = present
        self._safe = safe
        self._fee = fee[safe]
        self._latency = latency[safe]
        ref = np.full(len(layout.instruments), -1, dtype=np.int64)
        if params.reference_venue is not None:
            for row in range(len(layout.instruments)):
                for col in np.flatnonzero(present[row]):
                    if venue_of[int(layout.slots[row, col])] == params.reference_venue:
                        ref[row] = col
        self._reference_col = ref
        self.amm_price = np.full(len(layout.instruments), np.nan)
        self.amm_ts_ns = np.zeros(len(layout.instruments), dtype=np.int64)

    def observe_amm(self, row: int, price: float, ts_ns: int) -> None:
        self.amm_price[row] = price
        self.amm_ts_ns[row] = ts_ns

    def values(self, state: MarketState, now_ns: int, *, ex_own: bool = False) -> FairValues:
        """`ex_own`: value the other participants' books (our own resting orders taken out)."""
        s, present = self._safe, self._present
        tick, lot = state.tick_size[s], state.lot_size[s]
        if ex_own:
            bids, asks = state.others_bid_ticks, state.others_ask_ticks
            bid_lots, ask_lots = state.others_bid_lots, state.others_ask_lots
        else:
            bids, asks, bid_lots, ask_lots = (
                state.best_bid_ticks,
                state.best_ask_ticks,
                state.best_bid_lots,
                state.best_ask_lots,
            )
        bid = np.where(present, bids[s] * tick, 0.0)
        ask = np.where(present, asks[s] * tick, 0.0)
        p = self.params
        return consolidated_fair_value(
            bid,
            ask,
            bid_lots[s] * lot,
            ask_lots[s] * lot,
            state.last_book_ns[s],
            self._fee,
            self._latency,
            now_ns,
            method=p.method,
            stale_after_ms=p.stale_after_ms,
            latency_half_life_ms=p.latency_half_life_ms,
            reference_col=self._reference_col,
            amm_price=self.amm_price,
            amm_ts_ns=self.amm_ts_ns,
        )
