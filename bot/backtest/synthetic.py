"""A seeded synthetic L2 stream: a contiguous ladder of levels per side whose best levels are
eaten by trades and refilled inside the spread, so the mid follows a random walk.

Every random number comes from numpy's Generator up front; the row loop is jitted when numba is
present and gives the same rows either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from connectors.replay.events import ASK, BID, DEPTH, TRADE, DataMeta, EventData, make_event_data
from connectors.replay.jit import njit


@dataclass(frozen=True, slots=True)
class SyntheticParams:
    rows: int = 100_000
    levels: int = 20
    tick_size: Decimal = Decimal("0.01")
    lot_size: Decimal = Decimal("0.001")
    initial_price: Decimal = Decimal("100")
    mean_interval_ms: float = 1.8
    feed_latency_ms: float = 1.0
    feed_jitter_ms: float = 0.0
    trade_fraction: float = 0.1
    improve_fraction: float = 0.1
    mean_level_lots: float = 10.0
    mean_trade_lots: float = 3.0
    start_ns: int = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
    seed: int = 1
    venue: str = "sim"
    symbol: str = "BTC/USDT"

    def __post_init__(self) -> None:
        if self.rows <= 0 or self.levels < 2:
            raise ValueError("SyntheticParams: rows must be positive and levels at least 2")
        if self.mean_interval_ms <= 0 or self.feed_latency_ms < 0 or self.feed_jitter_ms < 0:
            raise ValueError("SyntheticParams: mean_interval_ms > 0, latencies >= 0")
        if not 0 <= self.trade_fraction + self.improve_fraction <= 1:
            raise ValueError("SyntheticParams: trade_fraction + improve_fraction must lie in [0, 1]")


@njit
def _fill_rows(
    levels: int,
    first_bid: int,
    trade_fraction: float,
    improve_fraction: float,
    mean_level: float,
    mean_trade: float,
    u_kind: np.ndarray,
    u_side: np.ndarray,
    u_level: np.ndarray,
    u_size: np.ndarray,
    event_ts: np.ndarray,
    init_sizes: np.ndarray,
    kind: np.ndarray,
    side: np.ndarray,
    ts: np.ndarray,
    price: np.ndarray,
    size: np.ndarray,
) -> int:
    """Writes rows until the output is full; returns how many events it used."""
    n = len(kind)
    qb = init_sizes[:levels].copy()
    qa = init_sizes[levels : 2 * levels].copy()
    best_bid = first_bid
    best_ask = first_bid + 1
    r = 0
    # the initial snapshot as depth rows
    for k in range(levels):
        if r + 2 > n:
            return 0
        kind[r], side[r], ts[r], price[r], size[r] = 1, 1, event_ts[0], best_bid - k, qb[k]
        kind[r + 1], side[r + 1], ts[r + 1], price[r + 1], size[r + 1] = (
            1,
            -1,
            event_ts[0],
            best_ask + k,
            qa[k],
        )
        r += 2
    e = 0
    while r + 4 <= n:
        e += 1
        t = event_ts[e]
        is_bid = u_side[e] < 0.5
        q = qb if is_bid else qa
        sgn = 1 if is_bid else -1
        best = best_bid if is_bid else best_ask
        new_size = 1 + int(u_size[e] * 2.0 * mean_level)
        if u_kind[e] < trade_fraction:
            # a taker hits this side's best level (aggressor is the other side)
            traded = 1 + int(-np.log(1.0 - u_size[e]) * (mean_trade - 1.0))
            if traded > q[0]:
                traded = q[0]
            kind[r], side[r], ts[r], price[r], size[r] = 2, -sgn, t, best, traded
            r += 1
            q[0] -= traded
            if q[0] > 0:
                kind[r], side[r], ts[r], price[r], size[r] = 1, sgn, t, best, q[0]
                r += 1
            else:
                kind[r], side[r], ts[r], price[r], size[r] = 1, sgn, t, best, 0
                r += 1
                for k in range(levels - 1):
                    q[k] = q[k + 1]
                q[levels - 1] = new_size
                best -= sgn
                kind[r], side[r], ts[r], price[r], size[r] = 1, sgn, t, best - sgn * (levels - 1), new_size
                r += 1
        elif u_kind[e] < trade_fraction + improve_fraction and best_ask - best_bid > 1:
            # a new best level inside the spread; the deepest level drops out of the window
            kind[r], side[r], ts[r], price[r], size[r] = 1, sgn, t, best - sgn * (levels - 1), 0
            r += 1
            for k in range(levels - 1, 0, -1):
                q[k] = q[k - 1]
            q[0] = new_size
            best += sgn
            kind[r], side[r], ts[r], price[r], size[r] = 1, sgn, t, best, new_size
            r += 1
        else:
            k = int(-np.log(1.0 - u_level[e]) * 3.0)
            if k >= levels:
                k = levels - 1
            q[k] = new_size
            kind[r], side[r], ts[r], price[r], size[r] = 1, sgn, t, best - sgn * k, new_size
            r += 1
        if is_bid:
            best_bid = best
        else:
            best_ask = best
    # pad the tail (fewer than 4 rows left) with depth refreshes of the best bid
    while r < n:
        kind[r], side[r], ts[r], price[r], size[r] = 1, 1, event_ts[e], best_bid, qb[0]
        r += 1
    return e


def generate(params: SyntheticParams | None = None) -> EventData:
    p = params or SyntheticParams()
    rng = np.random.default_rng(p.seed)
    n = p.rows
    n_events = n + 1
    gaps = rng.exponential(p.mean_interval_ms * 1e6, n_events).astype(np.int64)
    gaps[0] = 0
    event_ts = p.start_ns + np.cumsum(gaps)
    u_kind, u_side, u_level, u_size = (rng.random(n_events) for _ in range(4))
    init_sizes = 1 + (rng.random(2 * p.levels) * 2 * p.mean_level_lots).astype(np.int64)
    kind = np.empty(n, np.int8)
    side = np.empty(n, np.int8)
    exch = np.empty(n, np.int64)
    price = np.empty(n, np.int64)
    size = np.empty(n, np.int64)
    first_bid = int(p.initial_price / p.tick_size)
    if first_bid <= 4 * p.levels:
        raise ValueError("SyntheticParams: initial_price must be well above levels * tick_size")
    _fill_rows(
        p.levels,
        first_bid,
        p.trade_fraction,
        p.improve_fraction,
        p.mean_level_lots,
        p.mean_trade_lots,
        u_kind,
        u_side,
        u_level,
        u_size,
        event_ts,
        init_sizes,
        kind,
        side,
        exch,
        price,
        size,
    )
    latency = np.int64(round(p.feed_latency_ms * 1e6))
    local = exch + latency
    if p.feed_jitter_ms > 0:
        local = local + rng.exponential(p.feed_jitter_ms * 1e6, n).astype(np.int64)
        order = np.argsort(local, kind="stable")
        kind, side, exch = kind[order], side[order], exch[order]
        local, price, size = local[order], price[order], size[order]
    meta = DataMeta(p.venue, p.symbol, p.tick_size, p.lot_size)
    assert DEPTH == 1 and TRADE == 2 and BID == 1 and ASK == -1  # literals inside the jitted loop
    return make_event_data(
        meta, kind=kind, side=side, exch_ts_ns=exch, local_ts_ns=local, price_ticks=price, size_lots=size
    )
