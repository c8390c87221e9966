"""The stored side of XEMM's hedge obligations: hedge orders, maker fills not yet obliged, the cursor.

`xemm_hedge_orders`: one row per hedge order, written before it is sent (its client order id is
known then), so a crash at any point leaves a row whose outcome the next start settles from the
venue. `outcome` is `sent` until the venue's answer says how much traded (`known`), or `unknown`
when the answer was lost; only a known outcome counts, and an unknown one blocks the next hedge.
`booked_*` is what of its fills is booked to obligations: always read from the stored fills
(real prices), never assumed.

The maker fills to oblige are read from the fills table after a cursor (the last fill row id
seen, kept in the control rows), whatever stored them: the user stream, a REST catch-up, or the
start-up reconciliation that runs before the strategy.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, UniqueConstraint, func
from sqlmodel import Field, Session, SQLModel, col, select

from bot.kernel.control_store import ControlStore
from bot.kernel.sql_types import ROW_ID
from bot.kernel.store import Store
from bot.kernel.store_rows import FillRow
from strategies.xvenue.store import XemmRoundTripRow

OPEN_OUTCOMES = ("sent", "unknown")


class HedgeOrderRow(SQLModel, table=True):
    __tablename__ = "xemm_hedge_orders"
    __table_args__ = (UniqueConstraint("instance_id", "client_order_id", name="uq_xemm_hedge_order"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    strategy: str = Field(index=True)
    client_order_id: str
    taker_market: str
    side: str
    size_lots: int = Field(sa_type=BigInteger)
    limit_ticks: int = Field(sa_type=BigInteger)
    attempt: int = Field(sa_type=BigInteger)  # 1-based within the hedging episode
    outcome: str = Field(index=True)  # sent, unknown, known
    filled_lots: int = Field(default=0, sa_type=BigInteger)  # what the venue says traded
    booked_lots: int = Field(default=0, sa_type=BigInteger)  # of which fills are booked to obligations
    booked_notional: str = "0"
    booked_fees: str = "0"
    error: str | None = None  # why nothing (or not all) traded: the venue's error class and message
    created_ns: int = Field(sa_type=BigInteger)
    settled_ns: int | None = Field(default=None, sa_type=BigInteger)
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


_HEDGE = HedgeOrderRow.__table__  # type: ignore[attr-defined]
_RT = XemmRoundTripRow.__table__  # type: ignore[attr-defined]
_CURSOR = "xemm_fill_cursor:"


class ObligationStore:
    def __init__(self, store: Store, strategy: str) -> None:
        self.store = store
        self.strategy = strategy
        self.control = ControlStore(store, store.writer_id)

    # ---- maker fills -----------------------------------------------------------------------

    def fill_cursor(self, ts_ns: int) -> int:
        """The last fill row id turned into obligations; at a strategy's first start, the newest
        fill (what was filled before it ran is not its to hedge), stored at once so that fills
        stored before the next start (by its reconciliation) are after it."""
        saved = self.control.get(_CURSOR + self.strategy)
        if saved is not None:
            return int(saved["fill_id"])
        newest = self.newest_fill_id()
        self.save_cursor(newest, ts_ns)
        return newest

    def save_cursor(self, fill_id: int, ts_ns: int) -> None:
        self.control.put(_CURSOR + self.strategy, {"fill_id": fill_id}, ts_ns)

    def maker_fills_after(self, fill_id: int, markets: list[tuple[str, str]]) -> list[FillRow]:
        """Our maker fills on `markets` (venue, symbol) stored after row `fill_id`, oldest first."""
        query = select(FillRow).where(col(FillRow.id) > fill_id, col(FillRow.is_maker).is_(True))
        query = self.store.mine(query, FillRow.instance_id)
        with Session(self.store.engine) as session:
            rows = session.exec(query.order_by(col(FillRow.id)))
            return [r for r in rows if (r.venue, r.symbol) in markets]

    def newest_fill_id(self) -> int:
        query = self.store.mine(select(func.max(FillRow.id)), FillRow.instance_id)
        with Session(self.store.engine) as session:
            return int(session.exec(query).one() or 0)

    # ---- obligations (round trip rows) -------------------------------------------------------

    def update_obligation(self, row_id: int, **values: Any) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(_RT.update().where(_RT.c.id == row_id).values(**values))

    # ---- hedge orders ------------------------------------------------------------------------

    def record_hedge(self, row: HedgeOrderRow) -> HedgeOrderRow:
        row.instance_id, row.strategy = self.store.writer_id, self.strategy
        with Session(self.store.engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
        return row

    def update_hedge(self, row: HedgeOrderRow, **values: Any) -> None:
        for name, value in values.items():
            setattr(row, name, value)
        with self.store.engine.begin() as conn:
            conn.execute(_HEDGE.update().where(_HEDGE.c.id == row.id).values(**values))

    def hedges(self, *, unfinished: bool = False) -> list[HedgeOrderRow]:
        """This strategy's hedge orders; `unfinished`: outcome not known, or fills not all booked."""
        query = self.store.mine(select(HedgeOrderRow), HedgeOrderRow.instance_id).where(
            HedgeOrderRow.strategy == self.strategy
        )
        with Session(self.store.engine) as session:
            rows = list(session.exec(query.order_by(col(HedgeOrderRow.id))))
        if unfinished:
            rows = [r for r in rows if r.outcome in OPEN_OUTCOMES or r.booked_lots < r.filled_lots]
        return rows
