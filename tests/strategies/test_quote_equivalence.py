"""The vectorized core returns exactly the scalar reference's ticks and lots, for random markets."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.kernel.targets import QuoteTargets
from strategies.quoting.arrays import QuoteInputs, QuoteParams
from strategies.quoting.core import QuoteWorkspace, compute_quotes
from tests.strategies.reference_quotes import reference_quotes

NOW_NS = 1_700_000_000_000_000_000
N_LEVELS = 4
FIELDS = ("bid_price_ticks", "bid_size_lots", "ask_price_ticks", "ask_size_lots")


def _log_uniform(lo_exp: float, hi_exp: float) -> st.SearchStrategy[float]:
    return st.floats(lo_exp, hi_exp).map(lambda e: 10.0**e)


def _with(special: list[float], normal: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    """Mostly `normal`, one draw in thirty from the edge cases."""
    return st.integers(0, 29).flatmap(lambda i: st.sampled_from(special) if i == 0 else normal)


@st.composite
def market(draw: st.DrawFn) -> dict[str, float]:
    fair = draw(_with([math.nan, 0.0, -1.0, math.inf], _log_uniform(-3, 6)))
    scale = fair if math.isfinite(fair) and fair > 0 else 1.0
    # ticks of 1e-7 to 1e-2 of the price, on a "nice" grid (1, 2.5, 5 x 10^k)
    tick_exp = math.floor(math.log10(scale)) + draw(st.integers(-7, -2))
    tick = draw(st.sampled_from([1.0, 2.5, 5.0])) * 10.0**tick_exp
    max_inv = draw(_log_uniform(-0.5, 3))
    inventory = draw(
        st.one_of(
            st.sampled_from([0.0, max_inv, -max_inv, max_inv - 0.5, math.nan]),
            st.floats(-1.5, 1.5).map(lambda f: f * max_inv),
        )
    )
    min_spread = draw(st.sampled_from([0.0, 0.0, 1.0, 5.0, 40.0]))
    # risk aversion per unit of quote currency, per unit of quoted notional, or both
    gamma_unit = draw(st.sampled_from(["quote", "quote", "notional", "notional", "both"]))
    gamma = draw(_log_uniform(-4, 1).map(lambda g: g / scale)) if gamma_unit != "notional" else 0.0
    gamma_notional = draw(_log_uniform(-3, 3)) if gamma_unit != "quote" else 0.0
    offset = st.floats(-0.01, 0.01)
    return {
        "fair_price": fair,
        "best_bid": draw(_with([math.nan], offset.map(lambda o: scale * (1 - o)))),
        "best_ask": draw(_with([math.nan], offset.map(lambda o: scale * (1 + o)))),
        # tiny to huge: 1e-12 to 1 of fair per sqrt(second)
        "volatility": draw(_with([0.0, math.nan, math.inf], _log_uniform(-12, 0).map(lambda v: v * scale))),
        "intensity_a": draw(_with([0.0, math.nan], _log_uniform(-3, 3))),
        "intensity_kappa": draw(_with([0.0, math.nan], _log_uniform(-3, 5).map(lambda k: k / scale))),
        "inventory_lots": inventory,
        "toxicity_bid_bps": draw(_with([math.nan], st.floats(0, 20))),
        "toxicity_ask_bps": draw(_with([math.nan], st.floats(0, 20))),
        "model": draw(st.integers(0, 2)),
        "tick_size": tick,
        "lot_size": draw(st.sampled_from([1e-6, 0.001, 0.1, 1.0])),
        "maker_fee_bps": draw(st.sampled_from([-1.0, 0.0, 1.0, 7.5])),
        "min_spread_bps": min_spread,
        "max_spread_bps": min_spread + draw(st.sampled_from([0.0, 10.0, 100.0, 5000.0])),
        "half_spread_bps": draw(st.floats(0, 100)),
        "skew_bps_per_unit_inventory_fraction": draw(st.floats(-50, 50)),
        "gamma": gamma,
        "gamma_notional": gamma_notional,
        "max_skew_bps": draw(st.sampled_from([math.inf, math.inf, 0.0, 0.5, 5.0, 100.0])),
        "horizon_s": draw(st.sampled_from([0.0, 1.0, 60.0, 3600.0])),
        "session_end_ns": draw(
            st.sampled_from([0, 0, NOW_NS - 10**9, NOW_NS + 30 * 10**9, NOW_NS + 86_400 * 10**9])
        ),
        "level_spacing_bps": draw(st.sampled_from([0.0, 0.3, 2.5, 10.0])),
        "level_size_lots": draw(st.one_of(st.sampled_from([0.0, 1.0, 10.0]), st.floats(0.5, 50))),
        "level_count": draw(st.sampled_from([0, 1, N_LEVELS, N_LEVELS, N_LEVELS, N_LEVELS - 1])),
        "max_inventory_lots": max_inv,
        "size_shape_eta": draw(st.sampled_from([0.0, 0.5, 3.0])),
        "price_band_bps": draw(st.sampled_from([math.inf, math.inf, math.inf, 1.0, 20.0, 500.0])),
    }


INPUT_FIELDS = tuple(QuoteInputs.__slots__)  # type: ignore[attr-defined]


def build(markets: list[dict[str, float]]) -> tuple[QuoteInputs, QuoteParams]:
    inputs = QuoteInputs(**{f: np.array([m[f] for m in markets], dtype=np.float64) for f in INPUT_FIELDS})
    dtypes = {"model": np.int8, "session_end_ns": np.int64, "level_count": np.int64}
    params = QuoteParams(
        **{
            f: np.array([m[f] for m in markets], dtype=dtypes.get(f, np.float64))
            for f in markets[0]
            if f not in INPUT_FIELDS
        },
        n_levels=N_LEVELS,
    )
    return inputs, params


def assert_same(core: QuoteTargets, ref: QuoteTargets) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(core, name), getattr(ref, name), err_msg=name)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(market(), min_size=1, max_size=8))
def test_core_equals_scalar_reference(markets: list[dict[str, float]]) -> None:
    inputs, params = build(markets)
    core = compute_quotes(inputs, params, now_ns=NOW_NS)
    assert_same(core, reference_quotes(inputs, params, now_ns=NOW_NS))
    # targets are well formed whatever the input: no negative sizes, prices only with a size
    for price, size in (
        (core.bid_price_ticks, core.bid_size_lots),
        (core.ask_price_ticks, core.ask_size_lots),
    ):
        assert (size >= 0).all()
        assert ((price > 0) == (size > 0)).all()


@settings(max_examples=150, deadline=None)
@given(st.lists(market(), min_size=2, max_size=6), st.data())
def test_reused_workspace_and_single_market_isolation(
    markets: list[dict[str, float]], data: st.DataObject
) -> None:
    """One market's NaN fair price removes its quotes and changes no other market's."""
    inputs, params = build(markets)
    workspace = QuoteWorkspace(len(markets), N_LEVELS)
    before = {
        k: v.copy() for k, v in vars_of(compute_quotes(inputs, params, now_ns=NOW_NS, workspace=workspace))
    }
    slot = data.draw(st.integers(0, len(markets) - 1))
    inputs.fair_price[slot] = math.nan
    after = compute_quotes(inputs, params, now_ns=NOW_NS, workspace=workspace)
    assert_same(after, reference_quotes(inputs, params, now_ns=NOW_NS))
    others = np.arange(len(markets)) != slot
    for name in FIELDS:
        assert (getattr(after, name)[slot] == 0).all()
        np.testing.assert_array_equal(getattr(after, name)[others], before[name][others])


def vars_of(targets: QuoteTargets) -> list[tuple[str, np.ndarray]]:
    return [(name, getattr(targets, name)) for name in FIELDS]


@settings(max_examples=100, deadline=None)
@given(st.lists(market(), min_size=1, max_size=6))
def test_posted_quotes_respect_book_band_and_limits(markets: list[dict[str, float]]) -> None:
    """Invariants that hold for every quoted level, checked straight on the outputs."""
    inputs, params = build(markets)
    t = compute_quotes(inputs, params, now_ns=NOW_NS)
    for i in range(len(markets)):
        tick, fair = params.tick_size[i], inputs.fair_price[i]
        bids = t.bid_price_ticks[i][t.bid_size_lots[i] > 0]
        asks = t.ask_price_ticks[i][t.ask_size_lots[i] > 0]
        if not (bids.size or asks.size):
            continue
        if np.isfinite(inputs.best_ask[i]) and bids.size:
            assert bids.max() <= round(inputs.best_ask[i] / tick) - 1
        if np.isfinite(inputs.best_bid[i]) and asks.size:
            assert asks.min() >= round(inputs.best_bid[i] / tick) + 1
        if bids.size and asks.size:
            assert bids.max() < asks.min()
        assert (np.diff(bids) < 0).all() and (np.diff(asks) > 0).all()
        band = params.price_band_bps[i] * 1e-4 * fair
        for levels in (bids, asks):
            assert (np.abs(levels * tick - fair) <= band * (1 + 1e-12)).all()
        q, q_max = inputs.inventory_lots[i], params.max_inventory_lots[i]
        assert q + t.bid_size_lots[i].sum() <= q_max + 1e-9 or t.bid_size_lots[i].sum() == 0
        assert q - t.ask_size_lots[i].sum() >= -q_max - 1e-9 or t.ask_size_lots[i].sum() == 0
