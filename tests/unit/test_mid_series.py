"""Exact attribution data (issue #15, item 6): each fill stores the fair of its moment, and the
mid series is stored on change, at most one row per 250 ms per market, none while constant."""

import itertools
import sqlite3
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, Table, UniqueConstraint, create_engine

from bot.core.clock import FixedClock
from bot.kernel.market_state import MarketState
from bot.kernel.mid_series import DEFAULT_RETENTION_DAYS, MidRow, MidSeriesRecorder, load_mids, prune_mids
from bot.kernel.order_manager import OrderManager
from bot.kernel.risk import RiskLimits
from bot.kernel.store import Store
from bot.kernel.store_rows import FillRow
from bot.ops.jobs import housekeeping
from bot.ops.settings import JobsConfig
from tests.kit import stubs

MS = 1_000_000
S = 1_000_000_000
BTC = stubs.market()
ETH = stubs.market("ETH/USDT", tick_size="0.01")


class Fair:
    """A settable fair per slot (what the order manager's fair_price returns in the bot)."""

    def __init__(self) -> None:
        self.value = {0: float("nan"), 1: float("nan")}

    def __call__(self, slot: int) -> float:
        return self.value[slot]


def recorder() -> tuple[MidSeriesRecorder, FixedClock, Fair, Store]:
    store = Store("sqlite://")  # in memory
    state = MarketState([BTC, ETH], [1, 1], [10, 10])
    clock, fair = FixedClock(0), Fair()
    return MidSeriesRecorder(store, state, clock, fair), clock, fair, store


def book_at(rec: MidSeriesRecorder, clock: FixedClock, fair: Fair, t_ns: int, value: float, slot: int = 0):
    """The engine applied a book of `slot` at `t_ns` whose fair is `value`, then the listener ran."""
    clock._now_ns = t_ns  # the fixed clock only moves forward in these tests
    fair.value[slot] = value
    market = rec.state.markets[slot]
    rec.on_event(stubs.top_of_book(1, 2, venue=market.venue, symbol=market.symbol))


def test_rows_on_change_at_most_one_per_250_ms_stamped_when_observed_and_closed_at_stop(tmp_path):
    rec, clock, fair, store = recorder()
    book_at(rec, clock, fair, 0, float("nan"))  # one-sided book: no price, nothing written
    book_at(rec, clock, fair, 1 * S, 100.0)  # first price: written at once
    book_at(rec, clock, fair, 1 * S + 100 * MS, 100.0)  # unchanged: nothing
    book_at(rec, clock, fair, 1 * S + 150 * MS, 100.5)  # changed 150 ms after the last write: held
    book_at(rec, clock, fair, 1 * S + 200 * MS, 100.7)  # held, replacing 100.5 (a sub-250 ms blip)
    book_at(rec, clock, fair, 1 * S + 260 * MS, 100.7, slot=1)  # any event flushes: 260 >= 250
    book_at(rec, clock, fair, 1 * S + 300 * MS, 100.9)  # 40 ms after that write: held...
    book_at(rec, clock, fair, 1 * S + 400 * MS, 100.7)  # ...and reverted: nothing to write
    book_at(rec, clock, fair, 5 * S, 100.7)  # 3.6 s constant: nothing
    book_at(rec, clock, fair, 6 * S, 101.0)  # changed long after: at once
    clock._now_ns = 9 * S
    rec.close()  # at stop: each market once more at the stop time
    assert load_mids(store, 0) == {
        "va:BTC/USDT": [(1 * S, 100.0), (1 * S + 200 * MS, 100.7), (6 * S, 101.0), (9 * S, 101.0)],
        "va:ETH/USDT": [(1 * S + 260 * MS, 100.7), (9 * S, 100.7)],
    }
    # from a later start the value in force then comes first
    assert load_mids(store, 2 * S)["va:BTC/USDT"] == [
        (1 * S + 200 * MS, 100.7),
        (6 * S, 101.0),
        (9 * S, 101.0),
    ]
    assert rec.rows_written == 6


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(1, 400), st.sampled_from([99.9, 100.0, 100.1, 100.2])), min_size=1, max_size=200
    )
)
def test_stored_series_is_bounded_and_never_more_than_250_ms_behind_the_live_fair(steps):
    """Books every 1-400 ms with a fair among four values: the stored series, read as a step
    function, equals the live fair of an instant at most 250 ms earlier; rows are written at most
    one per 250 ms (plus, at stop, what is held and the stop row); none while the fair is constant."""
    rec, clock, fair, store = recorder()
    t, live = 0, []
    for dt_ms, value in steps:
        t += dt_ms * MS
        book_at(rec, clock, fair, t, value)
        live.append((t, value))
    clock._now_ns = t + 1
    rec.close()
    rows = load_mids(store, 0)["va:BTC/USDT"]
    assert len(rows) <= 3 + (t - live[0][0]) // (250 * MS)
    changes = 1 + sum(a[1] != b[1] for a, b in itertools.pairwise(live))
    assert len(rows) <= changes + 1  # constant stretches write nothing
    assert all(a[0] < b[0] for a, b in itertools.pairwise(rows))

    def at(series, when):
        return [v for ts, v in series if ts <= when][-1:]

    for when in sorted({ts for ts, _ in live} | {ts for ts, _ in rows}):
        window = [v for ts, v in live if when - 250 * MS <= ts <= when] + at(live, when - 250 * MS)
        assert at(rows, when)[0] in window, when


def _store_with_fair(tmp_path, mid_ticks: tuple[int, int]) -> tuple[OrderManager, FixedClock, Store]:
    store = Store(f"sqlite:///{tmp_path}/f.sqlite")
    state = MarketState([BTC], [5], [100])
    clock = FixedClock(50 * S)
    orders = OrderManager("t1", {}, state, store, clock, RiskLimits(Decimal(1), Decimal(1), 1), 1)
    state.update_top(0, *mid_ticks, clock.now_ns())
    return orders, clock, store


def test_a_fills_stored_fair_is_the_fair_of_its_moment_and_a_late_fill_stores_none(tmp_path):
    orders, clock, store = _store_with_fair(tmp_path, (599_995, 600_006))  # mid 60 000.05
    orders.apply_fill(stubs.fill(trade_id="1", ts_ns=50 * S))
    orders.state.update_top(0, 600_100, 600_110, clock.now_ns())  # the book moves on
    orders.apply_fill(stubs.fill(trade_id="2", ts_ns=50 * S - 3 * S))  # reported 3 s late
    clock.advance_ns(S)
    orders.apply_fill(stubs.fill(trade_id="3", ts_ns=50 * S + S - 2 * S))  # 2 s late: still its moment's
    rows = {r.venue_trade_id: r for r in store.fills()}
    assert (rows["1"].fair_at_fill, rows["1"].mid_at_fill) == (60_000.05, "60000.05")
    assert (rows["2"].fair_at_fill, rows["2"].mid_at_fill) == (None, None)
    assert (rows["3"].fair_at_fill, rows["3"].mid_at_fill) == (60_010.5, "60010.5")
    # the fair is whatever the order manager attributes against (the fair price, once it is not the mid)
    orders.fair_price = lambda slot: 60_001.25  # type: ignore[method-assign]
    orders.apply_fill(stubs.fill(trade_id="4", ts_ns=clock.now_ns()))
    assert store.fills()[-1].fair_at_fill == 60_001.25
    orders.state.update_top(0, 0, 600_110, clock.now_ns())  # one-sided: no price
    del orders.fair_price
    orders.apply_fill(stubs.fill(trade_id="5", ts_ns=clock.now_ns()))
    assert (store.fills()[-1].fair_at_fill, store.fills()[-1].mid_at_fill) == (None, None)


def test_a_store_of_the_previous_schema_opens_and_gains_the_columns(tmp_path):
    path = tmp_path / "old.sqlite"
    # the fills table exactly as the previous schema created it: without the two new columns
    old = MetaData()
    table = FillRow.__table__  # type: ignore[attr-defined]
    Table(
        "fills",
        old,
        *[c._copy() for c in table.columns if c.name not in ("fair_at_fill", "mid_at_fill")],
        UniqueConstraint("venue", "symbol", "venue_trade_id", name="uq_fill_identity"),
    )
    engine = create_engine(f"sqlite:///{path}")
    old.create_all(engine)
    engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO fills (venue, symbol, venue_trade_id, venue_order_id, client_order_id, side, "
            "price_ticks, size_lots, price, size, fee, fee_asset, is_maker, exchange_ts_ns) VALUES "
            "('va', 'BTC/USDT', 'old', 'o', 't1-1', 'buy', 600000, 1, '60000.0', '0.001', '0', 'USDT', 1, 7)"
        )
        assert "fair_at_fill" not in {r[1] for r in conn.execute("PRAGMA table_info(fills)")}
    store = Store(f"sqlite:///{path}")
    assert store.record_fill(stubs.fill(trade_id="new", ts_ns=9), BTC, 60_000.5, Decimal("60000.5"))
    rows = store.fills()
    assert [(r.venue_trade_id, r.fair_at_fill, r.mid_at_fill) for r in rows] == [
        ("old", None, None),
        ("new", 60_000.5, "60000.5"),
    ]
    assert load_mids(store, 0) == {}  # the migration created the mid series table
    store.close()
    Store(f"sqlite:///{path}").close()  # and opening it again changes nothing


# ---- retention ---------------------------------------------------------------------------------

DAY = 86_400 * S


def _insert_mids(store: Store, market: str, stamps_ns: list[int]) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            MidRow.__table__.insert(),  # type: ignore[attr-defined]
            [{"market": market, "ts_ns": t, "mid": 100.0 + i} for i, t in enumerate(stamps_ns)],
        )


def _count(store: Store, market: str) -> int:
    return len(load_mids(store, 0)[market])


def test_prune_keeps_the_rows_since_the_cutoff_and_the_one_in_force_at_it_in_batches():
    store = Store("sqlite://")
    _insert_mids(store, "v:BTC/USDT", [h * 3600 * S for h in range(24 * 10)])  # hourly, 10 days
    _insert_mids(store, "v:ETH/USDT", [9 * DAY + m * 60 * S for m in range(30)])  # only recent rows
    cutoff = 7 * DAY + 1  # 7 days and 1 ns: the 07-00:00 row is the one in force at the cutoff
    assert prune_mids(store, cutoff, batch_rows=7) == 24 * 7  # 168 rows in 25 batches
    btc = load_mids(store, 0)["v:BTC/USDT"]
    assert len(btc) == 1 + 24 * 3 - 1  # the row in force + every row after it
    assert btc[0] == (7 * DAY, 100.0 + 24 * 7) and btc[1][0] == 7 * DAY + 3600 * S
    assert _count(store, "v:ETH/USDT") == 30  # nothing older than the cutoff
    # what a window from the cutoff sees is unchanged: its value in force, then the rows after
    assert load_mids(store, cutoff)["v:BTC/USDT"] == btc
    assert prune_mids(store, cutoff) == 0  # idempotent


def test_housekeeping_applies_the_mid_series_retention_with_exact_row_counts():
    store = Store("sqlite://")
    now = 30 * DAY
    # 4 rows a second for the last 8 days would be 2.7 M rows; one a minute keeps the test small
    _insert_mids(store, "v:BTC/USDT", [now - 8 * DAY + m * 60 * S for m in range(8 * 24 * 60)])
    rt = SimpleNamespace(clock=FixedClock(now), store=store)
    deleted = housekeeping(rt, retention_days=30, mid_series_retention_days=7)  # type: ignore[arg-type]
    # rows older than now - 7 days: the first day's 1,440 minutes, the last of which stays in force
    assert deleted == 1_440 - 1
    assert _count(store, "v:BTC/USDT") == 7 * 24 * 60 + 1
    assert JobsConfig().mid_series_retention_days == DEFAULT_RETENTION_DAYS == 7.0
