"""One instrument quoted on several venues as one book: consolidated fair value, one inventory.

Every venue's quotes come from the vectorized quote core (`strategies.quoting.core`), all venues of
all instruments in one `compute_quotes` call, with the model chosen by `model` (fixed spread,
Avellaneda-Stoikov or GLFT). Per row (venue) the core sees:

- fair price: the instrument's consolidated fair value, or a point between it and the venue's own
  mid (`local_anchor_weight`) so quotes stay competitive where a venue trades away from consensus;
- inventory: the instrument's TOTAL position across all its venues, against the sum of their
  position limits (both in that venue's lots), so the skew is the same everywhere;
- the venue's book (post-only), maker fee (widens its quotes), tick, lot and order size.

Fixed spread: bid at `bid_spread_bps` below, ask at `ask_spread_bps` above the centre, the
reservation shifted by `skew_bps` at full total inventory (an asymmetric pair is the core's half
spread around a centre moved by half their difference).

Per venue, after the core: a side is sized so its whole ladder cannot push the venue's own
position past its limit, then capped by the venue's balances (base for asks, quote for bids,
levels consume the balance in order).

Self-trade prevention across venues: the model's reservation at the consolidated fair is one
price per instrument; every bid ladder is moved down until its best bid is strictly below it and
every ask ladder up until its best ask is strictly above it, with a margin of the refresh
tolerance (live orders may sit that far from their target). So our bid on one venue is never at
or above our ask on another, even when the consolidated book is crossed and anchors disagree.
Each instrument's venues also form a self-trade group (`stp_groups`, `bot.kernel.self_trade`), so the
live orders keep that order while the venues' syncs move them one venue at a time.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator, model_validator

from bot.core.events import BookSnapshot, FillEvent, PublicTrade, VenueEvent
from bot.kernel.controls import QuotingControls
from bot.kernel.market_state import MarketState
from bot.kernel.targets import QuoteTargets
from strategies.quoting.core import SNAP_TICKS as _GRID_EPS
from strategies.quoting.core_strategy import CoreQuoteStrategy
from strategies.quoting.fair_value import FairValueEstimator, FairValueParams, InstrumentLayout
from strategies.quoting.models import QuoteConfig
from strategies.quoting.models.avellaneda import AvellanedaParams
from strategies.quoting.models.fixed_spread import FixedSpreadParams
from strategies.quoting.models.glft import GlftParams
from strategies.quoting.params import IntensityParams, VolatilityParams

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class MultiVenueParams(QuotingControls):
    kind: Literal["multi_venue_mm"]
    model: Literal["fixed_spread", "avellaneda", "glft"] = "fixed_spread"
    bid_spread_bps: float | None = Field(None, gt=0, description="fixed_spread: bid below the centre")
    ask_spread_bps: float | None = Field(None, gt=0, description="fixed_spread: ask above the centre")
    skew_bps: float = Field(0.0, ge=0, description="fixed_spread: reservation shift at full TOTAL inventory")
    gamma: float | None = Field(None, gt=0, description="avellaneda, glft: risk aversion per unit of quote")
    horizon_s: float = Field(60.0, gt=0, description="avellaneda: rolling horizon tau")
    volatility: VolatilityParams = VolatilityParams()
    intensity: IntensityParams = IntensityParams()
    min_spread_bps: float = Field(0.0, ge=0)
    max_spread_bps: float = Field(500.0, gt=0)
    levels: int = Field(1, ge=1, le=20)
    level_spacing_bps: float = Field(5.0, ge=0)
    local_anchor_weight: float = Field(
        0.0, ge=0, le=1, description="0: quote around the consolidated fair; 1: around each venue's mid"
    )
    fair_value: FairValueParams = FairValueParams()
    fair_ex_own_orders: bool = Field(
        True, description="value each book without our own resting orders (False: the venue's book as is)"
    )

    @field_validator("fair_value")
    @classmethod
    def _no_amm(cls, value: FairValueParams) -> FairValueParams:
        if value.method == "amm":
            raise ValueError('method "amm" is not available to multi_venue_mm (no pool feed in the engine)')
        return value

    @model_validator(mode="after")
    def _model_keys(self) -> MultiVenueParams:
        fixed = self.model == "fixed_spread"
        if fixed and (self.bid_spread_bps is None or self.ask_spread_bps is None):
            raise ValueError('bid_spread_bps and ask_spread_bps: required when model = "fixed_spread"')
        if not fixed:
            if self.gamma is None:
                raise ValueError(f'gamma: required when model = "{self.model}"')
            for key in ("bid_spread_bps", "ask_spread_bps"):
                if getattr(self, key) is not None:
                    raise ValueError(
                        f'{key}: only for model = "fixed_spread" ({self.model} sets its own spread)'
                    )
            if self.skew_bps:
                raise ValueError(f'skew_bps: only for model = "fixed_spread" ({self.model} skews by gamma)')
        if self.max_spread_bps < self.min_spread_bps:
            raise ValueError(f"max_spread_bps ({self.max_spread_bps}) must be >= min_spread_bps")
        return self

    @property
    def centre_factor(self) -> float:
        """Fixed spread: the centre sits half the bid/ask spread difference above the anchor."""
        if self.bid_spread_bps is None or self.ask_spread_bps is None:
            return 1.0
        return 1.0 + (self.ask_spread_bps - self.bid_spread_bps) / 2e4

    def core_config(self) -> QuoteConfig:
        """The quote core's model config for these markets (sizes and limits come per venue)."""
        ladder = {
            "markets": self.markets,
            "n_levels": self.levels,
            "level_spacing_bps": self.level_spacing_bps,
            "min_spread_bps": self.min_spread_bps,
            "max_spread_bps": self.max_spread_bps,
        }
        if self.model == "fixed_spread":
            assert self.bid_spread_bps is not None and self.ask_spread_bps is not None
            half = (self.bid_spread_bps + self.ask_spread_bps) / 2 / self.centre_factor
            fixed = {"half_spread_bps": half, "skew_bps_per_unit_inventory_fraction": self.skew_bps}
            return FixedSpreadParams.model_validate({**ladder, **fixed})
        assert self.gamma is not None
        estimators = {"gamma": self.gamma, "volatility": self.volatility, "intensity": self.intensity}
        if self.model == "avellaneda":
            return AvellanedaParams.model_validate({**ladder, **estimators, "horizon_s": self.horizon_s})
        return GlftParams.model_validate({**ladder, **estimators})


def self_trade_clamp(
    bid_ticks: IntArray,
    bid_size: IntArray,
    ask_ticks: IntArray,
    ask_size: IntArray,
    bid_cap_ticks: IntArray,
    ask_floor_ticks: IntArray,
) -> None:
    """Move each row's bid ladder down to `bid_cap_ticks` and ask ladder up to `ask_floor_ticks`.

    In place; the ladders keep their shape (levels keep their distinct prices); a level pushed
    to a price below one tick is dropped.
    """
    quoted_bid = bid_size > 0
    top_bid = np.where(quoted_bid, bid_ticks, 0).max(axis=1)
    down = np.maximum(top_bid - bid_cap_ticks, 0)[:, None]
    bid_ticks -= np.where(quoted_bid, down, 0)
    quoted_ask = ask_size > 0
    top_ask = np.where(quoted_ask, ask_ticks, np.iinfo(np.int64).max).min(axis=1)
    up = np.maximum(ask_floor_ticks - top_ask, 0)[:, None]
    ask_ticks += np.where(quoted_ask, up, 0)
    bid_size[bid_ticks < 1] = 0
    bid_ticks[bid_size == 0] = 0
    ask_ticks[ask_size == 0] = 0


def venue_limits(
    targets: QuoteTargets,
    tick_size: FloatArray,
    lot_size: FloatArray,
    position_lots: IntArray,
    max_position_lots: IntArray,
    base_balance: FloatArray,
    quote_balance: FloatArray,
) -> None:
    """Cut each venue's ladders (in place) to its own position limit and its balances."""
    room_buy = np.maximum(max_position_lots - position_lots, 0)[:, None].astype(np.float64)
    room_sell = np.maximum(max_position_lots + position_lots, 0)[:, None].astype(np.float64)
    bid_size = _consume(targets.bid_size_lots.astype(np.float64), room_buy)
    ask_size = _consume(targets.ask_size_lots.astype(np.float64), room_sell)
    # balances: asks consume base, bids consume quote (at their price)
    base_lots = np.floor(np.nan_to_num(base_balance, nan=np.inf) / lot_size + _GRID_EPS)[:, None]
    ask_size = _consume(ask_size, base_lots)
    bid_notional_per_lot = targets.bid_price_ticks * tick_size[:, None] * lot_size[:, None]
    quote_cap = np.nan_to_num(quote_balance, nan=np.inf)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        spent_before = np.cumsum(bid_size * bid_notional_per_lot, axis=1) - bid_size * bid_notional_per_lot
        affordable = np.floor(np.maximum(quote_cap - spent_before, 0) / bid_notional_per_lot + _GRID_EPS)
    bid_size = np.minimum(bid_size, np.where(bid_notional_per_lot > 0, affordable, 0))
    targets.bid_size_lots[:] = bid_size
    targets.ask_size_lots[:] = ask_size
    targets.bid_price_ticks[targets.bid_size_lots == 0] = 0
    targets.ask_price_ticks[targets.ask_size_lots == 0] = 0


def _consume(size: FloatArray, budget: FloatArray) -> FloatArray:
    """Sizes of a ladder after levels consume `budget` (per row) in order, level 0 first."""
    before = np.cumsum(size, axis=1) - size
    return np.clip(np.minimum(size, budget - before), 0, None)


class MultiVenueStrategy:
    """Quoting strategy kind "multi_venue_mm" (driven by the engine like fixed_spread)."""

    def __init__(
        self,
        name: str,
        params: MultiVenueParams,
        slots: IntArray,
        state: MarketState,
        now_ns: int = 0,
        diagnostics_read: bool = True,
    ) -> None:
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
        self.n_instruments = len(instruments)
        lot = state.lot_size[slots]
        _, total_cap = self.total_inventory_base(state)
        sizes = [
            (
                float(state.order_size_lots[s] * lot[row]),
                float(max(total_cap[self.row_of_slot[row]], lot[row])),
            )
            for row, s in enumerate(slots)
        ]
        quoted = [markets[int(s)] for s in slots]
        self.state = state
        # any book or fill of an instrument moves its fair value or total inventory: requote all
        # its venues at once, or a venue whose own book is quiet keeps quotes from an older fair
        self._requote_on: dict[tuple[str, str], IntArray] = {}
        for i, (base, quote) in enumerate(instruments):
            ours = np.asarray(slots)[self.row_of_slot == i]
            for m in markets:
                if (m.base, m.quote) == (base, quote):
                    self._requote_on[(m.venue, m.symbol)] = ours
        # one self-trade group per instrument: the order manager keeps the LIVE orders apart too
        self.stp_groups = [
            [int(s) for s in np.asarray(slots)[self.row_of_slot == i]] for i in range(len(instruments))
        ]
        self.core = CoreQuoteStrategy(
            name, params.core_config(), slots, quoted, sizes, now_ns, state, diagnostics_read=diagnostics_read
        )

    def total_inventory_base(self, state: MarketState) -> tuple[FloatArray, FloatArray]:
        """Per instrument: Σ position and Σ position limit over all its venues, in base units."""
        lot = state.lot_size[self._safe]
        pos = np.where(self._present, state.position_lots[self._safe] * lot, 0.0).sum(axis=1)
        cap = np.where(self._present, state.max_position_lots[self._safe] * lot, 0.0).sum(axis=1)
        return pos, cap

    def on_event(self, event: VenueEvent) -> None:
        """Requote every venue of an instrument on its books and fills; fills feed the core's estimator."""
        if isinstance(event, BookSnapshot):
            key = (event.venue, event.symbol)
            if self.core.clock_sampled and self.core.sample_due(event.local_ts_ns):
                centre, _ = self._centre(self.state, event.local_ts_ns)
                self.core.sample_volatility(centre, event.local_ts_ns)
        elif isinstance(event, FillEvent):
            key = (event.fill.venue, event.fill.symbol)
            self.core.on_event(event)
        else:
            if isinstance(event, PublicTrade):  # the tape: intensity and flow toxicity
                self.core.on_event(event)
            return
        slots = self._requote_on.get(key)
        if slots is not None:
            self.state.mark_dirty(slots)

    def quote_diagnostics(self) -> dict[str, FloatArray]:
        return self.core.quote_diagnostics()

    def _centre(self, state: MarketState, now_ns: int) -> tuple[FloatArray, FloatArray]:
        """Per quoted venue: the centre the core quotes around, and the instrument's fair."""
        p, s = self.params, self.slots
        ex_own = p.fair_ex_own_orders
        fair = self.fair.values(state, now_ns, ex_own=ex_own).price[self.row_of_slot]
        mid = state.fair_prices("mid_ex_own" if ex_own else "mid")[s]
        local = np.where(np.isfinite(mid), mid, fair)
        return (fair + p.local_anchor_weight * (local - fair)) * p.centre_factor, fair

    def targets(self, state: MarketState, now_ns: int) -> QuoteTargets:
        s, p, row = self.slots, self.params, self.row_of_slot
        centre, fair = self._centre(state, now_ns)
        total_pos, total_cap = self.total_inventory_base(state)
        lot, tick = state.lot_size[s], state.tick_size[s]
        core = self.core
        core.params.level_size_lots[:] = state.order_size_lots[s]
        core.params.max_inventory_lots[:] = np.maximum(total_cap[row] / lot, _GRID_EPS)
        best_bid = np.where(state.best_bid_ticks[s] > 0, state.best_bid_ticks[s] * tick, np.nan)
        best_ask = np.where(state.best_ask_ticks[s] > 0, state.best_ask_ticks[s] * tick, np.nan)
        quotes = core.quote(centre, best_bid, best_ask, total_pos[row] / lot, now_ns)
        targets = QuoteTargets(
            quotes.bid_price_ticks.copy(),
            quotes.bid_size_lots.copy(),
            quotes.ask_price_ticks.copy(),
            quotes.ask_size_lots.copy(),
        )
        # the model's reservation at the consolidated fair, one per instrument (the lowest and the
        # highest over its venues when their estimates differ): the line no quote may cross
        ws = core.workspace
        reservation = np.where(ws.valid, ws.reservation - (centre - fair), np.nan)
        low = np.full(self.n_instruments, np.inf)
        high = np.full(self.n_instruments, -np.inf)
        np.fmin.at(low, row, reservation)
        np.fmax.at(high, row, reservation)
        # the engine measures its bps tolerance on the local mid; take the larger of the two
        ref = np.fmax(fair, state.mid_price[s])
        tolerance = np.maximum(p.refresh_tolerance_ticks * tick, p.refresh_tolerance_bps * ref / 1e4)
        tolerance = np.nan_to_num(tolerance, nan=0.0)
        with np.errstate(invalid="ignore"):
            bid_cap = np.ceil((low[row] - tolerance) / tick - _GRID_EPS) - 1
            ask_floor = np.floor((high[row] + tolerance) / tick + _GRID_EPS) + 1
        usable = np.isfinite(bid_cap) & np.isfinite(ask_floor)
        targets.bid_size_lots[~usable] = 0
        targets.ask_size_lots[~usable] = 0
        self_trade_clamp(
            targets.bid_price_ticks,
            targets.bid_size_lots,
            targets.ask_price_ticks,
            targets.ask_size_lots,
            np.where(usable, bid_cap, 0).astype(np.int64),
            np.where(usable, ask_floor, 0).astype(np.int64),
        )
        venue_limits(
            targets,
            tick,
            lot,
            state.position_lots[s],
            state.max_position_lots[s],
            state.base_balance[s],
            state.quote_balance[s],
        )
        return targets
