"""Multi-venue market making: one reservation from the total inventory, limits, balances, STP."""

from decimal import Decimal

import numpy as np

from bot.domain import Market
from bot.market_state import MarketState
from strategies.multi_venue import MultiVenueParams, MultiVenueStrategy

S = 1_000_000_000


def _market(venue: str, symbol: str = "BTC/USDT") -> Market:
    base, quote = symbol.split("/")
    return Market(venue, symbol, base, quote, Decimal("0.01"), Decimal("0.001"))


def _setup(**params):
    markets = [_market("sim_a"), _market("sim_b")]
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
