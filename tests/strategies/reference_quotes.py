"""Scalar reference of the quote core: one market at a time, plain Python floats, no arrays.

It follows the pipeline documented in strategies/quoting/core.py step by step, with each expression
written in the same operation order as the vectorized code, so both round identically and the
property tests can demand equal ticks and lots.

Elementary functions: numpy's SIMD exp/log1p (AVX-512 builds) differ from glibc's `math.exp` /
`math.log1p` by an ulp on a few percent of arguments, while numpy's scalar calls return exactly its
array results. So the transcendental calls below go through numpy on single floats; arithmetic,
floor, ceil, round and sqrt (all correctly rounded) stay in plain Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bot.kernel.targets import QuoteTargets
from strategies.quoting.arrays import QuoteInputs, QuoteParams
from strategies.quoting.models import QuoteModel

BPS = 1e-4
HALF_BPS = 0.5e-4
SNAP_TICKS = 1e-9
MAX_TICKS = float(2**53)
INF = math.inf


def _log1p(x: float) -> float:
    return float(np.log1p(x))


def _exp(x: float) -> float:
    return float(np.exp(x))


def _floor(x: float) -> float:
    return float(math.floor(x)) if math.isfinite(x) else x


def _ceil(x: float) -> float:
    return float(math.ceil(x)) if math.isfinite(x) else x


def _rint(x: float) -> float:
    return float(round(x)) if math.isfinite(x) else x


def _max_nan(a: float, b: float) -> float:
    return math.nan if a != a or b != b else max(a, b)


def _min_nan(a: float, b: float) -> float:
    return math.nan if a != a or b != b else min(a, b)


@dataclass(frozen=True, slots=True)
class MarketQuote:
    bid_ticks: list[int]
    bid_lots: list[int]
    ask_ticks: list[int]
    ask_lots: list[int]


def reference_quotes(inputs: QuoteInputs, params: QuoteParams, *, now_ns: int) -> QuoteTargets:
    """The scalar equivalent of `compute_quotes`: a Python loop over markets."""
    cols_in = {name: getattr(inputs, name).tolist() for name in inputs.__slots__}  # type: ignore[attr-defined]
    cols_p = {
        name: getattr(params, name).tolist()
        for name in params.__slots__  # type: ignore[attr-defined]
        if name != "n_levels"
    }
    rows = []
    for i in range(params.n_markets):
        m = {name: col[i] for name, col in cols_in.items()}
        p = {name: col[i] for name, col in cols_p.items()}
        rows.append(quote_market(m, p, now_ns=now_ns, n_levels=params.n_levels))
    out = [
        np.array([getattr(r, f) for r in rows], dtype=np.int64).reshape(params.n_markets, params.n_levels)
        for f in ("bid_ticks", "bid_lots", "ask_ticks", "ask_lots")
    ]
    return QuoteTargets(*out)


def _usable(m: dict[str, float], p: dict[str, float]) -> bool:
    s = m["fair_price"]
    if not (
        s > 0.0 and math.isfinite(s + m["inventory_lots"] + m["toxicity_bid_bps"] + m["toxicity_ask_bps"])
    ):
        return False
    if p["model"] == QuoteModel.FIXED_SPREAD:
        return True
    sigma, kappa = m["volatility"], m["intensity_kappa"]
    if not (sigma >= 0.0 and kappa > 0.0 and math.isfinite(sigma + kappa)):
        return False
    return p["model"] != QuoteModel.GLFT or 0.0 < m["intensity_a"] * p["level_size_lots"] < INF


def _div(a: float, b: float) -> float:
    """IEEE division as numpy does it (Python raises on a zero divisor)."""
    if b != 0.0:
        return a / b
    if a != a or a == 0.0:
        return math.nan
    return math.copysign(INF, a) * math.copysign(1.0, b)


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0.0 else math.nan


def _clamped_reservation(s: float, n: float, omega: float, max_skew_bps: float) -> float:
    """strategies.quoting.models.order_units.clamped_reservation."""
    bound = (max_skew_bps * BPS) * s
    skew = _max_nan(_min_nan(n * omega, bound), -bound)
    return s - skew


def _reservation_and_half_spread(
    m: dict[str, float], p: dict[str, float], now_ns: int
) -> tuple[float, float]:
    s = m["fair_price"]
    q = m["inventory_lots"]
    sigma, kappa = m["volatility"], m["intensity_kappa"]
    if p["model"] == QuoteModel.FIXED_SPREAD:
        q_frac = q / p["max_inventory_lots"]
        r = s - ((p["skew_bps_per_unit_inventory_fraction"] * q_frac) * BPS) * s
        h = (p["half_spread_bps"] * BPS) * s
        return r, h
    # order units: x per price unit, n orders of inventory
    x = (p["level_size_lots"] * p["lot_size"]) * p["gamma"] + p["gamma_notional"] / s
    n = _div(q, p["level_size_lots"])
    c1_arg = _div(x, kappa)
    if p["model"] == QuoteModel.AVELLANEDA_STOIKOV:
        end = int(p["session_end_ns"])
        tau = p["horizon_s"] if end == 0 else min(max(end - now_ns, 0) * 1e-9, p["horizon_s"])
        omega = ((sigma * sigma) * x) * tau
        r = _clamped_reservation(s, n, omega, p["max_skew_bps"])
        h = 0.5 * omega + _div(_log1p(c1_arg), x)
    else:
        log_term = _log1p(c1_arg)
        power = _exp((_div(kappa, x) + 1.0) * log_term)
        omega = _sqrt(_div((sigma * sigma) * x, (2.0 * m["intensity_a"]) * kappa) * power)
        r = _clamped_reservation(s, n, omega, p["max_skew_bps"])
        h = 0.5 * omega + _div(log_term, x)
    return r, h


def quote_market(m: dict[str, float], p: dict[str, float], *, now_ns: int, n_levels: int) -> MarketQuote:
    zeros = [0] * n_levels
    if not _usable(m, p):
        return MarketQuote(zeros, zeros, zeros, zeros)
    s, q, tick = m["fair_price"], m["inventory_lots"], p["tick_size"]
    r, h = _reservation_and_half_spread(m, p, now_ns)

    h_bid = h + ((m["toxicity_bid_bps"] + p["maker_fee_bps"]) * BPS) * s
    h_ask = h + ((m["toxicity_ask_bps"] + p["maker_fee_bps"]) * BPS) * s
    h_bid = min(max(h_bid, (p["min_spread_bps"] * HALF_BPS) * s), (p["max_spread_bps"] * HALF_BPS) * s)
    h_ask = min(max(h_ask, (p["min_spread_bps"] * HALF_BPS) * s), (p["max_spread_bps"] * HALF_BPS) * s)
    if not math.isfinite(r + h_ask):
        return MarketQuote(zeros, zeros, zeros, zeros)

    bid0 = _floor((r - h_bid) / tick + SNAP_TICKS)
    ask0 = _ceil((r + h_ask) / tick - SNAP_TICKS)
    # post-only: never cross the opposite best; the ask also stays above our own level-0 bid
    bid_cap = _rint(m["best_ask"] / tick) - 1.0
    if bid_cap != bid_cap:
        bid_cap = INF
    ask_floor = -INF
    for candidate in (_rint(m["best_bid"] / tick) + 1.0, bid0 + 1.0):
        if candidate == candidate:
            ask_floor = max(ask_floor, candidate)
    bid0 = _min_nan(bid0, bid_cap)
    ask0 = _max_nan(ask0, ask_floor)
    step = max(_ceil(((p["level_spacing_bps"] * BPS) * s) / tick - SNAP_TICKS), 1.0)
    bids = [bid0 - float(k) * step for k in range(n_levels)]
    asks = [ask0 + float(k) * step for k in range(n_levels)]

    band = (p["price_band_bps"] * BPS) * s
    lo = max(s - band, tick)
    hi = min(s + band, tick * MAX_TICKS)
    q_frac = q / p["max_inventory_lots"]
    eta, size = p["size_shape_eta"], p["level_size_lots"]
    sides = (
        (
            bids,
            _floor(_exp(-(max(q_frac, 0.0) * eta)) * size + SNAP_TICKS),
            _floor((p["max_inventory_lots"] - q) + SNAP_TICKS),
        ),
        (
            asks,
            _floor(_exp(-(max(-q_frac, 0.0) * eta)) * size + SNAP_TICKS),
            _floor((q + p["max_inventory_lots"]) + SNAP_TICKS),
        ),
    )
    result: list[list[int]] = []
    for ticks, shaped, room in sides:
        prices: list[int] = []
        lots: list[int] = []
        for k, t in enumerate(ticks):
            quoted = k < p["level_count"] and lo <= t * tick <= hi
            final = min(max(room - float(k) * shaped, 0.0), shaped) if quoted else 0.0
            prices.append(int(t) if final != 0.0 else 0)
            lots.append(int(final))
        result += [prices, lots]
    return MarketQuote(*result)
