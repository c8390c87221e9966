"""Persistence on SQLModel: SQLite by default (WAL), any SQLAlchemy URL (PostgreSQL) accepted.

Writes are small and synchronous on purpose: an order row is written before the order is sent and
a fill is written before it is counted, so a crash at any moment leaves the store no further behind
than the venue (reconciliation closes the gap on the next start). Decimals are stored as strings so
sums are exact on every backend.

Backtests choose deferred durability instead (`durability="deferred"`, bot.kernel.store_buffer):
order, order event, fill and mid rows are written in batches, everything held is written before
any read and at `close`, and a crash loses what was held; nothing else changes.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import bindparam, event, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Executable
from sqlmodel import Session, col, create_engine, select

from bot.core.domain import TERMINAL_STATES, Balance, Fill, Market, Order, OrderState
from bot.kernel.schema import upgrade_schema
from bot.kernel.store_buffer import WriteBuffer
from bot.kernel.store_rows import (
    BalanceSnapshotRow,
    EventRow,
    FillRow,
    OrderEventRow,
    OrderRow,
    PnlSnapshotRow,
)

log = logging.getLogger("mmbot.store")


_ORDERS = OrderRow.__table__  # type: ignore[attr-defined]
_ORDER_EVENTS = OrderEventRow.__table__  # type: ignore[attr-defined]
_FILLS = FillRow.__table__  # type: ignore[attr-defined]
# Hot-path statements built once, values bound at execution: building a statement with literal
# values costs more than the SQLite write itself (SQLAlchemy recomputes its cache key each time).
_UPDATE_ORDER = _ORDERS.update().where(_ORDERS.c.client_order_id == bindparam("cid"))
_INSERT_ORDER = _ORDERS.insert()
_INSERT_ORDER_EVENT = _ORDER_EVENTS.insert()

Durability = Literal["immediate", "deferred"]


def resolve_database_url(url: str, config_dir: Path) -> str:
    """Relative SQLite paths are taken relative to the config file, not the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite:///:memory:":
        return prefix + str((config_dir / url[len(prefix) :]).resolve())
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # First: switching to WAL takes a lock, and without a busy timeout a connection opened while
    # another bot migrates the same file fails at once with "database is locked"
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL is durable against process crashes (our SIGKILL case); only an OS crash can
    # lose the last transactions, which reconciliation with the venue recovers.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Store:
    def __init__(
        self, url: str, instance_id: str | None = None, durability: Durability = "immediate"
    ) -> None:
        """`instance_id`: the bot whose rows this store writes and reads; every read sees only that
        instance's rows (several bots may share one database). None: a reader of the whole
        database (tools, tests), which sees every instance's rows and writes rows of none ("").
        `durability`: "immediate" (each row written before the call returns: live and paper bots)
        or "deferred" (rows written in batches: backtests, module docstring)."""
        self.url = url
        self.instance_id = instance_id
        self.writer_id = instance_id or ""
        self._engine: Engine = create_engine(url)
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine, "connect", _sqlite_pragmas)
        upgrade_schema(self._engine)  # every table of the bot, at the newest revision
        insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        # A duplicate is told by the row that comes back, never by `rowcount`: with RETURNING
        # (which SQLAlchemy adds for the new id) psycopg 3 reports -1 whether a row went in or not.
        self._insert_fill = insert(_FILLS).on_conflict_do_nothing().returning(_FILLS.c.id)
        self._buffer: WriteBuffer | None = None
        if durability == "deferred":
            order_first = (_INSERT_ORDER, _UPDATE_ORDER, _INSERT_ORDER_EVENT)
            self._buffer = WriteBuffer(self._engine, order_first)
            self._insert_fill_deferred = insert(_FILLS).on_conflict_do_nothing()
        # Deferred durability: orders whose row is written or held (an update of any other must
        # find its row now, or fail), and each writer's fill identities (duplicates known without
        # a read). Shared with the `for_instance` views, like the buffer.
        self._held_orders: set[str] = set()
        self._fill_keys: dict[str, set[tuple[str, str, str]]] = {}
        # Called with (kind, ts_ns, detail) after each event is stored: notifications.
        self.event_listeners: list[Callable[[str, int, dict[str, Any]], None]] = []

    @property
    def engine(self) -> Engine:
        """The database, every held row written first (deferred durability): whoever reads
        through it sees all that was recorded."""
        self.flush()
        return self._engine

    @property
    def deferred(self) -> bool:
        """Rows are written in batches (a backtest): nothing is read back before the run ends."""
        return self._buffer is not None

    def flush(self) -> None:
        """Write the rows held by deferred durability (nothing to do in immediate durability)."""
        if self._buffer is not None:
            self._buffer.flush()

    def write(self, statement: Executable, rows: list[dict[str, Any]]) -> None:
        """Insert rows of a table with no dependants (the mid series): now, or held when deferred."""
        if self._buffer is None:
            with self._engine.begin() as conn:
                conn.execute(statement, rows)
            return
        for row in rows:
            self._buffer.add(statement, row)

    def close(self) -> None:
        self.flush()
        self._engine.dispose()

    def for_instance(self, instance_id: str) -> Store:
        """A view of the same database (same engine) that reads and writes as `instance_id`."""
        view = copy.copy(self)
        view.instance_id, view.writer_id = instance_id, instance_id
        view.event_listeners = []
        return view

    def mine(self, query: Any, instance_column: Any) -> Any:
        """`query` narrowed to this store's instance by the table's `instance_id` column
        (unchanged for a whole-database reader)."""
        if self.instance_id is None:
            return query
        return query.where(instance_column == self.instance_id)

    def instance_ids(self) -> list[str]:
        """Every instance that wrote to the database (started, ordered or filled), sorted."""
        with Session(self.engine) as session:
            ids: set[str] = set()
            for row in (EventRow, OrderRow, FillRow):
                ids.update(session.exec(select(row.instance_id).distinct()))
        return sorted(ids)

    # ---- orders ------------------------------------------------------------------------------

    def record_new_order(self, order: Order, market: Market, seq: int) -> None:
        req = order.request
        row = dict(
            client_order_id=req.client_order_id,
            instance_id=self.writer_id,
            seq=seq,
            venue=req.venue,
            symbol=req.symbol,
            side=req.side.value,
            price_ticks=req.price_ticks,
            size_lots=req.size_lots,
            price=str(market.price(req.price_ticks)),
            size=str(market.size(req.size_lots)),
            post_only=req.post_only,
            state=order.state.value,
            venue_order_id=order.venue_order_id,
            filled_lots=order.filled_lots,
            created_ns=order.created_ns,
            updated_ns=order.updated_ns,
            reason=order.reason,
        )
        if self._buffer is not None:
            self._buffer.add(_INSERT_ORDER, row)
            self._buffer.add(_INSERT_ORDER_EVENT, self._event_values(order))
            self._held_orders.add(req.client_order_id)
            return
        # Core statements, not ORM sessions: this is the hot write path (one per order change).
        with self._engine.begin() as conn:
            conn.execute(_INSERT_ORDER, row)
            conn.execute(_INSERT_ORDER_EVENT, self._event_values(order))

    def record_order_state(self, order: Order) -> None:
        values = dict(
            cid=order.client_order_id,
            state=order.state.value,
            filled_lots=order.filled_lots,
            venue_order_id=order.venue_order_id,
            updated_ns=order.updated_ns,
            reason=order.reason,
        )
        if self._buffer is not None and order.client_order_id in self._held_orders:
            self._buffer.add(_UPDATE_ORDER, values)
            self._buffer.add(_INSERT_ORDER_EVENT, self._event_values(order))
            return
        with self.engine.begin() as conn:  # (deferred: an order of an earlier run, written first)
            if conn.execute(_UPDATE_ORDER, values).rowcount != 1:
                raise KeyError(f"order {order.client_order_id} was never stored")
            conn.execute(_INSERT_ORDER_EVENT, self._event_values(order))

    def _event_values(self, order: Order) -> dict[str, Any]:
        return dict(
            instance_id=self.writer_id,
            client_order_id=order.client_order_id,
            state=order.state.value,
            filled_lots=order.filled_lots,
            ts_ns=order.updated_ns,
            reason=order.reason,
        )

    def open_orders(self, venue: str | None = None) -> list[OrderRow]:
        live = [s.value for s in OrderState if s not in TERMINAL_STATES]
        query = self.mine(select(OrderRow).where(col(OrderRow.state).in_(live)), OrderRow.instance_id)
        if venue is not None:
            query = query.where(OrderRow.venue == venue)
        with Session(self.engine) as session:
            return list(session.exec(query.order_by(col(OrderRow.seq))))

    def get_order(self, client_order_id: str) -> OrderRow | None:
        with Session(self.engine) as session:
            row = session.get(OrderRow, client_order_id)
        if row is None or self.instance_id not in (None, row.instance_id):
            return None
        return row

    def max_order_seq(self) -> int | None:
        with Session(self.engine) as session:
            return session.exec(self.mine(select(func.max(OrderRow.seq)), OrderRow.instance_id)).one()

    def order_events(self, client_order_id: str) -> list[OrderEventRow]:
        query = select(OrderEventRow).where(OrderEventRow.client_order_id == client_order_id)
        query = self.mine(query, OrderEventRow.instance_id)
        with Session(self.engine) as session:
            return list(session.exec(query.order_by(col(OrderEventRow.id))))

    # ---- fills -------------------------------------------------------------------------------

    def record_fill(
        self, fill: Fill, market: Market, fair_price: float | None = None, mid: Decimal | None = None
    ) -> bool:
        """Insert a fill once, with the fair price and mid of its moment when known; returns False
        when the venue reported it before (a duplicate)."""
        values = dict(
            instance_id=self.writer_id,
            venue=fill.venue,
            symbol=fill.symbol,
            venue_trade_id=fill.venue_trade_id,
            venue_order_id=fill.venue_order_id,
            client_order_id=fill.client_order_id,
            side=fill.side.value,
            price_ticks=fill.price_ticks,
            size_lots=fill.size_lots,
            price=str(market.price(fill.price_ticks)),
            size=str(market.size(fill.size_lots)),
            fee=str(fill.fee),
            fee_asset=fill.fee_asset,
            is_maker=fill.is_maker,
            exchange_ts_ns=fill.exchange_ts_ns,
            fair_at_fill=fair_price,
            mid_at_fill=None if mid is None else str(mid),
        )
        if self._buffer is not None:
            keys = self._writer_fill_keys()
            key = (fill.venue, fill.symbol, fill.venue_trade_id)
            if key in keys:
                return False
            keys.add(key)
            self._buffer.add(self._insert_fill_deferred, values)
            return True
        with self._engine.begin() as conn:
            return conn.execute(self._insert_fill, values).first() is not None

    def _writer_fill_keys(self) -> set[tuple[str, str, str]]:
        """(venue, symbol, venue trade id) of every fill this writer stored, read once."""
        keys = self._fill_keys.get(self.writer_id)
        if keys is None:
            query = select(FillRow.venue, FillRow.symbol, FillRow.venue_trade_id)
            with Session(self.engine) as session:
                rows = session.exec(query.where(FillRow.instance_id == self.writer_id))
                keys = self._fill_keys[self.writer_id] = {(v, s, t) for v, s, t in rows}
        return keys

    def fills(self, venue: str | None = None, symbol: str | None = None) -> list[FillRow]:
        query = self.mine(select(FillRow), FillRow.instance_id)
        if venue is not None:
            query = query.where(FillRow.venue == venue)
        if symbol is not None:
            query = query.where(FillRow.symbol == symbol)
        with Session(self.engine) as session:
            return list(session.exec(query.order_by(col(FillRow.exchange_ts_ns), col(FillRow.id))))

    def fill_keys_since(self, venue: str, since_ns: int | None) -> set[tuple[str, str]]:
        """(symbol, venue trade id) of the venue's stored fills from `since_ns` on (all if None)."""
        query = select(FillRow.symbol, FillRow.venue_trade_id).where(FillRow.venue == venue)
        query = self.mine(query, FillRow.instance_id)
        if since_ns is not None:
            query = query.where(FillRow.exchange_ts_ns >= since_ns)
        with Session(self.engine) as session:
            return {(symbol, trade_id) for symbol, trade_id in session.exec(query)}

    def last_fill_ts_ns(self, venue: str) -> int | None:
        query = self.mine(
            select(func.max(FillRow.exchange_ts_ns)).where(FillRow.venue == venue), FillRow.instance_id
        )
        with Session(self.engine) as session:
            return session.exec(query).one()

    # ---- snapshots and events ----------------------------------------------------------------

    def snapshot_balances(self, venue: str, balances: Iterable[Balance], ts_ns: int, reason: str) -> None:
        with Session(self.engine) as session:
            for b in balances:
                session.add(
                    BalanceSnapshotRow(
                        instance_id=self.writer_id,
                        venue=venue,
                        asset=b.asset,
                        free=str(b.free),
                        locked=str(b.locked),
                        ts_ns=ts_ns,
                        reason=reason,
                    )
                )
            session.commit()

    def balance_snapshot(self, venue: str, which: str = "latest") -> dict[str, Balance]:
        """The first or latest complete balance snapshot of a venue (all rows of one ts)."""
        agg = func.min if which == "first" else func.max
        with Session(self.engine) as session:
            of_venue = select(agg(BalanceSnapshotRow.ts_ns)).where(BalanceSnapshotRow.venue == venue)
            ts = session.exec(self.mine(of_venue, BalanceSnapshotRow.instance_id)).one()
            if ts is None:
                return {}
            query = select(BalanceSnapshotRow).where(
                BalanceSnapshotRow.venue == venue, BalanceSnapshotRow.ts_ns == ts
            )
            query = self.mine(query, BalanceSnapshotRow.instance_id)
            rows = session.exec(query.order_by(col(BalanceSnapshotRow.id))).all()
        out: dict[str, Balance] = {}
        for r in rows:  # several snapshots can share a ts on the simulated clock: keep the last
            out[r.asset] = Balance(r.asset, Decimal(r.free), Decimal(r.locked))
        return out

    def snapshot_pnl(self, rows: Sequence[PnlSnapshotRow]) -> None:
        for row in rows:
            row.instance_id = self.writer_id
        with Session(self.engine) as session:
            session.add_all(rows)
            session.commit()

    def latest_pnl(self) -> dict[str, PnlSnapshotRow]:
        per_market = select(PnlSnapshotRow.market, func.max(PnlSnapshotRow.id).label("newest_id"))
        newest = self.mine(per_market, PnlSnapshotRow.instance_id).group_by(PnlSnapshotRow.market).subquery()
        query = select(PnlSnapshotRow).join(newest, col(PnlSnapshotRow.id) == newest.c.newest_id)
        with Session(self.engine) as session:
            return {r.market: r for r in session.exec(query)}

    def record_event(self, kind: str, ts_ns: int, **detail: Any) -> None:
        with Session(self.engine) as session:
            detail_json = json.dumps(detail, default=str)
            session.add(EventRow(instance_id=self.writer_id, ts_ns=ts_ns, kind=kind, detail=detail_json))
            session.commit()
        for listener in self.event_listeners:
            try:
                listener(kind, ts_ns, detail)
            except Exception:
                log.exception("event listener failed on a %s event", kind)

    def latest_event(self, *kinds: str) -> EventRow | None:
        """The newest event of one of `kinds` (one row read, however long the history)."""
        query = self.mine(select(EventRow), EventRow.instance_id).where(col(EventRow.kind).in_(kinds))
        with Session(self.engine) as session:
            return session.exec(query.order_by(col(EventRow.id).desc()).limit(1)).first()

    def events(self, kind: str | None = None) -> list[EventRow]:
        query = self.mine(select(EventRow), EventRow.instance_id)
        if kind is not None:
            query = query.where(EventRow.kind == kind)
        with Session(self.engine) as session:
            return list(session.exec(query.order_by(col(EventRow.id))))
