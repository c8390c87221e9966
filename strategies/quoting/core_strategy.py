"""The quoting strategy on the vectorized core, with any of its models (`strategies.quoting.models`).

One instance quotes all its markets in one `compute_quotes` call. Inputs live in preallocated
arrays refreshed from the engine's state. The fair price is the other participants' mid by default
(`fair_price`: the book without our own resting orders, or their microprice, or the venue's mid
as before). Volatility is estimated from that fair (the others' mid for a microprice) sampled on
a fixed clock (`volatility.sample_interval_s`): on each book event the strategy checks whether a
sampling boundary passed, by event time, and then samples every market at once; requote times
depend on our own activity (paused, rate-limited, quiet books), a clock does not. Trading
intensity comes from the public tape at depth from the fair (`intensity`), flow toxicity per side
from live markouts of our fills and the tape's imbalance (`toxicity`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from bot.core.clock import NS_PER_S
from bot.core.domain import Market, Order, OrderState, Side
from bot.core.events import BookSnapshot, FillEvent, PublicTrade, VenueEvent
from bot.kernel.market_state import FairSource, MarketState
from bot.kernel.targets import QuoteTargets
from strategies.quoting.arrays import QuoteInputs
from strategies.quoting.core import QuoteWorkspace, compute_quotes
from strategies.quoting.estimators import VolatilityEstimator
from strategies.quoting.intensity import TapeIntensity
from strategies.quoting.models import QuoteConfig
from strategies.quoting.models.avellaneda import AvellanedaParams, next_session_end_ns
from strategies.quoting.own_fills import BPS, OwnFillIntensity
from strategies.quoting.param_slots import build_quote_params
from strategies.quoting.params import EstimatedParams
from strategies.quoting.toxicity import ASK, BID, ToxicityMonitor

# The (A, κ) fit bins the buffered tape and bisects over every market: a few seconds between fits
# is plenty for rates that are estimated over a half-life of an hour.
INTENSITY_REFIT_NS = 5_000_000_000
# Our live orders' resting time is sampled this often (on book events, by event time), each
# order credited with the interval since the previous sample; a quiet gap credits at most
# EXPOSURE_MAX_GAP_NS, since the orders seen at its end may not have rested through all of it.
EXPOSURE_INTERVAL_NS = 1_000_000_000
EXPOSURE_MAX_GAP_NS = 2 * EXPOSURE_INTERVAL_NS
# On the venue's book: acknowledged and not yet confirmed gone (a cancel in flight still rests).
RESTING_STATES = frozenset({OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.PENDING_CANCEL})


class CoreQuoteStrategy:
    def __init__(
        self,
        name: str,
        cfg: QuoteConfig,
        slots: npt.NDArray[np.int64],
        markets: Sequence[Market],
        sizes: Sequence[tuple[float, float]],
        now_ns: int,
        state: MarketState | None = None,
        *,
        diagnostics_read: bool = True,
    ) -> None:
        """`sizes`: (order size, max position) in base units per market, in slot order.

        `state`: the engine's arrays, read on book events to sample the fair price on the clock;
        without it (or with `sample_interval_s = None`) volatility is sampled at requotes.
        `diagnostics_read`: whether anything reads `quote_diagnostics` (the ops endpoint's
        /metrics); with toxicity off and no reader, the monitor is not fed (same quotes)."""
        self.name = name
        self.cfg = cfg
        self.slots = slots
        self.state = state
        self._row_of = {(m.venue, m.symbol): row for row, m in enumerate(markets)}
        entries = [(cfg, m, size, limit) for m, (size, limit) in zip(markets, sizes, strict=True)]
        self.params = build_quote_params(entries, now_ns=now_ns)
        n = len(markets)
        self.inputs = QuoteInputs.empty(n)
        self.workspace = QuoteWorkspace(n, self.params.n_levels)
        self.volatility: VolatilityEstimator | None = None
        self.intensity: TapeIntensity | None = None
        self.own_fills: OwnFillIntensity | None = None
        self.own_fill_weight = np.zeros(n)  # w of the blend into the tape's (A, kappa)
        self._orders_of: Callable[[int], list[Order]] | None = None
        self._exposure_ns = 0  # the last exposure sample (0: none yet)
        self.toxicity = ToxicityMonitor(n, cfg.toxicity)
        # Disabled, the monitor's state reaches only the diagnostics: a backtest has no reader and
        # would spend ~1 s of 2 M rows updating it at every quote and public print.
        self.tracks_toxicity = cfg.toxicity.enabled or diagnostics_read
        self.sample_interval_ns = 0  # 0: volatility sampled at requotes
        self._next_sample_ns = 0
        if isinstance(cfg, EstimatedParams):  # AS, GLFT: volatility and intensity estimated
            v, i = cfg.volatility, cfg.intensity
            min_interval_s = v.min_interval_s
            if v.sample_interval_s is not None:
                self.sample_interval_ns = int(v.sample_interval_s * NS_PER_S)
                # boundaries are crossed by events, so samples land a little off the grid: the
                # estimator's burst guard must not drop a sample that came early by that jitter
                min_interval_s = min(min_interval_s, 0.5 * v.sample_interval_s)
            self.volatility = VolatilityEstimator(
                n, half_life_s=v.half_life_s, fallback_log_vol_per_sqrt_s=v.fallback_log_vol_per_sqrt_s,
                min_interval_s=min_interval_s, warmup_s=v.warmup_s, min_samples=v.min_samples,
            )  # fmt: skip
            self.intensity = TapeIntensity(
                n, depth_edges_bps=i.depth_edges_bps, half_life_s=i.half_life_s, min_takers=i.min_fills,
                fallback_a_per_s=i.fallback_a_per_s, fallback_kappa_per_bps=i.fallback_kappa_per_bps,
            )  # fmt: skip
            if i.own_fills:
                self.own_fills = OwnFillIntensity(
                    n, half_life_s=i.half_life_s, min_fills=i.min_own_fills,
                    min_depth_spread_bps=i.min_own_depth_spread_bps,
                )  # fmt: skip
        self._last_fit_ns = 0
        self._last_quote_ns = now_ns

    def targets(self, state: MarketState, now_ns: int) -> QuoteTargets:
        s = self.slots
        tick = state.tick_size[s]
        bid_ticks, ask_ticks = state.best_bid_ticks[s], state.best_ask_ticks[s]
        best_bid = np.where(bid_ticks > 0, bid_ticks * tick, np.nan)
        best_ask = np.where(ask_ticks > 0, ask_ticks * tick, np.nan)
        fair = state.fair_prices(self.cfg.fair_price)[s]
        return self.quote(fair, best_bid, best_ask, state.position_lots[s], now_ns)

    def quote(
        self,
        fair_price: npt.NDArray[np.float64],
        best_bid: npt.NDArray[np.float64],
        best_ask: npt.NDArray[np.float64],
        inventory_lots: npt.ArrayLike,
        now_ns: int,
    ) -> QuoteTargets:
        """One core call for every market (rows in slot order): prices in price units, NaN = none.

        The estimators follow `fair_price` (volatility only here when it is not sampled on the
        clock); the model's reservation prices stay readable in `workspace.reservation` until the
        next call.
        """
        x = self.inputs
        self._last_quote_ns = now_ns
        x.fair_price[:] = fair_price
        x.best_bid[:] = best_bid
        x.best_ask[:] = best_ask
        x.inventory_lots[:] = inventory_lots
        if self.volatility is not None:
            if self.clock_sampled:
                self.volatility.volatility(out=x.volatility, price=x.fair_price)
            else:
                self._sample(x.fair_price, now_ns)
                self.volatility.volatility(out=x.volatility)
        self._flow_inputs(now_ns)
        self._roll_sessions(now_ns)
        return compute_quotes(x, self.params, now_ns=now_ns, workspace=self.workspace)

    def _flow_inputs(self, now_ns: int) -> None:
        """Intensity from the tape and per-side toxicity into the core's inputs."""
        x = self.inputs
        if self.intensity is not None:
            self.intensity.quote_size_lots[:] = self.params.level_size_lots
            if now_ns - self._last_fit_ns >= INTENSITY_REFIT_NS:
                tape = self.intensity
                tape.fit(np.isfinite(x.fair_price), now_ns)
                if self.own_fills is not None:
                    self.own_fills.fit(now_ns)
                    takers = tape.counts.sum(axis=1)
                    self.own_fill_weight = self.own_fills.blend(
                        takers, tape.warm, tape.a_per_s, tape.kappa_per_bps
                    )
                self._last_fit_ns = now_ns
            self.intensity.intensity(x.fair_price, x.intensity_a, x.intensity_kappa)
        if not self.tracks_toxicity:
            return
        tox = self.toxicity
        tox.set_quote_sizes(np.maximum(self.params.level_size_lots, 1.0))
        tox.update(x.fair_price, now_ns)
        if self.cfg.toxicity.enabled:
            x.toxicity_bid_bps[:] = tox.toxicity_bps[:, BID]
            x.toxicity_ask_bps[:] = tox.toxicity_bps[:, ASK]

    def quote_diagnostics(self) -> dict[str, npt.NDArray[np.float64]]:
        """Read-only model inputs per market row, for /metrics (`bot.ops.metrics.QuoteDiagnostics`)."""
        x, tox = self.inputs, self.toxicity
        out: dict[str, npt.NDArray[np.float64]] = {}
        if self.tracks_toxicity:  # an unfed monitor's zeros would read as measured
            out["toxicity_bid_bps"] = tox.toxicity_bps[:, BID]
            out["toxicity_ask_bps"] = tox.toxicity_bps[:, ASK]
            out["flow_imbalance"] = tox.imbalance(self._last_quote_ns)
            markouts = tox.mean_markout_bps()
            for h, seconds in enumerate(self.cfg.toxicity.markout_horizons_s):
                for side, name in ((BID, "bid"), (ASK, "ask")):
                    out[f"markout_{name}_{seconds:g}s_bps"] = markouts[:, side, h]
        if self.intensity is not None:
            out["intensity_a_per_s"] = self.intensity.a_per_s
            out["intensity_kappa_per_bps"] = self.intensity.kappa_per_bps
            out["intensity_own_fill_weight"] = self.own_fill_weight
            out["volatility"] = x.volatility
        return {name: values.copy() for name, values in out.items()}

    def _roll_sessions(self, now_ns: int) -> None:
        """Session-end A-S: once a session ends, the next one's end becomes τ's anchor."""
        cfg = self.cfg
        if not (isinstance(cfg, AvellanedaParams) and cfg.horizon == "session"):
            return
        ended = self.params.session_end_ns <= now_ns
        if ended.any():
            self.params.session_end_ns[ended] = next_session_end_ns(
                now_ns, cfg.session_length_s, cfg.session_offset_s
            )

    @property
    def volatility_source(self) -> FairSource:
        """The price the clock samples: the others' mid also when quoting on their microprice.

        The microprice's size weighting jumps with every print that eats part of a top level:
        noise that 1 s returns read as volatility (on the mock venue it read σ 1.25x the latent
        price's; the others' mid 1.00x, benchmarks/fair_volatility.py)."""
        return "mid" if self.cfg.fair_price == "mid" else "mid_ex_own"

    @property
    def clock_sampled(self) -> bool:
        """Volatility is sampled on the clock (by whoever calls `sample_due`/`sample_volatility`)."""
        return self.volatility is not None and self.sample_interval_ns > 0 and self.state is not None

    def sample_due(self, ts_ns: int) -> bool:
        """Whether a sampling boundary passed at event time `ts_ns` (cheap: the book event path)."""
        return self.sample_interval_ns > 0 and ts_ns >= self._next_sample_ns

    def sample_volatility(self, fair_price: npt.NDArray[np.float64], ts_ns: int) -> None:
        """A clock sample of every market's fair at `ts_ns`; the next boundary is the grid's next."""
        self._sample(fair_price, ts_ns)
        step = self.sample_interval_ns
        self._next_sample_ns = (ts_ns // step + 1) * step

    def _sample(self, fair_price: npt.NDArray[np.float64], ts_ns: int) -> None:
        if self.volatility is None:
            return
        priced = np.flatnonzero(np.isfinite(fair_price))
        if priced.size:
            self.volatility.update(priced, fair_price[priced], ts_ns)

    def on_event(self, event: VenueEvent) -> None:
        """Book events drive the volatility clock; public trades feed the tape intensity and the
        flow imbalance; our fills the markouts.

        A trade's depth is measured from the fair of the latest quote call (the fair before it).
        """
        if isinstance(event, PublicTrade):  # most events: checked first
            self._on_trade(event)
            return
        if isinstance(event, BookSnapshot):
            if self.state is not None and self.clock_sampled and self.sample_due(event.local_ts_ns):
                fair = self.state.fair_prices(self.volatility_source)[self.slots]
                self.sample_volatility(fair, event.local_ts_ns)
            if self.own_fills is not None and event.local_ts_ns - self._exposure_ns >= EXPOSURE_INTERVAL_NS:
                self.sample_exposure(event.local_ts_ns)
            return
        if isinstance(event, FillEvent):
            fill = event.fill
            row = self._row_of.get((fill.venue, fill.symbol))
            if row is not None:
                price = fill.price_ticks * float(self.params.tick_size[row])
                if self.tracks_toxicity:
                    self.toxicity.record_fill(row, fill.side is Side.BUY, price, event.local_ts_ns)
                if self.own_fills is not None and fill.is_maker:
                    self._record_own_fill(row, fill.side is Side.BUY, price, fill.size_lots)

    def _on_trade(self, event: PublicTrade) -> None:
        row = self._row_of.get((event.venue, event.symbol))
        if row is None:
            return
        buy = event.aggressor is Side.BUY
        if self.intensity is not None:  # .item(): a Python float, on every print
            price = event.price_ticks * self.params.tick_size.item(row)
            self.intensity.record_trade(
                row, buy, price, event.size_lots, self.inputs.fair_price.item(row), event.exchange_ts_ns
            )
        if self.tracks_toxicity:
            self.toxicity.record_trade(row, buy, event.size_lots, event.local_ts_ns)

    def _record_own_fill(self, row: int, buy: bool, price: float, size_lots: int) -> None:
        """A maker fill at its depth from the fair of the latest quote (before the fill, as for
        the tape), weighing its share of the quote size."""
        assert self.own_fills is not None
        fair = float(self.inputs.fair_price[row])
        depth = (1.0 if buy else -1.0) * (fair - price) / fair / BPS if fair > 0 else math.nan
        quote_lots = float(self.params.level_size_lots[row])
        self.own_fills.add_fill(row, depth, size_lots / quote_lots if quote_lots > 0 else 1.0)

    def read_orders_from(self, orders_of: Callable[[int], list[Order]]) -> None:
        """The engine's live orders by slot (`bot.kernel.strategy.LiveOrdersReader`)."""
        self._orders_of = orders_of

    def sample_exposure(self, now_ns: int) -> None:
        """Credit the time since the last sample to each of our orders resting now, at its depth
        from the fair (the own-fill intensity's exposure)."""
        gap_ns = min(now_ns - self._exposure_ns, EXPOSURE_MAX_GAP_NS) if self._exposure_ns else 0
        self._exposure_ns = now_ns
        if self.own_fills is None or self._orders_of is None or gap_ns <= 0:
            return
        fair = (
            self.state.fair_prices(self.cfg.fair_price)[self.slots] if self.state else self.inputs.fair_price
        )
        rows: list[int] = []
        depths: list[float] = []
        for row, slot in enumerate(self.slots.tolist()):
            f = float(fair[row])
            if not f > 0:
                continue
            tick = float(self.params.tick_size[row])
            for order in self._orders_of(slot):
                if order.state in RESTING_STATES:
                    sign = 1.0 if order.request.side is Side.BUY else -1.0
                    rows.append(row)
                    depths.append(sign * (f - order.request.price_ticks * tick) / f / BPS)
        if rows:
            self.own_fills.add_exposure(rows, depths, gap_ns * 1e-9)
