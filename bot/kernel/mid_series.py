"""The fair price of every traded market over time, stored compactly for exact attribution.

Markouts, adverse selection and the PnL curve of the report are computed from this series and
from the fair stored with each fill (bot.reports.attribution), so their resolution is the
series', not the PnL snapshots' (60 s).

Storage rule, per market (rows are (market, ts_ns, mid)):

- a row is written only when the market's fair changed since its last row: a constant fair
  writes nothing;
- at most one row per `min_interval_ns` (250 ms) of event time: a change less than that after
  the market's previous write is held, and written, stamped with the time it was observed, with
  the first event at or after the interval (or at `close`); a value that reverts to the last
  row's before then writes nothing;
- `close` (at stop) writes what is held, then each market's fair once more at the stop time,
  so the series says how far it is known.

So the stored fair at any instant t is the live fair of an instant in [t − min_interval, t],
and a market writes at most 1 + duration / min_interval rows (4 a second while its fair moves,
none while it does not), plus at most two at stop.

Retention: up to 345,600 rows a day per moving market, so a weeks-long run must drop old rows.
`prune_mids` (the housekeeping job, `[bot.jobs] mid_series_retention_days`, 7 by default) deletes
each market's rows older than the cutoff except the last one before it (the value in force at the
cutoff, which `load_mids` returns for a window starting there), in batches of bounded size so a
first prune of a large table never holds the store's write lock for long.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import BigInteger, Index, delete
from sqlmodel import Field, Session, SQLModel, col, select

from bot.core.clock import NS_PER_S, Clock
from bot.core.events import BookSnapshot, VenueEvent
from bot.kernel.market_state import MarketState
from bot.kernel.sql_types import ROW_ID
from bot.kernel.store import Store

DEFAULT_MIN_INTERVAL_NS = NS_PER_S // 4
DEFAULT_RETENTION_DAYS = 7.0
PRUNE_BATCH_ROWS = 10_000  # rows per delete statement (one short transaction each)
# A fill reported later than this after it happened (reconciliation found it) is stored without
# the prices of now, which are not those of its moment; the report then uses the series.
FILL_FAIR_MAX_AGE_NS = 2 * NS_PER_S


class MidRow(SQLModel, table=True):
    __tablename__ = "mid_series"
    __table_args__ = (Index("ix_mid_series_instance_market_ts", "instance_id", "market", "ts_ns"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    market: str  # "venue:symbol"
    ts_ns: int = Field(sa_type=BigInteger)  # ns since the epoch: beyond PostgreSQL's INTEGER
    mid: float
    # Each bot's fair, as it saw it (bots sharing a database may quote the same market).
    instance_id: str = Field(default="", sa_column_kwargs={"server_default": ""})


_MIDS = MidRow.__table__  # type: ignore[attr-defined]
_INSERT_MID = _MIDS.insert()  # one statement object: a deferred store batches its rows together


def prices_at_fill(fair: float, mid: Decimal | None, late_ns: int) -> tuple[float | None, Decimal | None]:
    """What a fill stores as its (fair, mid): now's, unless it is reported `late_ns` after it
    happened beyond FILL_FAIR_MAX_AGE_NS; a fair that is not a price (NaN: no book) is None."""
    if late_ns > FILL_FAIR_MAX_AGE_NS:
        return None, None
    return (fair if fair > 0 else None), mid  # NaN > 0 is False


def load_mids(store: Store, since_ns: int, until_ns: int | None = None) -> dict[str, list[tuple[int, float]]]:
    """Each market's (ts_ns, mid) rows from `since_ns` on, oldest first, plus the row before
    `since_ns` (the value in force at `since_ns`)."""
    out: dict[str, list[tuple[int, float]]] = {}
    with Session(store.engine) as session:
        markets = session.exec(store.mine(select(MidRow.market).distinct(), MidRow.instance_id)).all()
        for market in markets:
            of_market = store.mine(select(MidRow.ts_ns, MidRow.mid), MidRow.instance_id)
            of_market = of_market.where(MidRow.market == market)
            before = session.exec(
                of_market.where(col(MidRow.ts_ns) < since_ns)
                .order_by(col(MidRow.ts_ns).desc(), col(MidRow.id).desc())
                .limit(1)
            ).all()
            query = of_market.where(col(MidRow.ts_ns) >= since_ns)
            if until_ns is not None:
                query = query.where(col(MidRow.ts_ns) <= until_ns)
            rows = session.exec(query.order_by(col(MidRow.ts_ns), col(MidRow.id))).all()
            out[market] = [(int(t), float(m)) for t, m in [*before, *rows]]
    return out


def prune_mids(store: Store, before_ns: int, batch_rows: int = PRUNE_BATCH_ROWS) -> int:
    """Delete each market's rows stamped before `before_ns`, but its last one before it; returns
    the number of rows deleted."""
    deleted = 0
    with Session(store.engine) as session:
        markets = session.exec(store.mine(select(MidRow.market).distinct(), MidRow.instance_id)).all()
    for market in markets:
        with Session(store.engine) as session:
            in_force = session.exec(
                store.mine(select(MidRow.id), MidRow.instance_id)
                .where(MidRow.market == market, col(MidRow.ts_ns) < before_ns)
                .order_by(col(MidRow.ts_ns).desc(), col(MidRow.id).desc())
                .limit(1)
            ).first()
        if in_force is None:
            continue
        older = (
            store.mine(select(MidRow.id), MidRow.instance_id)
            .where(MidRow.market == market, col(MidRow.ts_ns) < before_ns, col(MidRow.id) != in_force)
            .limit(batch_rows)
        )
        while True:
            with store.engine.begin() as conn:
                n = conn.execute(delete(MidRow).where(col(MidRow.id).in_(older.scalar_subquery()))).rowcount
            deleted += n or 0
            if not n or n < batch_rows:
                break
    return deleted


class MidSeriesRecorder:
    """Writes the mid series of the engine's markets: an engine listener (`on_event`), closed at
    stop. `fair_of(slot)` is the price recorded, the same the order manager stores with fills."""

    def __init__(
        self,
        store: Store,
        state: MarketState,
        clock: Clock,
        fair_of: Callable[[int], float],
        min_interval_ns: int = DEFAULT_MIN_INTERVAL_NS,
    ) -> None:
        self.store = store
        self.state = state
        self.clock = clock
        self.fair_of = fair_of
        self.min_interval_ns = min_interval_ns
        self.rows_written = 0
        self._last_value: dict[int, float] = {}  # slot -> value of its last row
        self._last_stamp_ns: dict[int, int] = {}  # slot -> ts_ns of its last row
        self._last_write_ns: dict[int, int] = {}  # slot -> event time its last row was written
        self._held: dict[int, tuple[int, float]] = {}  # slot -> (observed ns, value) not yet written
        self._next_write_ns = 0  # no held row can be written before (a lower bound)

    def on_event(self, event: VenueEvent) -> None:
        if isinstance(event, BookSnapshot):
            now_ns = self.clock.now_ns()
            slot = self.state.slot(event.venue, event.symbol)
            if slot is not None:
                self.observe(slot, now_ns)
        elif not self._held:
            return
        else:
            now_ns = self.clock.now_ns()
        if self._held and now_ns >= self._next_write_ns:
            self._write(now_ns, force=False)

    def observe(self, slot: int, now_ns: int) -> None:
        """Note the market's fair as of `now_ns` (written now or held, by the rule above)."""
        value = float(self.fair_of(slot))
        if not (math.isfinite(value) and value > 0):
            return  # no price (one-sided book): the last one stays in force
        if value == self._last_value.get(slot):
            self._held.pop(slot, None)  # back to what is stored: nothing to write
        else:
            self._held[slot] = (now_ns, value)
            last = self._last_write_ns.get(slot)
            self._next_write_ns = min(self._next_write_ns, 0 if last is None else last + self.min_interval_ns)

    def close(self) -> None:
        """At stop: write what is held, and each market's fair at the stop time."""
        now_ns = self.clock.now_ns()
        self._write(now_ns, force=True)
        rows = []
        for slot, value in self._last_value.items():
            if self._last_stamp_ns[slot] < now_ns:
                fair = float(self.fair_of(slot))
                rows.append(self._row(slot, now_ns, fair if math.isfinite(fair) and fair > 0 else value))
        self._insert(rows)

    def _write(self, now_ns: int, *, force: bool) -> None:
        rows = []
        next_write_ns = 1 << 62
        for slot, (observed_ns, value) in list(self._held.items()):
            last = self._last_write_ns.get(slot)
            if force or last is None or now_ns - last >= self.min_interval_ns:
                del self._held[slot]
                self._last_write_ns[slot] = now_ns
                rows.append(self._row(slot, observed_ns, value))
            else:
                next_write_ns = min(next_write_ns, last + self.min_interval_ns)
        self._next_write_ns = next_write_ns
        self._insert(rows)

    def _row(self, slot: int, ts_ns: int, value: float) -> dict[str, object]:
        self._last_value[slot] = value
        self._last_stamp_ns[slot] = ts_ns
        market = self.state.markets[slot].key
        return {"market": market, "ts_ns": ts_ns, "mid": value, "instance_id": self.store.writer_id}

    def _insert(self, rows: list[dict[str, object]]) -> None:
        if rows:
            self.store.write(_INSERT_MID, rows)
            self.rows_written += len(rows)
