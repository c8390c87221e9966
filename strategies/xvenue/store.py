"""Tables of the cross-venue strategies (same SQLModel metadata as bot/kernel/store.py).

`xemm_round_trips`: one row per maker fill, unique on the maker fill's identity, so a fill
reported twice is hedged once: the hedge obligation (strategies/xvenue/obligations.py), `pending`
until hedge fills (or an opposite maker fill) settle all of it, so a stop mid-hedge leaves a row
the next start hedges. `xemm_hedge_orders` (strategies/xvenue/obligation_store.py): every hedge
order sent. `arb_trades`: one row per arbitrage.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel, col, select

from bot.kernel.sql_types import ROW_ID
from bot.kernel.store import Store
from bot.kernel.store_rows import FillRow


class XemmRoundTripRow(SQLModel, table=True):
    __tablename__ = "xemm_round_trips"
    __table_args__ = (
        UniqueConstraint(
            "instance_id", "maker_venue", "maker_symbol", "maker_trade_id", name="uq_xemm_maker"
        ),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    strategy: str = Field(index=True)
    maker_venue: str
    maker_symbol: str
    maker_trade_id: str
    taker_market: str
    maker_side: str
    maker_price: str
    size_base: str
    maker_fee: str
    expected_hedge_price: str
    hedged_base: str = "0"
    netted_base: str = "0"  # closed against an opposite maker fill (strategies/xvenue/obligations.py)
    hedge_notional: str = "0"
    hedge_fees: str = "0"
    attempts: int = Field(default=0, sa_type=BigInteger)
    status: str = Field(index=True)  # pending (open), hedged (closed); failed: before 0005
    realised_edge_quote: str | None = None
    realised_edge_bps: float | None = None
    fill_ts_ns: int = Field(sa_type=BigInteger)
    done_ts_ns: int | None = Field(default=None, sa_type=BigInteger)
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class ArbTradeRow(SQLModel, table=True):
    __tablename__ = "arb_trades"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    strategy: str = Field(index=True)
    ts_ns: int = Field(index=True, sa_type=BigInteger)
    direction: str  # "buy_pool_sell_cex" or "sell_pool_buy_cex"
    size_base: str
    expected_profit_quote: str
    realised_profit_quote: str | None = None
    pool_amount_in: str
    pool_amount_out: str
    gas_quote: str
    cex_filled_base: str = "0"
    cex_notional: str = "0"
    cex_fees: str = "0"
    pool_price_before: float
    pool_price_after: float | None = None
    cex_mid: float
    status: str  # done, unwound (a leg failed, the other reversed), unhedged (left: see below), failed
    failure: str | None = None  # why a leg or an unwind failed
    unwind_base: str = "0"  # base reversed after a failed leg
    unhedged_base: str = "0"  # signed (+ = long base): what could not be unwound
    unhedged_ms: float | None = None  # from the legs' start until flat (or given up)
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


_RT = XemmRoundTripRow.__table__  # type: ignore[attr-defined]
_ARB = ArbTradeRow.__table__  # type: ignore[attr-defined]
_FILLS = FillRow.__table__  # type: ignore[attr-defined]


class XvenueLedger:
    def __init__(self, store: Store) -> None:
        self.store = store

    def open_round_trip(self, **values: Any) -> int | None:
        """Insert a pending round trip; None when this maker fill was seen before."""
        engine = self.store.engine
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        with engine.begin() as conn:
            result = conn.execute(
                insert(_RT)
                .values(status="pending", instance_id=self.store.writer_id, **values)
                .on_conflict_do_nothing()
                .returning(_RT.c.id)
            )
            row = result.first()
        return None if row is None else int(row[0])

    def close_round_trip(self, row_id: int, **values: Any) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(_RT.update().where(_RT.c.id == row_id).values(**values))

    def round_trip(self, row_id: int) -> XemmRoundTripRow:
        with Session(self.store.engine) as session:
            row = session.get(XemmRoundTripRow, row_id)
        if row is None:
            raise KeyError(f"round trip {row_id} was never stored")
        return row

    def round_trips(self, strategy: str | None = None, status: str | None = None) -> list[XemmRoundTripRow]:
        query = self.store.mine(select(XemmRoundTripRow), XemmRoundTripRow.instance_id)
        if strategy is not None:
            query = query.where(XemmRoundTripRow.strategy == strategy)
        if status is not None:
            query = query.where(XemmRoundTripRow.status == status)
        with Session(self.store.engine) as session:
            return list(session.exec(query.order_by(col(XemmRoundTripRow.id))))

    def record_arb(self, row: ArbTradeRow) -> None:
        row.instance_id = self.store.writer_id
        with Session(self.store.engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()

    def arb_trades(self, strategy: str | None = None) -> list[ArbTradeRow]:
        query = self.store.mine(select(ArbTradeRow), ArbTradeRow.instance_id)
        if strategy is not None:
            query = query.where(ArbTradeRow.strategy == strategy)
        with Session(self.store.engine) as session:
            return list(session.exec(query.order_by(col(ArbTradeRow.id))))

    def order_fills(self, client_order_id: str) -> tuple[int, Decimal, Decimal]:
        """(lots, Σ price·size, Σ fee) of the stored fills of one order."""
        query = select(_FILLS.c.size_lots, _FILLS.c.price, _FILLS.c.size, _FILLS.c.fee).where(
            _FILLS.c.client_order_id == client_order_id
        )
        query = self.store.mine(query, _FILLS.c.instance_id)
        lots, notional, fees = 0, Decimal(0), Decimal(0)
        with self.store.engine.connect() as conn:
            for size_lots, price, size, fee in conn.execute(query):
                lots += size_lots
                notional += Decimal(price) * Decimal(size)
                fees += Decimal(fee)
        return lots, notional, fees

    def count_round_trips(self) -> int:
        with Session(self.store.engine) as session:
            query = self.store.mine(
                select(func.count()).select_from(XemmRoundTripRow), XemmRoundTripRow.instance_id
            )
            return int(session.exec(query).one())
