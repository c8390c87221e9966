import pytest

from bot.core.domain import Order, OrderState, Side
from bot.kernel.new_order import NewOrder
from bot.kernel.order_diff import RefreshPolicy, diff_orders
from bot.kernel.targets import QuoteTargets
from tests.kit.stubs import order, request

POLICY = RefreshPolicy(refresh_tolerance_ticks=2, size_tolerance=0.5, max_order_age_ns=60 * 10**9)


def live(cid: str, side: Side, price: int, size: int, created_ns: int = 0, state=OrderState.OPEN) -> Order:
    return order(request(cid, side=side, price_ticks=price, size_lots=size), state=state, ts_ns=created_ns)


def test_orders_within_tolerance_are_kept():
    orders = [live("b", Side.BUY, 100, 10), live("a", Side.SELL, 110, 10)]
    targets = QuoteTargets.one_market(bids=[(102, 10)], asks=[(109, 12)])
    d = diff_orders(orders, targets, POLICY, now_ns=1)
    assert [o.client_order_id for o in d.keep] == ["b", "a"]
    assert d.cancel == () and d.place == ()


def test_skew_beyond_tolerance_moves_both_sides():
    orders = [live("b", Side.BUY, 100, 10), live("a", Side.SELL, 110, 10)]
    targets = QuoteTargets.one_market(bids=[(97, 10)], asks=[(107, 10)])
    d = diff_orders(orders, targets, POLICY, now_ns=1)
    assert d.keep == ()
    assert sorted(o.client_order_id for o in d.cancel) == ["a", "b"]
    assert d.place == (NewOrder(Side.BUY, 97, 10), NewOrder(Side.SELL, 107, 10))


def test_size_change_and_age_force_replacement():
    orders = [live("small", Side.BUY, 100, 4), live("old", Side.SELL, 110, 10, created_ns=0)]
    targets = QuoteTargets.one_market(bids=[(100, 10)], asks=[(110, 10)])
    d = diff_orders(orders, targets, POLICY, now_ns=60 * 10**9)
    assert {o.client_order_id for o in d.cancel} == {"small", "old"}
    assert len(d.place) == 2


def test_each_live_order_matches_one_target_and_closest_wins():
    orders = [live("far", Side.BUY, 98, 10), live("near", Side.BUY, 100, 10)]
    targets = QuoteTargets.one_market(bids=[(100, 10)])
    d = diff_orders(orders, targets, POLICY, now_ns=1)
    assert [o.client_order_id for o in d.keep] == ["near"]
    assert [o.client_order_id for o in d.cancel] == ["far"]


def test_pending_cancel_is_neither_kept_nor_cancelled_twice_and_empty_targets_cancel_all():
    orders = [live("pc", Side.BUY, 100, 10, state=OrderState.PENDING_CANCEL), live("o", Side.SELL, 110, 10)]
    d = diff_orders(orders, QuoteTargets.one_market(), POLICY, now_ns=1)
    assert [o.client_order_id for o in d.cancel] == ["o"]
    d2 = diff_orders(orders, QuoteTargets.one_market(bids=[(100, 10)]), POLICY, now_ns=1)
    assert d2.place == (NewOrder(Side.BUY, 100, 10),)


def test_levels_of_size_zero_are_not_quoted_and_targets_are_one_market():
    orders = [live("b", Side.BUY, 100, 10)]
    # a two-level ladder whose second bid and first ask are empty: only the other two count
    targets = QuoteTargets.one_market(bids=[(100, 10), (99, 0)], asks=[(110, 0), (111, 10)])
    d = diff_orders(orders, targets, POLICY, now_ns=1)
    assert [o.client_order_id for o in d.keep] == ["b"]
    assert d.place == (NewOrder(Side.SELL, 111, 10),)
    with pytest.raises(ValueError, match="one market"):
        diff_orders(orders, QuoteTargets.empty(2, 1), POLICY, now_ns=1)


def test_a_market_row_is_a_copy_the_strategys_next_call_cannot_change():
    # the vectorized core returns views of its workspace: the engine copies a due market's row
    targets = QuoteTargets.empty(2, 2)
    targets.bid_price_ticks[1] = [100, 99]
    targets.bid_size_lots[1] = [5, 0]
    targets.ask_price_ticks[1] = [102, 103]
    targets.ask_size_lots[1] = [5, 7]
    row = targets.market(1)
    targets.bid_price_ticks[1, 0] = 50
    assert row.n_markets == 1
    assert row.levels() == [(Side.BUY, 100, 5), (Side.SELL, 102, 5), (Side.SELL, 103, 7)]
