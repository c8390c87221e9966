"""The store on a real PostgreSQL (tests/db/conftest.py starts it), through psycopg 3 and psycopg2:
64-bit values, orders and their events, fills stored once, the schema and its migration."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from bot.core.domain import Order, OrderState, Side
from bot.kernel.migrations.baseline import schema
from bot.kernel.store import Store
from bot.kernel.store_rows import PnlSnapshotRow
from tests.db.schema_checks import assert_schema_is_the_models
from tests.kit import stubs

MARKET = stubs.market()
TS = 1796547691768956168  # ns since the epoch: the value that overflowed INTEGER (#18)
BIG_TICKS = 3_000_000_000_000  # prices up to 1e12 ticks pass the config checks


def test_orders_and_their_events_keep_64_bit_values(pg_url):
    store = Store(pg_url)
    order = Order(stubs.request("t1-7", side=Side.SELL, price_ticks=BIG_TICKS, size_lots=2**40))
    order.created_ns = order.updated_ns = TS
    store.record_new_order(order, MARKET, seq=2**33)
    order.transition(OrderState.OPEN, TS + 1)
    store.record_order_state(order)
    rows = [(o.client_order_id, o.seq, o.price_ticks, o.size_lots, o.state, o.created_ns, o.updated_ns)
            for o in store.open_orders("va")]  # fmt: skip
    assert rows == [("t1-7", 2**33, BIG_TICKS, 2**40, "open", TS, TS + 1)]
    assert [(e.state, e.ts_ns) for e in store.order_events("t1-7")] == [("pending_new", TS), ("open", TS + 1)]
    assert store.max_order_seq() == 2**33
    store.snapshot_pnl([PnlSnapshotRow(market="va:BTC/USDT", ts_ns=TS, position_base="0", cash_quote="0",
                                       fees_quote="0", mid="1", pnl_quote="0")])  # fmt: skip
    store.record_event("start", TS, instance="t1")
    assert [(e.kind, e.ts_ns) for e in store.events()] == [("start", TS)]
    assert store.latest_pnl()["va:BTC/USDT"].ts_ns == TS
    store.close()


def test_a_fill_reported_twice_is_stored_and_counted_once(pg_url):
    """psycopg 3 reports rowcount -1 for an INSERT .. RETURNING: a duplicate must still be False."""
    store = Store(pg_url)

    def fill(trade_id: str, lots: int):
        return stubs.fill("t1-1", price_ticks=600_000, size_lots=lots, trade_id=trade_id, ts_ns=TS)

    assert store.record_fill(fill("tr1", 4), MARKET, 60_000.0, Decimal("60000.0")) is True
    assert store.record_fill(fill("tr1", 4), MARKET) is False
    assert store.record_fill(fill("tr1", 9), MARKET) is False  # same identity, other numbers
    assert store.record_fill(fill("tr2", 1), MARKET) is True
    rows = [(f.venue_trade_id, f.size_lots, f.size, f.exchange_ts_ns, f.fair_at_fill, f.mid_at_fill)
            for f in store.fills("va")]  # fmt: skip
    assert rows == [("tr1", 4, "0.004", TS, 60_000.0, "60000.0"), ("tr2", 1, "0.001", TS, None, None)]
    assert store.fill_keys_since("va", TS) == {("BTC/USDT", "tr1"), ("BTC/USDT", "tr2")}
    store.close()


def test_a_new_database_gets_the_models_schema_with_bigint_everywhere(pg_url):
    store = Store(pg_url)
    assert_schema_is_the_models(store.engine)
    with store.engine.connect() as conn:
        narrow = conn.execute(
            sa.text(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
                "'public' AND data_type IN ('integer', 'smallint')"
            )
        ).all()
    assert narrow == []
    store.close()


def test_a_postgresql_store_of_the_previous_version_is_migrated(postgres, pg_database):
    """The previous version's create_all: INTEGER columns and SERIAL ids (mid_series.ts_ns was
    already BIGINT); its rows kept, the columns and the id sequences widened."""
    old = sa.MetaData()
    for table in schema().sorted_tables:
        for column in table.to_metadata(old).columns:
            if isinstance(column.type, sa.BigInteger) and (table.name, column.name) != (
                "mid_series",
                "ts_ns",
            ):
                column.type = sa.Integer()
    url = postgres.url("psycopg", pg_database)
    engine = sa.create_engine(url)
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(old.tables["events"].insert(), {"ts_ns": 7, "kind": "start", "detail": "{}"})
        conn.execute(sa.text("SELECT setval('events_id_seq', 2147483646)"))
        conn.execute(old.tables["events"].insert(), {"ts_ns": 8, "kind": "stop", "detail": "{}"})
    engine.dispose()
    store = Store(url)
    assert_schema_is_the_models(store.engine)
    store.record_event("start", TS)  # id 2**31 and a ns timestamp: both overflowed before
    assert [(e.id, e.kind, e.ts_ns) for e in store.events()] == [
        (1, "start", 7),
        (2147483647, "stop", 8),
        (2147483648, "start", TS),
    ]
    store.close()


def test_two_instances_store_their_own_fill_of_the_same_trade_id(pg_url):
    """Two bots, two accounts, venues of the same name: trade ids are per account, so each bot's
    fill is its own; each still refuses its own duplicate."""
    a, b = Store(pg_url, "a"), Store(pg_url, "b")
    fill = stubs.fill("a-1", price_ticks=600_000, size_lots=3, trade_id="tr1", ts_ns=TS)
    other = stubs.fill("b-1", price_ticks=600_100, size_lots=5, trade_id="tr1", ts_ns=TS + 1)
    assert (a.record_fill(fill, MARKET), b.record_fill(other, MARKET)) == (True, True)
    assert (a.record_fill(fill, MARKET), b.record_fill(other, MARKET)) == (False, False)
    assert [(f.client_order_id, f.size_lots) for f in a.fills("va")] == [("a-1", 3)]  # each its own
    assert [(f.client_order_id, f.size_lots) for f in b.fills("va")] == [("b-1", 5)]
    everything = Store(pg_url)
    rows = [(f.instance_id, f.client_order_id, f.venue_trade_id, f.size_lots) for f in everything.fills("va")]
    assert rows == [("a", "a-1", "tr1", 3), ("b", "b-1", "tr1", 5)]
    assert everything.instance_ids() == ["a", "b"]
    everything.close()
    a.close()
    b.close()
