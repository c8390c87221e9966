"""The trading tables of the store: orders and their events, fills, snapshots, events.

Every row carries the `instance_id` of the bot that wrote it: several bots may share one database
and each reads only its own rows (`bot.kernel.store.Store.mine`); "" marks rows of an older store
that could not be attributed. The schema itself is the migrations' (bot/kernel/migrations).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.kernel.sql_types import ROW_ID


class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"
    client_order_id: str = Field(primary_key=True)
    seq: int = Field(index=True, sa_type=BigInteger)
    venue: str = Field(index=True)
    symbol: str
    side: str
    price_ticks: int = Field(sa_type=BigInteger)
    size_lots: int = Field(sa_type=BigInteger)
    price: str
    size: str
    post_only: bool
    state: str = Field(index=True)
    venue_order_id: str | None = None
    filled_lots: int = Field(default=0, sa_type=BigInteger)
    created_ns: int = Field(sa_type=BigInteger)
    updated_ns: int = Field(sa_type=BigInteger)
    reason: str | None = None
    # The bot that wrote the row, as in every trading table (several bots may share a database;
    # "" in rows of older stores that cannot be attributed).
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class OrderEventRow(SQLModel, table=True):
    """Every state change of every order, in order: the audit trail."""

    __tablename__ = "order_events"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    client_order_id: str = Field(index=True)
    state: str
    filled_lots: int = Field(sa_type=BigInteger)
    ts_ns: int = Field(sa_type=BigInteger)
    reason: str | None = None
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class FillRow(SQLModel, table=True):
    __tablename__ = "fills"
    # Binance-style trade ids are unique per symbol, so the symbol is part of the identity; and per
    # account, so the instance is too (two bots on venues of the same name, two accounts).
    __table_args__ = (
        UniqueConstraint("instance_id", "venue", "symbol", "venue_trade_id", name="uq_fill_identity"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    venue: str = Field(index=True)
    symbol: str
    venue_trade_id: str
    venue_order_id: str
    client_order_id: str = Field(index=True)
    side: str
    price_ticks: int = Field(sa_type=BigInteger)
    size_lots: int = Field(sa_type=BigInteger)
    price: str
    size: str
    fee: str
    fee_asset: str
    is_maker: bool
    exchange_ts_ns: int = Field(index=True, sa_type=BigInteger)
    # The reference price the fill is attributed against, as the bot saw it when the fill arrived
    # (NULL when the fill arrived late, e.g. found by reconciliation, or the book had no price):
    # the fair price strategies quote around, and the top-of-book mid, exact on the tick grid.
    fair_at_fill: float | None = None
    mid_at_fill: str | None = None
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class BalanceSnapshotRow(SQLModel, table=True):
    __tablename__ = "balance_snapshots"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    venue: str = Field(index=True)
    asset: str
    free: str
    locked: str
    ts_ns: int = Field(index=True, sa_type=BigInteger)
    reason: str
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class PnlSnapshotRow(SQLModel, table=True):
    __tablename__ = "pnl_snapshots"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    market: str = Field(index=True)
    ts_ns: int = Field(index=True, sa_type=BigInteger)
    position_base: str
    cash_quote: str
    fees_quote: str
    mid: str
    pnl_quote: str
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class EventRow(SQLModel, table=True):
    """Bot lifecycle and operator-visible events (start, reconciliation, stop, pauses)."""

    __tablename__ = "events"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    ts_ns: int = Field(index=True, sa_type=BigInteger)
    kind: str = Field(index=True)
    detail: str
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})
