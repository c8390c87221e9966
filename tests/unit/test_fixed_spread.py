import numpy as np

from strategies.fixed_spread import fixed_spread_quotes


def quotes(mid, best_bid, best_ask, q, **kw):
    params = dict(bid_spread_bps=10.0, ask_spread_bps=10.0, levels=2, level_spacing_bps=5.0, skew_bps=20.0)
    params.update(kw)
    n = len(mid)
    return fixed_spread_quotes(
        np.array(mid, dtype=float),
        np.full(n, 0.01),
        np.array(best_bid, dtype=np.int64),
        np.array(best_ask, dtype=np.int64),
        np.array(q, dtype=float),
        np.full(n, 7, dtype=np.int64),
        **params,
    )


def test_flat_inventory_quotes_symmetric_levels_on_the_grid():
    t = quotes([100.0], [9990], [10010], [0.0])
    # 100 * (1 - 10bp) = 99.90 exactly; level 2 at 15 bp = 99.85; asks 100.10 and 100.15
    assert t.bid_price_ticks.tolist() == [[9990, 9985]]
    assert t.ask_price_ticks.tolist() == [[10010, 10015]]
    assert t.bid_size_lots.tolist() == [[7, 7]] and t.ask_size_lots.tolist() == [[7, 7]]


def test_long_inventory_skews_down_and_full_inventory_stops_bids():
    t = quotes([100.0, 100.0], [9990, 9990], [10010, 10010], [0.5, 1.0])
    # reservation = 100 * (1 - 20bp * 0.5) = 99.90 -> bid 99.80 (floor), ask 100.0 (ceil)
    assert t.bid_price_ticks[0].tolist() == [9980, 9975]
    assert t.ask_price_ticks[0].tolist() == [10000, 10005]
    assert t.bid_size_lots[1].tolist() == [0, 0] and t.ask_size_lots[1].tolist() == [7, 7]


def test_post_only_clamp_and_nan_mid_quote_nothing_for_that_market_only():
    t = quotes([100.0, float("nan")], [9999, 0], [9995, 0], [0.0, 0.0])
    assert t.bid_price_ticks[0].max() <= 9995 - 1
    assert t.ask_price_ticks[0].min() >= 9999 + 1
    assert t.bid_size_lots[1].sum() == 0 and t.ask_size_lots[1].sum() == 0
    assert t.bid_size_lots[0].sum() == 14
