"""The fast backtest: the jitted replay core plus a strategy asked for quotes only on wake-ups.

A strategy is any object with `quotes(now_ns, best_bid_ticks, best_ask_ticks, position_lots,
out) -> n`: it writes up to `out.shape[0]` rows (side ±1, price_ticks, size_lots) of wanted
post-only orders and returns how many. The core keeps orders already at a wanted price, cancels
the others and sends the missing ones, all through the latency channels. `GridQuoter` runs
compiled inside the replay loop (connectors/replay/fast_loop.py: the whole backtest is one
jitted call); any other strategy is called from Python at each wake-up (`core.run_until`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np

from connectors.replay import layout
from connectors.replay.core import run_until
from connectors.replay.events import EventData
from connectors.replay.fast_loop import exchange_in_order, grid_quotes, run_grid
from connectors.replay.queue_model import QUEUE_MODELS

_WINDOW_PAD_TICKS = 2_000


class FastStrategy(Protocol):
    def quotes(
        self, now_ns: int, best_bid_ticks: int, best_ask_ticks: int, position_lots: int, out: np.ndarray
    ) -> int: ...


@dataclass(frozen=True, slots=True)
class ReplayParams:
    order_latency_ns: tuple[int, ...] = (1_000_000,)
    """One value (constant) or samples drawn in turn, one per request (see `latency_samples`)."""
    queue_model: str = "risk_averse"
    queue_power: float = 2.0
    maker_fee_bps: float = 0.0
    taker_fee_bps: float = 0.0
    wake_interval_ns: int = 100_000_000
    wake_on_fill: bool = False
    max_orders: int = 64
    fill_on_crossing_book: bool = True
    """False: a resting order fills on prints only (paper trading on live data)."""

    def __post_init__(self) -> None:
        if self.queue_model not in QUEUE_MODELS:
            raise ValueError(f"queue_model: {self.queue_model!r} is not one of {sorted(QUEUE_MODELS)}")
        if not self.order_latency_ns or min(self.order_latency_ns) < 0:
            raise ValueError("order_latency_ns: give at least one latency, none negative")
        if self.wake_interval_ns <= 0:
            raise ValueError("wake_interval_ns: must be positive")
        if not 1 <= self.max_orders <= 4096:
            raise ValueError("max_orders: must lie in [1, 4096]")


def latency_samples(mean_ns: float, jitter_ns: float, n: int, seed: int) -> tuple[int, ...]:
    """Lognormal order latencies with this mean and standard deviation."""
    if jitter_ns <= 0:
        return (round(mean_ns),)
    sigma2 = math.log(1 + (jitter_ns / mean_ns) ** 2)
    mu = math.log(mean_ns) - sigma2 / 2
    draws = np.random.default_rng(seed).lognormal(mu, math.sqrt(sigma2), n)
    return tuple(int(x) for x in np.round(draws))


@dataclass(slots=True)
class ReplayResult:
    fills: np.ndarray  # (exch_ts, order_id, side, price_ticks, size_lots, is_maker)
    samples: np.ndarray  # (ts, mid_ticks, position_lots, cash, fees), money in tick·lot units
    counters: dict[str, int]
    cash_ticklots: float
    fees_ticklots: float
    position_lots: int
    final_mid_ticks: float
    tick_size: float
    lot_size: float
    wakes: int
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def net_pnl(self) -> float:
        """Quote units: cash + position at the last mid − fees."""
        mid = self.final_mid_ticks if self.final_mid_ticks == self.final_mid_ticks else 0.0
        return (
            (self.cash_ticklots + self.position_lots * mid - self.fees_ticklots)
            * self.tick_size
            * self.lot_size
        )


def pack_rows(data: EventData) -> np.ndarray:
    rows = np.empty((6, len(data)), dtype=np.int64)
    rows[layout.C_KIND] = data.kind
    rows[layout.C_SIDE] = data.side
    rows[layout.C_EXCH] = data.exch_ts_ns
    rows[layout.C_LOCAL] = data.local_ts_ns
    rows[layout.C_PRICE] = data.price_ticks
    rows[layout.C_SIZE] = data.size_lots
    return rows


def _doubled(rows: np.ndarray) -> np.ndarray:
    """A copy of a row buffer with twice the rows; the new ones are zero."""
    out = np.zeros((rows.shape[0] * 2, rows.shape[1]), dtype=rows.dtype)
    out[: rows.shape[0]] = rows
    return out


class ReplayState:
    """Every array the core works on, sized for one data set."""

    def __init__(self, data: EventData, params: ReplayParams) -> None:
        self.data = data
        self.params = params
        lo = int(data.price_ticks.min()) if len(data) else 1
        hi = int(data.price_ticks.max()) if len(data) else 1
        base = max(lo - _WINDOW_PAD_TICKS, 1)
        self.books = np.zeros((4, hi + _WINDOW_PAD_TICKS - base + 1), dtype=np.int64)
        self.st = np.zeros(layout.N_ST, dtype=np.int64)
        self.st[layout.S_BASE] = base
        self.st[layout.S_QMODEL] = QUEUE_MODELS[params.queue_model]
        self.st[layout.S_WAKE_INTERVAL] = params.wake_interval_ns
        self.st[layout.S_WAKE_ON_FILL] = int(params.wake_on_fill)
        self.st[layout.S_TAPE_ONLY] = int(not params.fill_on_crossing_book)
        start = data.start_ns
        self.st[layout.S_NEXTWAKE] = start
        self.st[layout.S_EXNOW] = int(data.exch_ts_ns.min()) if len(data) else 0
        self.st[layout.S_LONOW] = start
        self.fst = np.zeros(layout.N_FST, dtype=np.float64)
        self.fst[layout.F_MAKER_BPS] = params.maker_fee_bps
        self.fst[layout.F_TAKER_BPS] = params.taker_fee_bps
        self.fst[layout.F_QPOWER] = params.queue_power
        self.oi = np.zeros((params.max_orders, layout.N_OI), dtype=np.int64)
        self.of = np.zeros((params.max_orders, 2), dtype=np.float64)
        self.act = np.zeros(params.max_orders, dtype=np.int64)
        self.req = np.zeros((layout.RING, 3), dtype=np.int64)
        self.resp = np.zeros((layout.RING, 6), dtype=np.int64)
        self.fills = np.zeros((max(1024, len(data) // 64), 6), dtype=np.int64)
        span = max(data.end_ns - start, 0)
        self.samples = np.zeros((span // params.wake_interval_ns + 16, 5), dtype=np.float64)
        self.lat = np.array(params.order_latency_ns, dtype=np.int64)

    @cached_property
    def rows(self) -> np.ndarray:
        """The columns packed into one (6, n) int64 array (layout.C_*), for the replay venue and
        `core.run_until`; the compiled grid reads the columns as they are and never packs."""
        return pack_rows(self.data)

    @cached_property
    def ex_order(self) -> np.ndarray:
        return self.data.exchange_order()

    def grow(self, code: int) -> None:
        """Double the buffer a replay loop's return code says is full."""
        if code == layout.R_FILLS_FULL:
            self.fills = _doubled(self.fills)
        elif code == layout.R_SAMPLES_FULL:
            self.samples = _doubled(self.samples)
        else:
            raise ValueError(f"code: {code} names no buffer")

    def counters(self) -> dict[str, int]:
        st = self.st
        return {
            "orders": int(st[layout.S_ORDERS]),
            "cancels": int(st[layout.S_CANCELS]),
            "rejects": int(st[layout.S_REJECTS]),
            "fills": int(st[layout.S_NFILLS]),
            "filled_orders": int(st[layout.S_FILLED_ORDERS]),
            "maker_lots": int(st[layout.S_MAKER_LOTS]),
            "taker_lots": int(st[layout.S_TAKER_LOTS]),
            "max_abs_position_lots": int(st[layout.S_MAX_ABS_POS]),
            "dropped_orders": int(st[layout.S_DROPPED]),
        }


def run_fast(data: EventData, strategy: FastStrategy, params: ReplayParams | None = None) -> ReplayResult:
    """Replay `data` with `strategy` answering every wake-up; a `GridQuoter` runs inside the
    jitted loop (one call into numba), any other strategy is called from Python at each wake-up."""
    params = params or ReplayParams()
    s = ReplayState(data, params)
    targets = np.zeros((params.max_orders, 3), dtype=np.int64)
    if isinstance(strategy, GridQuoter):
        wakes = _run_compiled_grid(s, strategy, targets)
    else:
        wakes = _run_with_callbacks(s, strategy, targets)
    return _result(s, data, wakes)


def _run_compiled_grid(s: ReplayState, grid: GridQuoter, targets: np.ndarray) -> int:
    ints = np.array(
        [grid.levels, grid.half_spread_ticks, grid.spacing_ticks, grid.size_lots, grid.max_position_lots],
        dtype=np.int64,
    )
    wakes = np.zeros(1, dtype=np.int64)
    d = s.data
    in_order = exchange_in_order(d.exch_ts_ns)
    ex_order = np.zeros(0, dtype=np.int64) if in_order else s.ex_order
    while True:
        code = run_grid(
            d.kind, d.side, d.exch_ts_ns, d.local_ts_ns, d.price_ticks, d.size_lots, ex_order, in_order,
            s.books, s.st, s.fst, s.oi, s.of, s.act, s.req, s.resp, s.fills, s.samples, s.lat, targets, ints,
            float(grid.skew_ticks_per_lot), wakes,
        )  # fmt: skip
        if code == layout.R_END:
            return int(wakes[0])
        s.grow(code)


def _run_with_callbacks(s: ReplayState, strategy: FastStrategy, targets: np.ndarray) -> int:
    n_targets = -1
    wakes = 0
    st = s.st
    while True:
        code = run_until(
            s.rows, s.ex_order, s.books, st, s.fst, s.oi, s.of, s.act, s.req, s.resp, s.fills,
            s.samples, s.lat, targets, n_targets,
        )  # fmt: skip
        n_targets = -1
        if code == layout.R_END:
            return wakes
        if code in (layout.R_FILLS_FULL, layout.R_SAMPLES_FULL):
            s.grow(code)
            continue
        wakes += 1
        n_targets = strategy.quotes(
            int(st[layout.S_LONOW]),
            int(st[layout.S_BEST + layout.B_LO]),
            int(st[layout.S_BEST + layout.B_LO + 1]),
            int(st[layout.S_LOPOS]),
            targets,
        )


def _result(s: ReplayState, data: EventData, wakes: int) -> ReplayResult:
    st = s.st
    bb, ba = int(st[layout.S_BEST + layout.B_LO]), int(st[layout.S_BEST + layout.B_LO + 1])
    return ReplayResult(
        fills=s.fills[: st[layout.S_NFILLS]].copy(),
        samples=s.samples[: st[layout.S_NSAMPLES]].copy(),
        counters=s.counters(),
        cash_ticklots=float(s.fst[layout.F_CASH]),
        fees_ticklots=float(s.fst[layout.F_FEES]),
        position_lots=int(st[layout.S_POS]),
        final_mid_ticks=0.5 * (bb + ba) if bb > 0 and ba > 0 else float("nan"),
        tick_size=float(data.meta.tick_size),
        lot_size=float(data.meta.data_lot),  # the core's sizes are data lots
        wakes=wakes,
    )


@dataclass(slots=True)
class GridQuoter:
    """A grid market maker: `levels` post-only orders a side, `spacing_ticks` apart, around a
    reservation price skewed `skew_ticks_per_lot` against the position, within ±max_position
    (`fast_loop.grid_quotes`); `run_fast` runs it compiled into the replay loop."""

    levels: int = 5
    half_spread_ticks: int = 1
    spacing_ticks: int = 1
    skew_ticks_per_lot: float = 0.2
    size_lots: int = 1
    max_position_lots: int = 20

    def quotes(
        self, now_ns: int, best_bid_ticks: int, best_ask_ticks: int, position_lots: int, out: np.ndarray
    ) -> int:
        n = grid_quotes(
            self.levels, self.half_spread_ticks, self.spacing_ticks, self.skew_ticks_per_lot,
            self.size_lots, self.max_position_lots, best_bid_ticks, best_ask_ticks, position_lots, out,
        )  # fmt: skip
        return int(n)
