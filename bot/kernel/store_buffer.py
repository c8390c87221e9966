"""The write buffer of a store in deferred durability (`Store(..., durability="deferred")`).

A backtest writes an order row and an audit row for every order change, a fill row for every fill
and a mid row up to 4 times a second, and one transaction each costs far more in SQLAlchemy than
the rows themselves. In deferred durability those rows are held here and written `max_rows` at a
time, one transaction and one executemany per statement. The store writes everything held before
anyone reads the database (`Store.engine`) and when it closes, so a reader never sees a gap; what
a crash loses is the held rows, which is why live runs keep immediate durability.

Statements are written in the order they were registered (`depends_on_first`): an order's update
must find its row, so the orders' inserts go before their updates, whatever the order in which
the rows were added; rows of one statement keep the order they were added in (audit row ids
follow the events).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Insert, Update
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.sql import Executable

DEFAULT_MAX_ROWS = 2_000


class WriteBuffer:
    def __init__(
        self, engine: Engine, depends_on_first: Sequence[Executable] = (), max_rows: int = DEFAULT_MAX_ROWS
    ) -> None:
        self.engine = engine
        self.max_rows = max_rows
        self._rows: dict[Executable, list[dict[str, Any]]] = {s: [] for s in depends_on_first}
        self._held = 0
        self.flushes = 0
        self._plans: dict[tuple[Executable, tuple[str, ...]], _DriverRows | None] = {}

    def __len__(self) -> int:
        return self._held

    def add(self, statement: Executable, values: dict[str, Any]) -> None:
        rows = self._rows.get(statement)
        if rows is None:
            rows = self._rows[statement] = []
        rows.append(values)
        self._held += 1
        if self._held >= self.max_rows:
            self.flush()

    def flush(self) -> None:
        """Write every held row in one transaction."""
        if not self._held:
            return
        batches = [(statement, rows) for statement, rows in self._rows.items() if rows]
        with self.engine.begin() as conn:
            for statement, rows in batches:
                self._execute(conn, statement, rows)
        for _, rows in batches:  # only once written: a failed flush keeps them for the next try
            rows.clear()
        self._held = 0
        self.flushes += 1

    def _execute(self, conn: Connection, statement: Executable, rows: list[dict[str, Any]]) -> None:
        """One executemany of `statement`: the SQL compiled once per set of keys and the rows handed
        to the driver as tuples (SQLAlchemy's own executemany builds and processes a parameter dict
        per row, twice the cost of the write); SQLAlchemy's path where that is not exact."""
        keys = tuple(rows[0])
        plan = self._plans.get((statement, keys))
        if plan is None:
            plan = self._plans[(statement, keys)] = _DriverRows.compile(conn.dialect, statement, keys)
        if plan is None or any(len(row) != len(keys) for row in rows):
            conn.execute(statement, rows)
            return
        conn.exec_driver_sql(plan.sql, [plan.values(row) for row in rows])


class _DriverRows:
    """A statement compiled for one set of parameter keys, and how a row's dict becomes the
    driver's tuple: SQLAlchemy's bind processors and the columns' scalar defaults applied, as its
    executemany would."""

    def __init__(self, sql: str, names: list[str], fill: list[tuple[int, Any]], processors: dict[int, Any]):
        self.sql = sql
        filled = {k for k, _ in fill}
        self._row_names = [name for k, name in enumerate(names) if k not in filled]
        self._fill = fill  # (position, value) of parameters the row does not give: column defaults
        self._processors = processors  # position -> bind processor

    @classmethod
    def compile(cls, dialect: Dialect, statement: Executable, keys: tuple[str, ...]) -> _DriverRows | None:
        """None where rows must go through SQLAlchemy: not a plain insert or update, a dialect
        with named parameters, or a default computed per row."""
        if not isinstance(statement, Insert | Update) or dialect.paramstyle != "qmark":
            return None
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        names = list(compiled.positiontup or ())
        table = statement.table
        inserting = isinstance(statement, Insert)
        fill: list[tuple[int, Any]] = []
        processors: dict[int, Callable[[Any], Any]] = {}
        for k, name in enumerate(names):
            bind = compiled.binds.get(name)
            if bind is None or bind.callable is not None or bind.expanding:
                return None
            if name not in keys:
                column = table.c.get(name)
                default = None if column is None else column.default if inserting else column.onupdate
                if default is None or not default.is_scalar:
                    return None
                fill.append((k, default.arg))
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[k] = processor
        return cls(compiled.string, names, fill, processors)

    def values(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """The driver's parameters of one row (a KeyError for a row without one of the keys, as
        SQLAlchemy refuses an executemany whose rows differ)."""
        out = [row[name] for name in self._row_names]
        for k, value in self._fill:  # ascending positions
            out.insert(k, value)
        for k, processor in self._processors.items():
            out[k] = processor(out[k])
        return tuple(out)
