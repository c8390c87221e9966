"""Intensity from our own fills: recovers a known (A, kappa) from a synthetic Poisson fixture of
live-order exposure and fills, says "not enough" where kappa is not identified, and blends into
the tape's estimate by the stated rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.core.domain import OrderState, Side
from bot.core.events import BookSnapshot
from bot.kernel.market_state import MarketState
from bot.kernel.strategy import LiveOrdersReader
from strategies.quoting.core_strategy import CoreQuoteStrategy
from strategies.quoting.models.glft import GlftParams
from strategies.quoting.own_fills import OwnFillIntensity
from tests.kit.stubs import SYMBOL, VENUE, cid, fill, fill_event, market, order, request

NS = 1_000_000_000
START_NS = 1_700_000_000 * NS


def _own(min_fills: float = 50.0, spread_bps: float = 0.5) -> OwnFillIntensity:
    return OwnFillIntensity(1, half_life_s=1e9, min_fills=min_fills, min_depth_spread_bps=spread_bps)


def _poisson_fixture(
    est: OwnFillIntensity, a_per_s: float, kappa_per_bps: float, depths_bps: list[float], seed: int
) -> float:
    """One live quote per second at a depth drawn from `depths_bps` (plus a little jitter), for
    8 simulated hours; each second it fills with probability from lambda = A e^(-kappa d), half of
    the fills in two partial halves. Returns the total fill weight."""
    rng = np.random.default_rng(seed)
    seconds = 8 * 3600
    depth = rng.choice(depths_bps, seconds) + rng.uniform(-0.1, 0.1, seconds)
    est.add_exposure(np.zeros(seconds, dtype=np.intp), depth, 1.0)
    fills = rng.poisson(a_per_s * np.exp(-kappa_per_bps * depth))
    total = 0.0
    for d, k in zip(depth, fills, strict=True):
        for _ in range(k):
            if rng.random() < 0.5:
                est.add_fill(0, d, 1.0)
            else:  # a partial fill and the rest of the order: one fill in all
                est.add_fill(0, d, 0.5)
                est.add_fill(0, d, 0.5)
            total += 1.0
    est.fit(START_NS)
    return total


@pytest.mark.parametrize(
    ("a_per_s", "kappa_per_bps", "depths", "seed"),
    [
        (0.5, 0.3, [1.0, 2.0, 3.0, 5.0, 8.0], 1),
        (2.0, 0.8, [0.5, 1.0, 2.0, 4.0], 2),
        (0.2, 0.1, [2.0, 6.0, 10.0, 15.0], 3),
    ],
)
def test_fit_recovers_known_a_and_kappa_from_a_poisson_fixture(a_per_s, kappa_per_bps, depths, seed):
    est = _own()
    fills = _poisson_fixture(est, a_per_s, kappa_per_bps, depths, seed)
    assert fills > 500 and est.fills[0] == pytest.approx(fills)
    assert est.enough[0]
    assert est.a_per_s[0] == pytest.approx(a_per_s, rel=0.10)
    assert est.kappa_per_bps[0] == pytest.approx(kappa_per_bps, rel=0.10)


def test_quotes_at_one_depth_are_not_enough_however_many_fills():
    est = _own()
    est.add_exposure([0] * 3600, [3.0] * 3600, 1.0)
    for _ in range(500):
        est.add_fill(0, 3.0, 1.0)
    est.fit(START_NS)
    assert not est.enough[0] and math.isnan(est.kappa_per_bps[0])
    a, kappa = np.array([1.0]), np.array([0.5])
    w = est.blend(np.array([100.0]), np.array([True]), a, kappa)
    assert w[0] == 0 and a[0] == 1.0 and kappa[0] == 0.5  # the tape's estimate, untouched


def test_below_min_fills_the_tape_alone():
    est = _own(min_fills=50.0)
    _poisson_fixture(est, 0.002, 0.3, [1.0, 3.0, 5.0], 4)  # about 40 fills in 8 hours
    assert 0 < est.fills[0] < 50 and not est.enough[0]


def test_blend_is_geometric_with_each_own_fill_weighing_one_taker():
    est = _own()
    _poisson_fixture(est, 0.5, 0.3, [1.0, 2.0, 3.0, 5.0, 8.0], 1)
    own_a, own_kappa, n = est.a_per_s[0], est.kappa_per_bps[0], est.fills[0]
    takers = 3 * n
    a, kappa = np.array([2.0]), np.array([0.1])
    w = est.blend(np.array([takers]), np.array([True]), a, kappa)
    assert w[0] == pytest.approx(0.25)
    assert a[0] == pytest.approx(own_a**0.25 * 2.0**0.75)
    assert kappa[0] == pytest.approx(own_kappa**0.25 * 0.1**0.75)
    # a tape not warm yet: our fills alone
    a, kappa = np.array([2.0]), np.array([0.1])
    w = est.blend(np.array([takers]), np.array([False]), a, kappa)
    assert w[0] == 1.0 and a[0] == pytest.approx(own_a) and kappa[0] == pytest.approx(own_kappa)


def test_exposure_and_fills_decay_with_the_half_life():
    est = OwnFillIntensity(1, half_life_s=60.0, min_fills=1.0, min_depth_spread_bps=0.0)
    est.add_exposure([0, 0], [1.0, 9.0], 10.0)
    est.add_fill(0, 2.0, 1.0)
    est.fit(START_NS)
    est.fit(START_NS + 60 * NS)
    assert est.fills[0] == pytest.approx(0.5) and est.exposure_s[0].sum() == pytest.approx(10.0)
    assert est.fill_depth[0] == pytest.approx(1.0)


# ---- in the strategy: exposure of live orders from the engine, maker fills ------------------------


def _glft_strategy(state):
    cfg = GlftParams(
        markets=[f"{VENUE}:{SYMBOL}"], skew_at_max_inventory_bps=6,
        intensity={"min_own_fills": 1.0, "min_own_depth_spread_bps": 0.0},
    )  # fmt: skip
    return CoreQuoteStrategy("s", cfg, np.array([0]), state.markets, [(0.005, 0.1)], 0, state)


def test_the_strategy_credits_resting_orders_only_and_counts_maker_fills_by_their_share():
    state = MarketState([market()], [5], [100])
    state.update_top(0, 600_000, 600_010, NS, 5, 5)  # nobody else's orders but the top: fair 60000.5
    s = _glft_strategy(state)
    assert isinstance(s, LiveOrdersReader) and s.own_fills is not None
    resting_bid = order(request(cid(1), side=Side.BUY, price_ticks=599_950, size_lots=5))  # 0.917 bps
    cancelling_ask = order(request(cid(2), side=Side.SELL, price_ticks=600_070, size_lots=5),
                           state=OrderState.PENDING_CANCEL)  # fmt: skip  # 1.083 bps, still resting
    unacked_ask = order(request(cid(3), side=Side.SELL, price_ticks=600_060), state=OrderState.PENDING_NEW)
    s.read_orders_from(lambda slot: [resting_bid, cancelling_ask, unacked_ask] if slot == 0 else [])
    for ts in (NS, 2 * NS, 2 * NS + NS // 2, 3 * NS, 10 * NS):  # 10 s: a quiet gap, credited 2 s
        s.on_event(BookSnapshot(VENUE, SYMBOL, ((600_000, 5),), ((600_010, 5),), ts, ts))
    own = s.own_fills
    fair = 60_000.5
    # samples at 2 s, 3 s (1 s each) and 10 s (capped at 2 s): 4 s for each of the two resting orders
    assert own.exposure_s[0].sum() == pytest.approx(8.0)
    depths = {(fair - 59_995.0) / fair * 1e4, (60_007.0 - fair) / fair * 1e4}
    assert own.exposure_depth[0].sum() == pytest.approx(4.0 * sum(depths))
    # maker fills at the quote's fair: 2 of 5 lots (0.4 of a fill), then a taker fill (not counted)
    s.quote(np.array([fair]), np.array([np.nan]), np.array([np.nan]), np.array([0.0]), 10 * NS)
    s.on_event(fill_event(fill(cid(1), side=Side.BUY, price_ticks=599_950, size_lots=2)))
    s.on_event(fill_event(fill(cid(1), side=Side.BUY, price_ticks=599_950, size_lots=3, is_maker=False)))
    assert own.fills[0] == pytest.approx(0.4)
    assert own.fill_depth[0] == pytest.approx(0.4 * (fair - 59_995.0) / fair * 1e4)
