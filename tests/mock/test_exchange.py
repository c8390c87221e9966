from decimal import Decimal as D

import pytest

from bot.core.domain import Balance, Market, OrderState, Side
from bot.core.events import BalanceUpdate, PublicTrade
from connectors.base import InsufficientBalance, OrderNotFound, OrderRejected, PostOnlyWouldCross
from connectors.mock.exchange import MockExchange
from connectors.mock.orders import OrderType

SYM = "BTC/USDT"
P50000 = 5_000_000  # 50000.00 in 0.01 ticks


def _exchange(maker_bps="2", taker_bps="5", min_notional="0", history_size=10_000):
    market = Market(
        "mock", SYM, "BTC", "USDT", D("0.01"), D("0.001"), D(min_notional), D(maker_bps), D(taker_bps)
    )
    exchange = MockExchange("mock", [market], history_size=history_size)
    exchange.open_account("acct", {"USDT": D("10000"), "BTC": D("1")})
    events: list = []
    exchange.add_listener(lambda account, event: events.append((account, event)))
    return exchange, events


def _bal(exchange, asset):
    return exchange.balances("acct")[asset]


def test_resting_buy_locks_notional_plus_worst_fee_then_partial_fill_and_cancel_release_exactly():
    exchange, events = _exchange()
    ack = exchange.place_order(
        "acct", SYM, "b1", Side.BUY, 100, 1, price_ticks=P50000, order_type=OrderType.LIMIT_MAKER
    )
    assert ack.state is OrderState.OPEN
    # 0.1 BTC at 50000 = 5000 USDT, plus the worst fee (taker 5 bps) = 2.5
    assert _bal(exchange, "USDT") == Balance("USDT", D("4997.5"), D("5002.5"))

    assert exchange.background_take(SYM, Side.SELL, 40, 2) == 40
    # 0.04 BTC filled as maker: notional 2000, fee 2 bps = 0.4; 2001.0 of the lock is used
    assert _bal(exchange, "USDT") == Balance("USDT", D("4998.1"), D("3001.5"))
    assert _bal(exchange, "BTC") == Balance("BTC", D("1.04"), D("0"))
    assert exchange.fetch_order("acct", SYM, "b1").state is OrderState.PARTIALLY_FILLED
    assert exchange.fetch_order("acct", SYM, "b1").filled_lots == 40

    cancelled = exchange.cancel_order("acct", SYM, "b1", 3)
    assert (cancelled.state, cancelled.filled_lots, cancelled.exchange_ts_ns) == (OrderState.CANCELLED, 40, 3)
    assert _bal(exchange, "USDT") == Balance("USDT", D("7999.6"), D("0"))
    assert exchange.open_orders("acct") == []
    [fill] = exchange.fills("acct")
    assert (fill.price_ticks, fill.size_lots, fill.fee, fill.fee_asset, fill.is_maker) == (
        P50000,
        40,
        D("0.4"),
        "USDT",
        True,
    )

    ours = [(type(e).__name__, getattr(e, "state", None)) for a, e in events if a == "acct"]
    assert ours == [
        ("OrderUpdate", OrderState.OPEN),
        ("BalanceUpdate", None),
        ("FillEvent", None),
        ("OrderUpdate", OrderState.PARTIALLY_FILLED),
        ("BalanceUpdate", None),
        ("OrderUpdate", OrderState.CANCELLED),
        ("BalanceUpdate", None),
    ]
    public = [e for a, e in events if a is None]
    assert public == [PublicTrade("mock", SYM, Side.SELL, P50000, 40, 2, 2)]


def test_sell_fully_filled_locks_base_and_pays_quote_fee():
    exchange, events = _exchange()
    exchange.place_order(
        "acct", SYM, "s1", Side.SELL, 30, 1, price_ticks=5_001_000, order_type=OrderType.LIMIT_MAKER
    )
    assert _bal(exchange, "BTC") == Balance("BTC", D("0.97"), D("0.03"))
    exchange.background_take(SYM, Side.BUY, 50, 2)
    # 0.03 * 50010 = 1500.3, maker fee 2 bps = 0.30006
    assert _bal(exchange, "BTC") == Balance("BTC", D("0.97"), D("0"))
    assert _bal(exchange, "USDT") == Balance("USDT", D("10000") + D("1500.3") - D("0.30006"), D("0"))
    assert exchange.fetch_order("acct", SYM, "s1").state is OrderState.FILLED
    balance_update = [e for a, e in events if isinstance(e, BalanceUpdate)][-1]
    assert set(balance_update.balances) == {"BTC", "USDT"}


def test_negative_maker_fee_is_a_rebate_and_buys_lock_the_taker_fee():
    exchange, _ = _exchange(maker_bps="-1", taker_bps="4")
    exchange.place_order("acct", SYM, "b1", Side.BUY, 40, 1, price_ticks=P50000)
    assert _bal(exchange, "USDT") == Balance("USDT", D("10000") - D("2000.8"), D("2000.8"))
    exchange.background_take(SYM, Side.SELL, 40, 2)
    assert _bal(exchange, "USDT") == Balance("USDT", D("8000.2"), D("0"))
    assert exchange.fills("acct")[0].fee == D("-0.2")


def test_taker_buy_gets_price_improvement_and_releases_the_unused_lock():
    exchange, _ = _exchange()
    exchange.background_place(SYM, Side.SELL, 4_999_000, 10, 1)
    exchange.background_place(SYM, Side.SELL, P50000, 10, 1)
    ack = exchange.place_order("acct", SYM, "t1", Side.BUY, 15, 2, price_ticks=5_001_000)
    assert (ack.state, ack.filled_lots) == (OrderState.FILLED, 15)
    # 0.01*49990 + 0.005*50000 = 749.9, taker fee 5 bps = 0.37495
    assert _bal(exchange, "USDT") == Balance("USDT", D("9249.72505"), D("0"))
    assert _bal(exchange, "BTC") == Balance("BTC", D("1.015"), D("0"))
    fills = exchange.fills("acct")
    assert [(f.venue_trade_id, f.price_ticks, f.size_lots, f.is_maker) for f in fills] == [
        ("1", 4_999_000, 10, False),
        ("2", P50000, 5, False),
    ]
    assert exchange.depth(SYM, 5) == ((), ((P50000, 5),))


def test_insufficient_balance_is_rejected_and_changes_nothing():
    exchange, events = _exchange()
    before = exchange.balances("acct")
    with pytest.raises(InsufficientBalance, match="USDT"):
        # 0.2 BTC at 50000 = 10000 + 5 fee lock > 10000 free
        exchange.place_order("acct", SYM, "big", Side.BUY, 200, 1, price_ticks=P50000)
    with pytest.raises(InsufficientBalance, match="BTC"):
        exchange.place_order("acct", SYM, "big", Side.SELL, 1001, 1, price_ticks=P50000)
    assert exchange.balances("acct") == before
    assert exchange.open_orders("acct") == [] and events == []
    assert exchange.depth(SYM, 5) == ((), ())


def test_post_only_crossing_is_rejected_with_the_venue_error():
    exchange, _ = _exchange()
    exchange.background_place(SYM, Side.SELL, P50000, 10, 1)
    with pytest.raises(PostOnlyWouldCross):
        exchange.place_order(
            "acct", SYM, "p", Side.BUY, 1, 2, price_ticks=P50000, order_type=OrderType.LIMIT_MAKER
        )
    assert _bal(exchange, "USDT") == Balance("USDT", D("10000"), D("0"))


def test_duplicate_live_client_id_rejected_but_reusable_once_closed():
    exchange, _ = _exchange()
    exchange.place_order("acct", SYM, "c", Side.BUY, 1, 1, price_ticks=P50000)
    with pytest.raises(OrderRejected, match="duplicate"):
        exchange.place_order("acct", SYM, "c", Side.BUY, 1, 1, price_ticks=P50000)
    exchange.cancel_order("acct", SYM, "c", 2)
    with pytest.raises(OrderNotFound):
        exchange.cancel_order("acct", SYM, "c", 3)
    assert exchange.place_order("acct", SYM, "c", Side.BUY, 1, 4, price_ticks=P50000).state is OrderState.OPEN


def test_bad_orders_are_rejected_naming_the_problem():
    exchange, _ = _exchange(min_notional="100")
    with pytest.raises(OrderRejected, match=r"notional 50\.00000 below min_notional 100"):
        exchange.place_order("acct", SYM, "a", Side.BUY, 1, 1, price_ticks=P50000)
    assert exchange.place_order("acct", SYM, "a", Side.BUY, 2, 1, price_ticks=P50000).state is OrderState.OPEN
    with pytest.raises(OrderRejected, match="unknown symbol"):
        exchange.place_order("acct", "ETH/USDT", "a", Side.BUY, 1, 1, price_ticks=1)
    with pytest.raises(OrderRejected, match="size_lots"):
        exchange.place_order("acct", SYM, "b", Side.BUY, 0, 1, price_ticks=P50000)


def test_market_buy_sweeps_and_ioc_remainder_expires():
    exchange, _ = _exchange()
    exchange.background_place(SYM, Side.SELL, P50000, 3, 1)
    exchange.background_place(SYM, Side.SELL, 5_001_000, 3, 1)
    market = exchange.place_order("acct", SYM, "m", Side.BUY, 4, 2, order_type=OrderType.MARKET)
    assert (market.state, market.filled_lots, market.price_ticks) == (OrderState.FILLED, 4, 0)
    ioc = exchange.place_order(
        "acct", SYM, "i", Side.BUY, 5, 3, price_ticks=5_001_000, order_type=OrderType.IOC
    )
    assert (ioc.state, ioc.filled_lots) == (OrderState.EXPIRED, 2)
    # 0.003*50000 + 0.003*50010 = 300.03, taker 5 bps = 0.150015
    assert _bal(exchange, "USDT") == Balance("USDT", D("10000") - D("300.03") - D("0.150015"), D("0"))
    assert _bal(exchange, "BTC") == Balance("BTC", D("1.006"), D("0"))


def test_own_crossing_order_expires_our_resting_one_instead_of_self_trading():
    exchange, _ = _exchange()
    exchange.place_order("acct", SYM, "ask", Side.SELL, 5, 1, price_ticks=P50000)
    exchange.place_order("acct", SYM, "bid", Side.BUY, 5, 2, price_ticks=P50000)
    assert exchange.fetch_order("acct", SYM, "ask").state is OrderState.EXPIRED
    assert exchange.fetch_order("acct", SYM, "bid").state is OrderState.OPEN
    assert exchange.fills("acct") == []
    assert _bal(exchange, "BTC") == Balance("BTC", D("1"), D("0"))


def test_history_of_closed_orders_and_fills_is_bounded():
    exchange, _ = _exchange(history_size=3)
    for i in range(5):
        exchange.place_order("acct", SYM, f"o{i}", Side.SELL, 1, i, price_ticks=P50000)
        exchange.background_take(SYM, Side.BUY, 1, i)
    assert [f.client_order_id for f in exchange.fills("acct")] == ["o2", "o3", "o4"]
    assert [f.venue_trade_id for f in exchange.fills("acct", since_ns=4)] == ["5"]
    with pytest.raises(OrderNotFound):
        exchange.fetch_order("acct", SYM, "o1")
    assert exchange.fetch_order("acct", SYM, "o2").state is OrderState.FILLED


def test_publish_books_only_when_changed():
    exchange, events = _exchange()
    exchange.background_place(SYM, Side.BUY, P50000, 2, 1)
    assert exchange.publish_books(5, depth=10) == 1
    assert exchange.publish_books(6, depth=10) == 0
    exchange.background_place(SYM, Side.SELL, 5_000_100, 3, 7)
    assert exchange.publish_books(8, depth=10) == 1
    snapshots = [e for _, e in events]
    assert [(s.bids, s.asks, s.exchange_ts_ns) for s in snapshots] == [
        (((P50000, 2),), (), 5),
        (((P50000, 2),), ((5_000_100, 3),), 8),
    ]


def test_exchange_time_never_runs_backwards():
    exchange, _ = _exchange()
    exchange.place_order("acct", SYM, "a", Side.BUY, 1, 100, price_ticks=P50000)
    update = exchange.cancel_order("acct", SYM, "a", 50)
    assert update.exchange_ts_ns == 100
