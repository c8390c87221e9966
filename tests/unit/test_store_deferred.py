"""Deferred durability (backtests): rows are written in batches, and every read, the store's own
or through `Store.engine`, sees all that was recorded; the database ends up with the rows an
immediate store writes, in the same order."""

import sqlite3

import pytest
from sqlmodel import Session, col, select

from bot.core.clock import FixedClock
from bot.core.domain import Order, OrderState, Side
from bot.kernel.market_state import MarketState
from bot.kernel.mid_series import MidRow, MidSeriesRecorder, load_mids
from bot.kernel.store import Store
from bot.kernel.store_rows import OrderEventRow, OrderRow
from tests.kit import stubs
from tests.unit.test_store import MARKET, fill


def record_session(store: Store) -> None:
    """Two orders through their lives, fills (one reported twice), interleaved."""
    a = Order(stubs.request("mm1-1", side=Side.BUY, price_ticks=2999900, size_lots=4, venue="v"))
    b = Order(stubs.request("mm1-2", side=Side.SELL, price_ticks=3000100, size_lots=4, venue="v"))
    store.record_new_order(a, MARKET, seq=1)
    a.transition(OrderState.OPEN, 5)
    store.record_order_state(a)
    store.record_new_order(b, MARKET, seq=2)
    assert store.record_fill(fill("t1"), MARKET) is True
    a.transition(OrderState.PARTIALLY_FILLED, 6)
    store.record_order_state(a)
    assert store.record_fill(fill("t1", lots=9), MARKET) is False  # the venue reported it again
    b.transition(OrderState.OPEN, 7)
    store.record_order_state(b)
    a.transition(OrderState.CANCELLED, 9, reason="requote")
    store.record_order_state(a)
    assert store.record_fill(fill("t2"), MARKET) is True


def table_rows(url: str) -> tuple[list[tuple], list[tuple], list[tuple]]:
    reader = Store(url)
    with Session(reader.engine) as s:
        orders = [
            (r.client_order_id, r.seq, r.state, r.filled_lots, r.updated_ns, r.reason)
            for r in s.exec(select(OrderRow).order_by(col(OrderRow.seq)))
        ]
        events = [
            (r.id, r.client_order_id, r.state, r.ts_ns)
            for r in s.exec(select(OrderEventRow).order_by(col(OrderEventRow.id)))
        ]
    fills = [(r.id, r.venue_trade_id, r.size_lots) for r in reader.fills()]
    reader.close()
    return orders, events, fills


def test_a_deferred_store_writes_what_an_immediate_one_does(tmp_path):
    urls = {d: f"sqlite:///{tmp_path}/{d}.sqlite" for d in ("immediate", "deferred")}
    for durability, url in urls.items():
        store = Store(url, "mm1", durability=durability)
        record_session(store)
        store.close()
    deferred = table_rows(urls["deferred"])
    assert deferred == table_rows(urls["immediate"])
    orders, events, fills = deferred
    assert [(o[0], o[2]) for o in orders] == [("mm1-1", "cancelled"), ("mm1-2", "open")]
    assert len(events) == 6 and [f[1] for f in fills] == ["t1", "t2"]


def test_deferred_rows_are_held_until_a_read_or_close(tmp_path):
    url = f"sqlite:///{tmp_path}/s.sqlite"
    store = Store(url, "mm1", durability="deferred")
    record_session(store)
    outside = Store(url)  # another connection: sees only what was written
    assert outside.fills() == []
    # the first fill read the stored fills (duplicates), so the rows recorded before it went in
    assert [(r.client_order_id, r.state) for r in outside.open_orders()] == [
        ("mm1-1", "open"),
        ("mm1-2", "pending_new"),
    ]
    # the store's own reads write what it holds first
    assert [r.client_order_id for r in store.open_orders("v")] == ["mm1-2"]
    assert [r.venue_trade_id for r in outside.fills()] == ["t1", "t2"]
    assert [r.client_order_id for r in outside.open_orders()] == ["mm1-2"]
    # so does anyone reading through its engine (reports, housekeeping)
    b = Order(stubs.request("mm1-3", side=Side.SELL, price_ticks=3000200, size_lots=4, venue="v"))
    store.record_new_order(b, MARKET, seq=3)
    with Session(store.engine) as s:
        assert len(s.exec(select(OrderRow)).all()) == 3
    outside.close()
    store.close()


def test_deferred_updates_of_orders_it_never_held(tmp_path):
    url = f"sqlite:///{tmp_path}/s.sqlite"
    earlier = Store(url, "mm1")  # a previous run wrote this order
    old = Order(stubs.request("mm1-1", side=Side.BUY, price_ticks=2999900, size_lots=4, venue="v"))
    earlier.record_new_order(old, MARKET, seq=1)
    assert earlier.record_fill(fill("t1"), MARKET) is True
    earlier.close()
    store = Store(url, "mm1", durability="deferred")
    old.transition(OrderState.CANCELLED, 9)
    store.record_order_state(old)  # written at once: its row is in the database
    assert store.get_order("mm1-1").state == "cancelled"
    assert store.record_fill(fill("t1"), MARKET) is False  # stored by the earlier run
    ghost = Order(stubs.request("mm1-9", side=Side.BUY, price_ticks=2999900, size_lots=4, venue="v"))
    ghost.transition(OrderState.CANCELLED, 9)
    with pytest.raises(KeyError, match="mm1-9"):
        store.record_order_state(ghost)
    store.close()


def test_the_mid_series_is_held_too(tmp_path):
    url = f"sqlite:///{tmp_path}/s.sqlite"
    store = Store(url, "mm1", durability="deferred")
    state = MarketState([MARKET], [1], [10])
    clock = FixedClock(0)
    fair = {0: 30000.0}
    recorder = MidSeriesRecorder(store, state, clock, fair.__getitem__)
    recorder.observe(0, 0)
    recorder.close()
    outside = Store(url)
    with Session(outside.engine) as s:
        assert s.exec(select(MidRow)).all() == []
    assert load_mids(store, 0) == {MARKET.key: [(0, 30000.0)]}
    outside.close()
    store.close()


def test_held_rows_reach_the_database_exactly_as_through_sqlalchemy(tmp_path):
    """The buffer hands its rows to the driver as tuples (bot.kernel.store_buffer._DriverRows):
    every column of every row as an immediate store writes it through SQLAlchemy, the fills'
    flags and the mids' floats included, and that path served every statement held."""
    inserts, plans = {}, {}
    for durability in ("immediate", "deferred"):
        path = tmp_path / f"{durability}.sqlite"
        store = Store(f"sqlite:///{path}", "mm1", durability=durability)
        record_session(store)
        state = MarketState([MARKET], [1], [10])
        recorder = MidSeriesRecorder(store, state, FixedClock(0), {0: 30000.25}.__getitem__)
        recorder.observe(0, 0)
        recorder.close()
        store.close()
        plans[durability] = dict(store._buffer._plans) if store._buffer is not None else {}
        with sqlite3.connect(path) as conn:
            inserts[durability] = [line for line in conn.iterdump() if line.startswith("INSERT")]
    assert inserts["deferred"] == inserts["immediate"]
    assert any(line.startswith('INSERT INTO "mid_series"') for line in inserts["deferred"])
    assert len(plans["deferred"]) == 5 and None not in plans["deferred"].values()
