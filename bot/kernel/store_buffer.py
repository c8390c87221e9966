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

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine
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
                conn.execute(statement, rows)
        for _, rows in batches:  # only once written: a failed flush keeps them for the next try
            rows.clear()
        self._held = 0
        self.flushes += 1
