"""Multi-venue market making: one reservation from the total inventory, limits, balances, STP."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from bot.kernel.market_state import MarketState
from strategies.quoting.multi_venue import MultiVenueParams, MultiVenueStrategy
from tests.kit.stubs import market

S = 1_000_000_000


def _setup(**params):
    markets = [market(venue="sim_a", tick_size="0.01"), market(venue="sim_b", tick_size="0.01")]
    state = MarketState(markets, [5, 5], [100, 100])
    state.base_balance[:] = 10.0
    state.quote_balance[:] = 1e6
    p = MultiVenueParams(
        kind="multi_venue_mm",
        markets=["sim_a:BTC/USDT", "sim_b:BTC/USDT"],
        refresh_tolerance_ticks=0,
        **{"bid_spread_bps": 1, "ask_spread_bps": 1, **params},
    )
    return state, MultiVenueStrategy("mvm", p, np.array([0, 1]), state)


def test_crossed_consolidated_book_never_crosses_our_own_quotes():
    state, strat = _setup(local_anchor_weight=1.0)
    # sim_a trades rich (100.20 / 100.30), sim_b cheap (99.90 / 100.00): A's bid > B's ask
    state.update_top(0, 10_020, 10_030, S, 1, 1)
    state.update_top(1, 9_990, 10_000, S, 1, 1)
    t = strat.targets(state, S)
    # fair = (100.25 + 99.95) / 2 = 100.10. Anchored on its own book, A's bid would be
    # floor(100.25·0.9999 / 0.01) = 10024 and B's ask ceil(99.95·1.0001 / 0.01) = 9996: crossed.
    assert t.bid_price_ticks[:, 0].tolist() == [10_009, 9_994]
    assert t.ask_price_ticks[:, 0].tolist() == [10_027, 10_011]
    assert t.bid_price_ticks[:, 0].max() < t.ask_price_ticks[:, 0].min()
    assert t.bid_size_lots[:, 0].tolist() == [5, 5] and t.ask_size_lots[:, 0].tolist() == [5, 5]


def test_stp_margin_covers_the_refresh_tolerance():
    state, strat = _setup(local_anchor_weight=1.0)
    strat.params = strat.params.model_copy(update={"refresh_tolerance_ticks": 3})
    state.update_top(0, 10_020, 10_030, S, 1, 1)
    state.update_top(1, 9_990, 10_000, S, 1, 1)
    t = strat.targets(state, S)
    # live orders may sit 3 ticks from their targets: the gap between any bid and ask is > 6 ticks
    assert t.ask_price_ticks[:, 0].min() - t.bid_price_ticks[:, 0].max() > 6
    assert t.bid_price_ticks[0, 0] == 10_006 and t.ask_price_ticks[1, 0] == 10_014


def test_skew_follows_total_inventory_and_each_venue_limit_binds():
    state, strat = _setup(skew_bps=10)
    state.update_top(0, 9_990, 10_010, S, 1, 1)
    state.update_top(1, 9_990, 10_010, S, 1, 1)
    flat = strat.targets(state, S)
    state.position_lots[0] = 100  # long the whole limit on sim_a, flat on sim_b: q_total = 0.5
    t = strat.targets(state, S)
    # reservation 100 · (1 − 10bp · 0.5) = 99.95 on BOTH venues: ask ceil(99.95 · 1.0001 / 0.01)
    assert t.ask_price_ticks[:, 0].tolist() == [9_996, 9_996]
    assert flat.ask_price_ticks[:, 0].tolist() == [10_001, 10_001]
    # sim_a is at its own limit: no bid there; sim_b still bids
    assert t.bid_size_lots[:, 0].tolist() == [0, 5]


def test_sizes_respect_the_venue_balances():
    state, strat = _setup(levels=2)
    state.update_top(0, 9_999, 10_001, S, 1, 1)
    state.update_top(1, 9_999, 10_001, S, 1, 1)
    state.base_balance[:] = [0.007, 0.0009]  # 7 lots on sim_a, under one lot on sim_b
    state.quote_balance[:] = [1e6, 0.7]  # sim_b: 0.7 USDT buys 6 lots at ~99.98 · 0.001
    t = strat.targets(state, S)
    assert t.ask_size_lots.tolist() == [[5, 2], [0, 0]]
    assert t.bid_size_lots.tolist() == [[5, 5], [5, 2]]


def _as_quotes(
    fair: float, q_base: float, gamma: float, fee_bps: float, order_base: float = 0.005
) -> tuple[int, int]:
    """Avellaneda-Stoikov level 0 from the paper's formulas for orders of `order_base`, with the
    fallback estimates."""
    sigma = 2.0 / math.sqrt(365 * 86_400) * fair  # fallback_annual_vol 2.0, in price units
    kappa = 0.5 / (fair * 1e-4)  # fallback 0.5 per bp, per price unit
    variance = sigma**2 * 60.0  # horizon_s
    x = gamma * order_base  # risk aversion per order of 5 lots
    r = fair - q_base * gamma * variance
    h = x * variance / 2 + math.log(1 + x / kappa) / x + fair * fee_bps * 1e-4
    return math.floor((r - h) / 0.01 + 1e-9), math.ceil((r + h) / 0.01 - 1e-9)


def test_the_core_model_drives_the_quotes_from_the_total_inventory():
    markets = [
        market(venue="sim_a", tick_size="0.01"),
        market(venue="sim_b", tick_size="0.01", maker_fee_bps=2),
    ]
    state = MarketState(markets, [5, 5], [1000, 1000])
    state.base_balance[:] = 10.0
    state.quote_balance[:] = 1e6
    for slot in (0, 1):
        state.update_top(slot, 9_980, 10_020, S, 1, 1)  # wide: post-only never binds here

    def quotes(gamma: float) -> tuple[list[int], list[int]]:
        p = MultiVenueParams(
            kind="multi_venue_mm",
            markets=["sim_a:BTC/USDT", "sim_b:BTC/USDT"],
            refresh_tolerance_ticks=0,
            model="avellaneda",
            gamma=gamma,
            horizon_s=60,
            volatility={"fallback_annual_vol": 2.0},
        )
        t = MultiVenueStrategy("mvm", p, np.array([0, 1]), state).targets(state, S)
        assert t.bid_size_lots[:, 0].tolist() == [5, 5] and t.ask_size_lots[:, 0].tolist() == [5, 5]
        return t.bid_price_ticks[:, 0].tolist(), t.ask_price_ticks[:, 0].tolist()

    flat = quotes(2.0)
    state.position_lots[0] = 500  # 0.5 BTC long on sim_a only; sim_b is flat itself
    long_ = quotes(2.0)
    # r = 100 − q·γ·σ²·τ, h = xσ²τ/2 + ln(1 + x/κ)/x with x = γ·Δ (Δ = 0.005 BTC orders), sim_b's
    # 2 bp maker fee on top of its h
    expected = [_as_quotes(100.0, q, 2.0, fee) for q in (0.0, 0.5) for fee in (0.0, 2.0)]
    assert flat == ([expected[0][0], expected[1][0]], [expected[0][1], expected[1][1]])
    assert long_ == ([expected[2][0], expected[3][0]], [expected[2][1], expected[3][1]])
    assert flat == ([9_997, 9_995], [10_003, 10_005])
    assert long_ == ([9_990, 9_988], [9_995, 9_997])  # both venues skewed 7-8 ticks down
    # a lower risk aversion skews less: the model's parameters set the quotes
    assert quotes(0.5) == ([9_996, 9_994], [10_001, 10_003])
    assert _as_quotes(100.0, 0.5, 0.5, 0.0) == (9_996, 10_001)


def test_model_keys_are_checked_against_the_model():
    base = {"kind": "multi_venue_mm", "markets": ["sim_a:BTC/USDT"]}
    with pytest.raises(ValidationError, match='gamma: required when model = "avellaneda"'):
        MultiVenueParams(**base, model="avellaneda")
    with pytest.raises(ValidationError, match="bid_spread_bps and ask_spread_bps: required"):
        MultiVenueParams(**base, bid_spread_bps=2)
    with pytest.raises(ValidationError, match='skew_bps: only for model = "fixed_spread"'):
        MultiVenueParams(**base, model="glft", gamma=1, skew_bps=3)
