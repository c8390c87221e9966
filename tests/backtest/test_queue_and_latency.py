"""The replay core on hand-built books: queue position, latency, no look-ahead, fees."""

import pytest

from connectors.replay.fast import ReplayParams, run_fast
from tests.backtest.helpers import FixedOrders
from tests.kit.replay_rows import ASK, BID, T0, book, depth, trade

LAT = 1_000_000  # 1 ms order latency
WAKE = 10**12  # one wake-up at the start only


def params(**kw):
    base = dict(order_latency_ns=(LAT,), wake_interval_ns=WAKE)
    base.update(kw)
    return ReplayParams(**base)


def fills_of(result):
    """(exch ts offset, side, price, lots, maker) per fill."""
    return [(int(f[0]) - T0, int(f[2]), int(f[3]), int(f[4]), int(f[5])) for f in result.fills]


def opening(t=0):
    # 10 lots bid at 100, 10 lots ask at 102: the book before our order arrives
    return [depth(t, BID, 100, 10), depth(t, ASK, 102, 10)]


def test_order_fills_only_after_the_volume_ahead_has_traded():
    rows = [
        *opening(),
        trade(2 * LAT, ASK, 100, 6),  # 10 ahead -> 4
        trade(3 * LAT, ASK, 100, 4),  # -> 0, nothing reaches us yet
        trade(4 * LAT, ASK, 100, 1),  # 1 of our 3
        trade(5 * LAT, ASK, 100, 5),  # the other 2
        trade(6 * LAT, ASK, 100, 5),  # we are done: no more fills
    ]
    result = run_fast(book(rows), FixedOrders([(BID, 100, 3)]), params())
    # the order was sent at the first local time (T0 + 1 µs feed latency) and arrived 1 ms later
    assert fills_of(result) == [(4 * LAT, BID, 100, 1, 1), (5 * LAT, BID, 100, 2, 1)]
    assert result.position_lots == 3
    assert result.counters["orders"] == 1 and result.counters["filled_orders"] == 1


def test_trades_at_other_prices_do_not_move_the_queue_and_a_trade_through_fills_its_size():
    rows = [
        *opening(),
        depth(2 * LAT, BID, 101, 5),
        trade(3 * LAT, ASK, 101, 5),  # better level traded: our queue at 100 unchanged
        depth(3 * LAT, BID, 101, 0),
        trade(4 * LAT, ASK, 100, 9),  # 10 ahead -> 1
        trade(5 * LAT, ASK, 99, 1),  # a sell of 1 printed below our bid: it would have met us first
        trade(6 * LAT, ASK, 98, 4),  # 4 more: the 2 lots we have left, not 4
    ]
    result = run_fast(book(rows), FixedOrders([(BID, 100, 3)]), params())
    assert fills_of(result) == [(5 * LAT, BID, 100, 1, 1), (6 * LAT, BID, 100, 2, 1)]


def test_one_print_fills_our_orders_in_price_time_priority_and_never_more_than_it_printed():
    rows = [
        *opening(),
        trade(2 * LAT, BID, 104, 3),  # through our asks at 102 and 103: the better one first
        trade(3 * LAT, ASK, 100, 11),  # 10 ahead of both our bids at 100, then our first one
        trade(4 * LAT, ASK, 100, 2),  # now our second one
    ]
    orders = [(ASK, 102, 2), (ASK, 103, 2), (BID, 100, 1), (BID, 100, 1)]
    result = run_fast(book(rows), FixedOrders(orders), params())
    assert fills_of(result) == [
        (2 * LAT, ASK, 102, 2, 1),
        (2 * LAT, ASK, 103, 1, 1),
        (3 * LAT, BID, 100, 1, 1),
        (4 * LAT, BID, 100, 1, 1),
    ]
    assert [int(f[1]) for f in result.fills[2:]] == [2, 3]  # ids from 0: bids filled in the order sent


def test_risk_averse_queue_moves_on_cancels_only_when_the_level_shrinks_below_it():
    rows = [
        *opening(),
        depth(2 * LAT, BID, 100, 14),  # 4 joined behind us
        depth(3 * LAT, BID, 100, 9),  # 5 cancelled: at most 9 can be ahead now
        trade(4 * LAT, ASK, 100, 7),  # 9 -> 2
        trade(5 * LAT, ASK, 100, 3),  # 1 reaches us
    ]
    result = run_fast(book(rows), FixedOrders([(BID, 100, 3)]), params())
    assert fills_of(result) == [(5 * LAT, BID, 100, 1, 1)]


def test_probabilistic_queue_credits_part_of_the_cancels_ahead():
    rows = [
        *opening(),
        depth(2 * LAT, BID, 100, 14),
        depth(3 * LAT, BID, 100, 9),
        trade(4 * LAT, ASK, 100, 7),
    ]
    # front 10, back 4, 5 cancelled; power 2: P(back) = 16/116, ahead = 10 - 5·100/116 = 5.69;
    # the 7 traded lots leave 1.31 for us: 1 lot
    result = run_fast(
        book(rows), FixedOrders([(BID, 100, 3)]), params(queue_model="probabilistic", queue_power=2.0)
    )
    assert fills_of(result) == [(4 * LAT, BID, 100, 1, 1)]
    risk_averse = run_fast(book(rows), FixedOrders([(BID, 100, 3)]), params())
    assert fills_of(risk_averse) == []


@pytest.mark.parametrize("offset, fills", [(-1, 0), (0, 0), (1, 1)])
def test_no_look_ahead_an_order_cannot_trade_before_it_arrives(offset, fills):
    sent = 1_000  # first local time: the opening rows' local stamp
    arrival = sent + LAT
    rows = [*opening(), trade(arrival + offset, ASK, 101, 50)]  # at our (empty) level 101
    result = run_fast(book(rows), FixedOrders([(BID, 101, 2)]), params())
    assert len(result.fills) == fills
    if fills:
        assert fills_of(result) == [(arrival + 1, BID, 101, 2, 1)]


def test_strategy_sees_rows_only_once_they_are_received():
    rows = [*opening(), depth(5_000, BID, 101, 3), depth(LAT, BID, 100, 0)]
    strategy = FixedOrders([])
    run_fast(book(rows, feed_latency_ns=10_000), strategy, params(wake_interval_ns=4_000))
    # wake-ups at local T0+10µs, +14µs, ...: the bid at 101 (exch +5µs) is seen from +15µs on
    seen = {t - T0: bid for t, bid, _, _ in strategy.seen}
    assert seen[10_000] == 100 and seen[14_000] == 100 and seen[18_000] == 101


def test_post_only_order_that_would_cross_is_rejected_and_fees_are_charged():
    rows = [*opening(), depth(LAT // 2, ASK, 101, 4), trade(3 * LAT, BID, 103, 2)]
    # our ask at 102 arrives after the 101 ask: fine; our bid at 101 would cross it: rejected;
    # our bid at 102 crosses nobody else's ask but our own: rejected too
    result = run_fast(
        book(rows),
        FixedOrders([(BID, 101, 1), (ASK, 102, 2), (BID, 102, 1)]),
        params(maker_fee_bps=10.0),
    )
    assert result.counters["rejects"] == 2
    assert fills_of(result) == [(3 * LAT, ASK, 102, 2, 1)]
    assert result.fees_ticklots == pytest.approx(102 * 2 * 10 / 1e4)
    assert result.cash_ticklots == 204 and result.position_lots == -2
