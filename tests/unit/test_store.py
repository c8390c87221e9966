from decimal import Decimal

from bot.core.domain import Fill, Order, OrderState, Side
from bot.kernel.store import Store
from tests.kit import stubs

MARKET = stubs.market(venue="v", tick_size="0.01")


def fill(trade_id: str, lots: int = 5) -> Fill:
    return stubs.fill(
        "mm1-1", price_ticks=3000000, size_lots=lots, fee="0.15", ts_ns=10, trade_id=trade_id,
        venue_order_id="o1", venue="v",
    )  # fmt: skip


def test_fills_are_stored_once_per_venue_symbol_trade_id(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.sqlite")
    assert store.record_fill(fill("t1"), MARKET) is True
    assert store.record_fill(fill("t1", lots=9), MARKET) is False
    assert store.record_fill(fill("t2"), MARKET) is True
    rows = store.fills()
    assert [(r.venue_trade_id, r.size, r.price, r.fee) for r in rows] == [
        ("t1", "0.005", "30000.00", "0.15"),
        ("t2", "0.005", "30000.00", "0.15"),
    ]


def test_every_order_state_change_is_an_event_row_and_open_orders_follow(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.sqlite")
    order = Order(stubs.request("mm1-1", side=Side.SELL, price_ticks=3000100, size_lots=4, venue="v"))
    store.record_new_order(order, MARKET, seq=1)
    order.transition(OrderState.OPEN, 5)
    store.record_order_state(order)
    assert [r.client_order_id for r in store.open_orders("v")] == ["mm1-1"]
    order.transition(OrderState.CANCELLED, 9, reason="requote")
    store.record_order_state(order)
    assert store.open_orders() == []
    assert [(e.state, e.ts_ns) for e in store.order_events("mm1-1")] == [
        ("pending_new", 0),
        ("open", 5),
        ("cancelled", 9),
    ]
    assert store.get_order("mm1-1").reason == "requote"
    assert store.max_order_seq() == 1


def test_balance_snapshots_first_and_latest_and_wal(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.sqlite")
    store.snapshot_balances("v", [stubs.balance("BTC", 1), stubs.balance("USDT", 5, locked=1)], 1, "start")
    store.snapshot_balances("v", [stubs.balance("BTC", "1.5")], 2, "final")
    assert store.balance_snapshot("v", "first")["USDT"].total == Decimal("6")
    assert store.balance_snapshot("v")["BTC"].free == Decimal("1.5")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
