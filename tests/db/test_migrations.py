"""Alembic on SQLite: a store written by the previous version (create_all + add_missing_columns,
fixtures/store_before_alembic.sql) is migrated with its rows; a new store is created at the newest
revision; `mmbot db upgrade` does it alone."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import tomli_w

from bot.cli import main
from bot.kernel.control_store import ControlStore
from bot.kernel.lp_store import LpStore
from bot.kernel.mid_series import load_mids
from bot.kernel.schema import current_revision, head_revision, upgrade_schema
from bot.kernel.store import Store
from strategies.xvenue.store import XvenueLedger
from tests.db.schema_checks import assert_schema_is_the_models
from tests.kit import small_config_dict

FIXTURE = Path(__file__).with_name("fixtures") / "store_before_alembic.sql"
TS = 1796547691768956168  # ns: beyond 2**31, as every stored timestamp


def legacy_store(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        conn.executescript(FIXTURE.read_text())
    return f"sqlite:///{path}"


def declared_type(path: Path, table: str, column: str) -> str:
    with sqlite3.connect(path) as conn:
        return {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info({table})")}[column]


def test_a_store_of_the_previous_version_is_migrated_with_its_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    url = legacy_store(path)
    with sqlite3.connect(path) as conn:  # older still: from before lp_swaps had its venue column
        conn.execute("ALTER TABLE lp_swaps DROP COLUMN venue")
    assert declared_type(path, "fills", "exchange_ts_ns") == "INTEGER"
    store = Store(url)
    assert_schema_is_the_models(store.engine)
    assert (declared_type(path, "fills", "exchange_ts_ns"), declared_type(path, "fills", "id")) == (
        "BIGINT",
        "INTEGER",  # SQLite's rowid: autoincrementing only when declared exactly so
    )
    orders = [(o.client_order_id, o.seq, o.price_ticks, o.size_lots, o.state, o.created_ns, o.updated_ns)
              for o in store.open_orders()]  # fmt: skip
    assert orders == [("t1-1", 1, 600_100, 4, "open", TS, TS + 1)]
    assert [(e.id, e.state, e.ts_ns) for e in store.order_events("t1-1")] == [
        (1, "pending_new", TS),
        (2, "open", TS + 1),
    ]
    fills = [(f.id, f.venue_trade_id, f.price_ticks, f.size_lots, f.exchange_ts_ns, f.fair_at_fill,
              f.mid_at_fill) for f in store.fills()]  # fmt: skip
    assert fills == [(1, "tr1", 600_100, 4, TS + 2, 60010.0, "60010.0")]
    assert {a: (b.free, b.locked) for a, b in store.balance_snapshot("va").items()} == {
        "BTC": (Decimal(1), Decimal(0)),
        "USDT": (Decimal(5000), Decimal(0)),
    }
    assert [(r.market, r.ts_ns, r.pnl_quote) for r in store.latest_pnl().values()] == [
        ("va:BTC/USDT", TS, "0")
    ]
    assert [(e.id, e.kind, e.ts_ns) for e in store.events()] == [(1, "start", TS)]
    assert ControlStore(store, "t1").get("pause") == {"source": "operator", "reason": "x"}
    assert load_mids(store, 0) == {"va:BTC/USDT": [(TS, 60010.0)]}
    lp = LpStore(store)
    assert [(p.id, p.token_id, p.tick_lower, p.opened_ns) for p in lp.positions()] == [
        (1, 12345, -887220, TS)
    ]
    assert [(s.id, s.ts_ns, s.venue) for s in lp.swaps()] == [(1, TS, "pool")]  # the former default
    ledger = XvenueLedger(store)
    assert [(r.id, r.maker_trade_id, r.status, r.fill_ts_ns) for r in ledger.round_trips()] == [
        (1, "tr1", "pending", TS)
    ]
    assert [(a.id, a.ts_ns, a.unwind_base) for a in ledger.arb_trades()] == [(1, TS, "0")]
    # New rows continue the ids, and the dedup constraint survived the rebuild.
    store.record_event("stop", TS + 9)
    assert [e.id for e in store.events()] == [1, 2]
    assert XvenueLedger(Store(url, "t1")).open_round_trip(  # the row is t1's since revision 0003
        strategy="xemm", maker_venue="va", maker_symbol="BTC/USDT", maker_trade_id="tr1",
        taker_market="vb:BTC/USDT", maker_side="sell", maker_price="1", size_base="1", maker_fee="0",
        expected_hedge_price="1", fill_ts_ns=TS,
    ) is None  # fmt: skip
    store.close()
    assert upgrade_schema(Store(url).engine) == (head_revision(), head_revision())  # nothing left to do


def test_a_new_store_is_created_at_the_newest_revision(tmp_path):
    for url in ("sqlite://", f"sqlite:///{tmp_path}/new.sqlite"):
        store = Store(url)
        assert_schema_is_the_models(store.engine)
        store.close()


def test_mmbot_db_upgrade_migrates_the_configs_store(tmp_path, capsys):
    legacy_store(tmp_path / "bot.sqlite")
    config = tmp_path / "bot.toml"
    config.write_text(tomli_w.dumps(small_config_dict("sqlite:///bot.sqlite")))  # relative to the config
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    shown = f"sqlite:///{(tmp_path / 'bot.sqlite').resolve()}"
    assert capsys.readouterr().out.splitlines() == [
        f"{shown}: upgraded from no revision to {head_revision()}",
        f"{shown}: at revision {head_revision()} already",
    ]
    store = Store(shown)
    assert current_revision(store.engine) == head_revision() and len(store.fills()) == 1


def test_rows_of_the_previous_version_get_the_instance_their_order_ids_name(tmp_path):
    store = Store(legacy_store(tmp_path / "old.sqlite"), "t1")
    assert [(o.client_order_id, o.instance_id) for o in store.open_orders()] == [("t1-1", "t1")]
    assert [(e.state, e.instance_id) for e in store.order_events("t1-1")] == [
        ("pending_new", "t1"),
        ("open", "t1"),
    ]
    assert [(f.venue_trade_id, f.instance_id) for f in store.fills()] == [("tr1", "t1")]
    # Rows that name no instance are the one bot's that used the store (revision 0003)
    assert [(e.kind, e.instance_id) for e in store.events()] == [("start", "t1")]
    assert [p.instance_id for p in LpStore(store).positions()] == ["t1"]
    assert [r.instance_id for r in XvenueLedger(store).round_trips()] == ["t1"]
    assert load_mids(store, 0) == {"va:BTC/USDT": [(TS, 60010.0)]}
    assert set(store.balance_snapshot("va", "first")) == {"BTC", "USDT"}  # the flat-inventory baseline
    store.record_event("stop", TS)
    assert [(e.kind, e.instance_id) for e in store.events()] == [("start", "t1"), ("stop", "t1")]
    assert Store(store.url, "t2").events() == []  # another bot on the same store sees none of it


def test_a_store_that_names_two_instances_keeps_unattributable_rows_unattributed(tmp_path):
    path = tmp_path / "old.sqlite"
    legacy_store(path)
    with sqlite3.connect(path) as conn:  # a second bot had used the store: whose snapshot is it?
        conn.execute(
            "INSERT INTO orders SELECT 'u2-1', 1, venue, symbol, side, price_ticks, size_lots, price, "
            "size, post_only, 'cancelled', NULL, 0, created_ns, updated_ns, NULL FROM orders"
        )
    url = f"sqlite:///{path}"
    t1, u2 = Store(url, "t1"), Store(url, "u2")
    assert [o.client_order_id for o in t1.open_orders()] == ["t1-1"]
    assert [o.client_order_id for o in u2.open_orders()] == []  # u2's order is cancelled
    assert u2.get_order("u2-1") is not None and t1.get_order("u2-1") is None
    assert t1.events() == [] and t1.balance_snapshot("va") == {} and LpStore(t1).positions() == []
    assert [e.instance_id for e in Store(url).events()] == [""]
