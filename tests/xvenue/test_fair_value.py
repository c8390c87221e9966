"""Consolidated fair value: microprice of fee-adjusted books, stale venues dropped, reference, AMM."""

import numpy as np
import pytest
from pydantic import ValidationError

from bot.kernel.market_state import MarketState
from strategies.quoting.fair_value import (
    FairValueEstimator,
    FairValueParams,
    InstrumentLayout,
    consolidated_fair_value,
)
from tests.kit.stubs import market

S = 1_000_000_000


def _two_books(ts_b_ns: int, fee_a: float = 0.0, latency_b_ms: float = 0.0, method="microprice", ref=None):
    # A: 100 / 101 with 3 bid vs 1 ask; B: 102 / 103 with 1 / 1
    return consolidated_fair_value(
        np.array([[100.0, 102.0]]),
        np.array([[101.0, 103.0]]),
        np.array([[3.0, 1.0]]),
        np.array([[1.0, 1.0]]),
        np.array([[10 * S, ts_b_ns]]),
        np.array([[fee_a, 0.0]]),
        np.array([[0.0, latency_b_ms]]),
        10 * S,
        method=method,
        stale_after_ms=2_000,
        latency_half_life_ms=1_000,
        reference_col=ref,
    )


def test_two_fresh_books_weight_by_depth():
    fv = _two_books(10 * S)
    # micro A = (100·1 + 101·3)/4 = 100.75 (depth 4); micro B = 102.5 (depth 2)
    assert fv.price[0] == pytest.approx((100.75 * 4 + 102.5 * 2) / 6, abs=1e-12)
    assert fv.fresh.tolist() == [[True, True]]


def test_stale_venue_is_dropped():
    fv = _two_books(10 * S - 2_001_000_000)  # B's last book is 2.001 s old, limit 2 s
    assert fv.price[0] == pytest.approx(100.75, abs=1e-12)
    assert fv.fresh.tolist() == [[True, False]]
    assert fv.weight[0, 1] == 0.0


def test_latency_counts_into_age_and_halves_the_weight():
    # B is 1 s old plus 500 ms latency: weight 2 · 2^-1.5; still fresh
    fv = _two_books(9 * S, latency_b_ms=500)
    w_b = 2 * 2**-1.5
    assert fv.price[0] == pytest.approx((100.75 * 4 + 102.5 * w_b) / (4 + w_b), abs=1e-12)
    # with 1.1 s of latency the same book is past the 2 s limit
    assert _two_books(9 * S, latency_b_ms=1_100).price[0] == pytest.approx(100.75, abs=1e-12)


def test_fee_adjusts_the_book_it_applies_to():
    fv = _two_books(0, fee_a=10.0)  # B stale: A alone, with a 10 bp taker fee
    assert fv.price[0] == pytest.approx((99.9 * 1 + 101.101 * 3) / 4, abs=1e-12)


def test_reference_method_uses_the_reference_or_nothing():
    assert _two_books(10 * S, method="reference", ref=np.array([1])).price[0] == pytest.approx(102.5)
    assert np.isnan(_two_books(0, method="reference", ref=np.array([1])).price[0])


def test_crossed_or_one_sided_book_is_not_used():
    fv = consolidated_fair_value(
        np.array([[100.0, 103.5, 0.0]]),
        np.array([[101.0, 103.0, 99.0]]),
        np.ones((1, 3)),
        np.ones((1, 3)),
        np.zeros((1, 3), dtype=np.int64),
        np.zeros((1, 3)),
        np.zeros((1, 3)),
        0,
        method="microprice",
        stale_after_ms=1_000,
        latency_half_life_ms=1_000,
    )
    assert fv.price[0] == 100.5
    assert fv.fresh.tolist() == [[True, False, False]]


def test_amm_method_and_its_staleness():
    args = [np.zeros((2, 1))] * 4 + [np.zeros((2, 1), dtype=np.int64), np.zeros((2, 1)), np.zeros((2, 1))]
    fv = consolidated_fair_value(
        *args,
        5 * S,
        method="amm",
        stale_after_ms=3_000,
        latency_half_life_ms=1_000,
        amm_price=np.array([3000.5, 2999.0]),
        amm_ts_ns=np.array([4 * S, 1 * S]),
    )
    assert fv.price[0] == 3000.5 and np.isnan(fv.price[1])


def test_estimator_groups_instruments_across_venues_and_drops_the_stale_one():
    markets = [market(venue="sim_a"), market("ETH/USDT", "sim_a"), market(venue="sim_b")]
    state = MarketState(markets, [5, 5, 5], [100, 100, 100])
    layout = InstrumentLayout.of(markets)
    assert layout.instruments == (("BTC", "USDT"), ("ETH", "USDT"))
    assert layout.slots.tolist() == [[0, 2], [1, -1]]
    est = FairValueEstimator(FairValueParams(stale_after_ms=1_000), layout, markets)
    state.update_top(0, 600_000, 600_010, 10 * S, bid_lots=1, ask_lots=1)  # 60000.5
    state.update_top(2, 600_100, 600_110, 10 * S, bid_lots=3, ask_lots=1)  # micro 60010.75
    state.update_top(1, 30_000, 30_002, 10 * S, bid_lots=2, ask_lots=2)
    fv = est.values(state, 10 * S)
    assert fv.price[0] == pytest.approx((60000.5 * 2 + 60010.75 * 4) / 6)
    assert fv.price[1] == pytest.approx(3000.1)
    fv = est.values(state, 11 * S + 1)  # everything 1.000000001 s old
    assert np.isnan(fv.price).all()
    state.update_top(2, 600_100, 600_110, 11 * S, bid_lots=3, ask_lots=1)
    assert est.values(state, 11 * S + 1).price[0] == pytest.approx(60010.75)


def test_estimator_reference_venue_and_overrides():
    markets = [market(venue="sim_a", taker_fee_bps=5), market(venue="sim_b", taker_fee_bps=5)]
    state = MarketState(markets, [5, 5], [100, 100])
    params = FairValueParams(
        method="reference", reference_venue="sim_b", venues={"sim_b": {"fee_bps": 0, "latency_ms": 50}}
    )
    est = FairValueEstimator(params, InstrumentLayout.of(markets), markets)
    state.update_top(0, 600_000, 600_010, S, 1, 1)
    state.update_top(1, 600_100, 600_110, S, 1, 1)
    assert est.values(state, S).price[0] == pytest.approx(60010.5)  # fee override 0 on sim_b


def test_reference_method_needs_a_venue():
    with pytest.raises(ValidationError, match="reference_venue"):
        FairValueParams(method="reference")
