"""The benchmark's grid market maker on hftbacktest 2.4 (`pip install -e '.[bench]'`), for
benchmarks/backtest_throughput.py: our event file converted to its event rows, and the grid of
`connectors.replay.fast_loop.grid_quotes` as an njit function driving its backtester, as its
docs recommend (`while hbt.elapse(interval) == 0: ...`).

Where the two setups differ (everything else is the same: rows, grid, skew, cap, requote interval,
1 ms entry and 1 ms response latency, risk-averse queue, fees):
- hftbacktest fills whole orders (`no_partial_fill_exchange`): its `partial_fill_exchange` stops
  with InvalidOrderStatus on this data (its issues #301, #312). Our orders are 1 lot, so a fill
  is a whole order either way.
- hftbacktest refuses to cancel an order whose request is still in flight; we send the cancel.
  With 1 ms latency and a 100 ms requote interval this is rare.
- hftbacktest works in float prices and quantities, we in integer ticks and lots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from connectors.replay.events import TRADE, EventData

try:
    import hftbacktest as hbt_lib
    from hftbacktest import GTX, LIMIT, NEW, NONE
    from hftbacktest.order import PARTIALLY_FILLED
    from numba import njit
except ImportError:  # the benchmark then reports ours alone
    hbt_lib = None

HAVE_HFTBACKTEST = hbt_lib is not None
_ROI_PAD_TICKS = 2_000  # the same price window padding as our core's books


def to_hbt_events(data: EventData) -> np.ndarray:
    """Our rows as hftbacktest event rows (both timelines on every row, as in our file)."""
    assert hbt_lib is not None
    ev = np.zeros(len(data), dtype=hbt_lib.event_dtype)
    kind = np.where(data.kind == TRADE, hbt_lib.TRADE_EVENT, hbt_lib.DEPTH_EVENT).astype(np.uint64)
    side = np.where(data.side == 1, hbt_lib.BUY_EVENT, hbt_lib.SELL_EVENT).astype(np.uint64)
    ev["ev"] = kind | side | np.uint64(hbt_lib.EXCH_EVENT | hbt_lib.LOCAL_EVENT)
    ev["exch_ts"] = data.exch_ts_ns
    ev["local_ts"] = data.local_ts_ns
    ev["px"] = data.price_ticks * float(data.meta.tick_size)
    ev["qty"] = data.size_lots * float(data.meta.data_lot)
    return ev


@dataclass(frozen=True, slots=True)
class HbtGrid:
    levels: int = 5
    half_spread_ticks: int = 1
    spacing_ticks: int = 1
    skew_ticks_per_lot: float = 0.2
    size_lots: int = 1
    max_position_lots: int = 20
    wake_interval_ns: int = 100_000_000
    order_latency_ns: int = 1_000_000
    maker_fee_bps: float = 0.0
    taker_fee_bps: float = 0.0


@dataclass(frozen=True, slots=True)
class HbtResult:
    orders: int
    fills: int
    wakes: int
    position_lots: int


def build_backtest(events: np.ndarray, data: EventData, grid: HbtGrid, roi: bool) -> Any:
    """A backtester on `events` (zero copy); `roi`: ROIVectorMarketDepthBacktest, else the
    HashMap one."""
    assert hbt_lib is not None
    tick, lot = float(data.meta.tick_size), float(data.meta.data_lot)
    asset = (
        hbt_lib.BacktestAsset()
        .data(events)
        .linear_asset(1.0)
        .constant_order_latency(grid.order_latency_ns, grid.order_latency_ns)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(grid.maker_fee_bps * 1e-4, grid.taker_fee_bps * 1e-4)
        .tick_size(tick)
        .lot_size(lot)
    )
    if not roi:
        return hbt_lib.HashMapMarketDepthBacktest([asset])
    lo = (int(data.price_ticks.min()) - _ROI_PAD_TICKS) * tick
    hi = (int(data.price_ticks.max()) + _ROI_PAD_TICKS) * tick
    return hbt_lib.ROIVectorMarketDepthBacktest([asset.roi_lb(lo).roi_ub(hi)])


def run_hbt(events: np.ndarray, data: EventData, grid: HbtGrid, roi: bool) -> HbtResult:
    hbt = build_backtest(events, data, grid, roi)
    ints = np.array(
        [grid.levels, grid.half_spread_ticks, grid.spacing_ticks, grid.size_lots, grid.max_position_lots],
        dtype=np.int64,
    )
    out = np.zeros(4, dtype=np.int64)
    first_wake_ns = int(data.local_ts_ns[0] - data.exch_ts_ns[0])  # our first wake: the first receipt
    _grid_loop(hbt, ints, grid.skew_ticks_per_lot, float(data.meta.data_lot), first_wake_ns,
               grid.wake_interval_ns, out)  # fmt: skip
    hbt.close()
    return HbtResult(orders=int(out[0]), fills=int(out[1]), wakes=int(out[2]), position_lots=int(out[3]))


def _grid_loop_py(
    hbt: Any, ints: np.ndarray, skew: float, lot: float, first_wake_ns: int, wake_ns: int, out: np.ndarray
) -> None:
    levels, half, spacing, size, cap = ints[0], ints[1], ints[2], ints[3], ints[4]
    tick = hbt.depth(0).tick_size
    wants = np.zeros((2 * levels, 2), np.int64)
    next_id = 1
    status = hbt.elapse(first_wake_ns)
    while status == 0:
        out[2] += 1
        hbt.clear_inactive_orders(0)
        depth = hbt.depth(0)
        bid, ask = depth.best_bid_tick, depth.best_ask_tick
        pos = round(hbt.position(0) / lot)
        n = 0
        if 0 < bid < ask < 1 << 62:  # as grid_quotes: no quotes on a one-sided or crossed book
            reservation = 0.5 * (bid + ask) - skew * pos
            top_bid = min(math.floor(reservation - half), ask - 1)
            top_ask = max(math.ceil(reservation + half), bid + 1)
            for level in range(levels):
                if pos + (level + 1) * size <= cap:
                    wants[n, 0], wants[n, 1] = 1, top_bid - level * spacing
                    n += 1
                if pos - (level + 1) * size >= -cap:
                    wants[n, 0], wants[n, 1] = -1, top_ask + level * spacing
                    n += 1
        kept = np.zeros(n, np.bool_)
        values = hbt.orders(0).values()
        while values.has_next():
            order = values.get()
            live = (order.status == NEW or order.status == PARTIALLY_FILLED) and order.req == NONE
            pending_new = order.req == NEW
            if not (live or pending_new):
                continue
            found = False
            for k in range(n):
                if not kept[k] and wants[k, 0] == order.side and wants[k, 1] == order.price_tick:
                    kept[k] = True
                    found = True
                    break
            if not found and live:
                hbt.cancel(0, order.order_id, False)
        for k in range(n):
            if not kept[k]:
                if wants[k, 0] == 1:
                    hbt.submit_buy_order(0, next_id, wants[k, 1] * tick, size * lot, GTX, LIMIT, False)
                else:
                    hbt.submit_sell_order(0, next_id, wants[k, 1] * tick, size * lot, GTX, LIMIT, False)
                next_id += 1
                out[0] += 1
        status = hbt.elapse(wake_ns)
    out[1] = hbt.state_values(0).num_trades
    out[3] = round(hbt.position(0) / lot)


if hbt_lib is not None:
    _grid_loop = njit(_grid_loop_py)
