"""LP and hedge persistence: positions, every LP decision with its numbers, fees, gas, hedge trades.

Same SQLModel metadata and engine as `bot.kernel.store.Store` (one database); the store's migrations
(bot/kernel/migrations) create the tables. Amounts that must stay exact (liquidity, raw token
amounts) are stored as strings; token1 valuations as floats (analytics).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import BigInteger, func
from sqlmodel import Field, SQLModel, col, select

from bot.kernel.sql_types import ROW_ID
from bot.kernel.store import Store
from bot.kernel.unit_of_work import UnitOfWork


class LpPositionRow(SQLModel, table=True):
    __tablename__ = "lp_positions"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    strategy: str = Field(index=True)
    pool: str = Field(index=True)
    token_id: int = Field(sa_type=BigInteger)
    tick_lower: int = Field(sa_type=BigInteger)
    tick_upper: int = Field(sa_type=BigInteger)
    liquidity: str
    amount0_in: str  # paid in: the mint plus every compound
    amount1_in: str
    value_in_token1: float  # at the opening
    opened_ns: int = Field(sa_type=BigInteger)
    closed_ns: int | None = Field(default=None, index=True, sa_type=BigInteger)
    amount0_out: str | None = None
    amount1_out: str | None = None
    close_reason: str | None = None
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class LpActionRow(SQLModel, table=True):
    """Every LP decision that acted or was refused (gas, interval), with the figures behind it."""

    __tablename__ = "lp_actions"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    strategy: str = Field(index=True)
    pool: str
    ts_ns: int = Field(index=True, sa_type=BigInteger)
    action: str
    reason: str
    executed: bool
    numbers: str  # JSON object
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class LpFeeRow(SQLModel, table=True):
    __tablename__ = "lp_fees"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    strategy: str = Field(index=True)
    pool: str
    token_id: int = Field(sa_type=BigInteger)
    ts_ns: int = Field(sa_type=BigInteger)
    amount0: str
    amount1: str
    value_token1: float
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class LpGasRow(SQLModel, table=True):
    __tablename__ = "lp_gas"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    strategy: str = Field(index=True)
    pool: str
    ts_ns: int = Field(sa_type=BigInteger)
    operation: str
    gas_wei: str
    cost_token1: float
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class LpSwapRow(SQLModel, table=True):
    """A ratio swap the LP manager made for a new range: in the pool (raw token amounts, as the
    pool reported them) or on a CEX market (`venue` its key; base and quote units of the market:
    a sale gives base in and quote out net of the fee, a purchase quote in with the fee, base out)."""

    __tablename__ = "lp_swaps"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    strategy: str = Field(index=True)
    pool: str
    ts_ns: int = Field(sa_type=BigInteger)
    zero_for_one: bool
    amount_in: str
    amount_out: str
    cost_token1: float  # value in − value out at the fair price (the fee and the impact)
    venue: str = "pool"  # added later: rows of older stores read as pool swaps
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class HedgeTradeRow(SQLModel, table=True):
    __tablename__ = "hedge_trades"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    strategy: str = Field(index=True)
    market: str
    ts_ns: int = Field(sa_type=BigInteger)
    client_order_id: str
    side: str
    price: str
    size: str
    fee: str
    is_maker: bool
    mid_at_decision: float
    cost_quote: float  # fee + distance from the decision mid, in quote units
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class LpMarkRow(SQLModel, table=True):
    """A position's running attribution figures the other tables cannot give: one row per position,
    updated in place while it is open and a last time when it closes."""

    __tablename__ = "lp_position_marks"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    position_id: int = Field(index=True, unique=True, sa_type=BigInteger)  # lp_positions.id
    ts_ns: int = Field(sa_type=BigInteger)
    lvr_realized_token1: float
    lvr_expected_token1: float
    pending_fees_token1: float  # uncollected at ts_ns (0 once closed: collected into lp_fees)
    swap_cost_token1: float  # the ratio swap that opened it
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class LpHedgeCarryRow(SQLModel, table=True):
    """A hedger's funding (perp) or borrow (spot short) carry charged to one LP position so far:
    one row per (hedger, position), its running total replaced in place (the carry accrues every
    hedger round; the trades' costs are in `hedge_trades`)."""

    __tablename__ = "lp_hedge_carry"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    strategy: str = Field(index=True)  # the hedger
    position_id: int = Field(index=True, sa_type=BigInteger)  # lp_positions.id
    ts_ns: int = Field(sa_type=BigInteger)
    carry_quote: float
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class LpEstimatesRow(SQLModel, table=True):
    """A pool manager's estimates (σ̂, fee flow; JSON of `strategies.lp.estimates`), replaced in
    place: what a restart or reload resumes instead of measuring the pool again for hours."""

    __tablename__ = "lp_estimates"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    strategy: str = Field(index=True)
    pool: str
    ts_ns: int = Field(sa_type=BigInteger)
    estimates: str
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class LpStore:
    """The LP tables of one store, scoped to its instance (`Store.mine`) like the trading tables."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine
        # Shared with the chain journal's rows: a booking and its "booked" mark commit together.
        self.work = UnitOfWork(store.engine)

    def _add(self, row: SQLModel) -> SQLModel:
        row.instance_id = self.store.writer_id
        with self.work.session() as session:
            session.add(row)
            session.flush()  # its id
        return row

    # ---- writes ------------------------------------------------------------------------------

    def open_position(self, row: LpPositionRow) -> int:
        stored = self._add(row)
        assert isinstance(stored, LpPositionRow) and stored.id is not None
        return stored.id

    def close_position(
        self, row_id: int, closed_ns: int, amount0_out: int, amount1_out: int, reason: str
    ) -> None:
        with self.work.session() as session:
            row = session.get(LpPositionRow, row_id)
            if row is None:
                raise KeyError(f"lp position row {row_id} was never stored")
            row.closed_ns, row.close_reason = closed_ns, reason
            row.amount0_out, row.amount1_out = str(amount0_out), str(amount1_out)
            session.add(row)

    def add_liquidity(self, row_id: int, liquidity: int, amount0_added: int, amount1_added: int) -> None:
        """A compound: the position's new total liquidity; what it paid joins amount0/1_in."""
        with self.work.session() as session:
            row = session.get(LpPositionRow, row_id)
            if row is None:
                raise KeyError(f"lp position row {row_id} was never stored")
            row.liquidity = str(liquidity)
            row.amount0_in = str(int(row.amount0_in) + amount0_added)
            row.amount1_in = str(int(row.amount1_in) + amount1_added)
            session.add(row)

    def record_action(
        self,
        strategy: str,
        pool: str,
        ts_ns: int,
        action: str,
        reason: str,
        executed: bool,
        numbers: dict[str, Any],
    ) -> None:
        self._add(
            LpActionRow(
                strategy=strategy,
                pool=pool,
                ts_ns=ts_ns,
                action=action,
                reason=reason,
                executed=executed,
                numbers=json.dumps(numbers, default=float),
            )
        )

    def record_fees(
        self, strategy: str, pool: str, token_id: int, ts_ns: int, amount0: int, amount1: int, value: float
    ) -> None:
        self._add(
            LpFeeRow(
                strategy=strategy,
                pool=pool,
                token_id=token_id,
                ts_ns=ts_ns,
                amount0=str(amount0),
                amount1=str(amount1),
                value_token1=value,
            )
        )

    def record_gas(
        self, strategy: str, pool: str, ts_ns: int, operation: str, gas_wei: int, cost: float
    ) -> None:
        self._add(
            LpGasRow(
                strategy=strategy,
                pool=pool,
                ts_ns=ts_ns,
                operation=operation,
                gas_wei=str(gas_wei),
                cost_token1=cost,
            )
        )

    def record_swap(self, row: LpSwapRow) -> None:
        self._add(row)

    def record_hedge_trade(self, row: HedgeTradeRow) -> None:
        self._add(row)

    def set_hedge_carry(self, strategy: str, position_id: int, ts_ns: int, carry_quote: float) -> None:
        """Insert or replace what `strategy` has charged `position_id` in carry so far."""
        with self.work.session() as session:
            query = self.store.mine(select(LpHedgeCarryRow), LpHedgeCarryRow.instance_id).where(
                LpHedgeCarryRow.strategy == strategy, LpHedgeCarryRow.position_id == position_id
            )
            row = session.exec(query).first()
            if row is None:
                row = LpHedgeCarryRow(strategy=strategy, position_id=position_id, ts_ns=ts_ns,
                                      carry_quote=carry_quote, instance_id=self.store.writer_id)  # fmt: skip
            row.ts_ns, row.carry_quote = ts_ns, carry_quote
            session.add(row)

    def mark_position(self, mark: LpMarkRow) -> None:
        """Insert or replace the mark of `mark.position_id`."""
        with self.work.session() as session:
            row = session.exec(select(LpMarkRow).where(LpMarkRow.position_id == mark.position_id)).first()
            if row is None:
                row = mark
                row.instance_id = self.store.writer_id
            else:
                for name in ("ts_ns", "lvr_realized_token1", "lvr_expected_token1", "pending_fees_token1",
                             "swap_cost_token1"):  # fmt: skip
                    setattr(row, name, getattr(mark, name))
            session.add(row)

    def save_estimates(self, strategy: str, pool: str, ts_ns: int, estimates: str) -> None:
        """Insert or replace the pool's stored estimates."""
        with self.work.session() as session:
            row = session.exec(self._estimates_query(strategy, pool)).first()
            if row is None:
                row = LpEstimatesRow(strategy=strategy, pool=pool, ts_ns=ts_ns, estimates=estimates,
                                     instance_id=self.store.writer_id)  # fmt: skip
            row.ts_ns, row.estimates = ts_ns, estimates
            session.add(row)

    # ---- reads -------------------------------------------------------------------------------

    def estimates(self, strategy: str, pool: str) -> LpEstimatesRow | None:
        with self.work.session() as session:
            return session.exec(self._estimates_query(strategy, pool)).first()

    def _estimates_query(self, strategy: str, pool: str) -> Any:
        query = select(LpEstimatesRow).where(LpEstimatesRow.strategy == strategy, LpEstimatesRow.pool == pool)
        return query.where(LpEstimatesRow.instance_id == self.store.writer_id)

    def positions(self, strategy: str | None = None, open_only: bool = False) -> list[LpPositionRow]:
        query = self.store.mine(select(LpPositionRow), LpPositionRow.instance_id)
        if strategy is not None:
            query = query.where(LpPositionRow.strategy == strategy)
        if open_only:
            query = query.where(col(LpPositionRow.closed_ns).is_(None))
        with self.work.session() as session:
            return list(session.exec(query.order_by(col(LpPositionRow.id))))

    def actions(self, strategy: str | None = None, executed: bool | None = None) -> list[LpActionRow]:
        query = self.store.mine(select(LpActionRow), LpActionRow.instance_id)
        if strategy is not None:
            query = query.where(LpActionRow.strategy == strategy)
        if executed is not None:
            query = query.where(LpActionRow.executed == executed)
        with self.work.session() as session:
            return list(session.exec(query.order_by(col(LpActionRow.id))))

    def last_executed_ns(self, strategy: str, pool: str) -> int | None:
        """When the pool's last executed LP decision was taken (None: never)."""
        query = select(func.max(LpActionRow.ts_ns)).where(
            LpActionRow.strategy == strategy, LpActionRow.pool == pool, col(LpActionRow.executed).is_(True)
        )
        with self.work.session() as session:
            return session.exec(self.store.mine(query, LpActionRow.instance_id)).one()

    def fees(self) -> list[LpFeeRow]:
        with self.work.session() as session:
            query = self.store.mine(select(LpFeeRow), LpFeeRow.instance_id)
            return list(session.exec(query.order_by(col(LpFeeRow.id))))

    def gas(self) -> list[LpGasRow]:
        with self.work.session() as session:
            query = self.store.mine(select(LpGasRow), LpGasRow.instance_id)
            return list(session.exec(query.order_by(col(LpGasRow.id))))

    def swaps(self) -> list[LpSwapRow]:
        with self.work.session() as session:
            query = self.store.mine(select(LpSwapRow), LpSwapRow.instance_id)
            return list(session.exec(query.order_by(col(LpSwapRow.id))))

    def cex_leg_offset(self, strategy: str, pool: str) -> tuple[float, float]:
        """token0 and token1 (human) the CEX legs of a pool's excess swaps moved, summed: what the
        CEX account holds against the tokens those legs left idle in the pool wallet."""
        query = select(LpSwapRow).where(
            LpSwapRow.strategy == strategy, LpSwapRow.pool == pool, LpSwapRow.venue != "pool"
        )
        query = self.store.mine(query, LpSwapRow.instance_id)
        token0 = token1 = 0.0
        with self.work.session() as session:
            for row in session.exec(query):
                if row.zero_for_one:  # sold base for quote
                    token0, token1 = token0 - float(row.amount_in), token1 + float(row.amount_out)
                else:
                    token0, token1 = token0 + float(row.amount_out), token1 - float(row.amount_in)
        return token0, token1

    def marks(self) -> dict[int, LpMarkRow]:
        """Marks by position row id."""
        with self.work.session() as session:
            query = self.store.mine(select(LpMarkRow), LpMarkRow.instance_id)
            return {m.position_id: m for m in session.exec(query)}

    def hedge_carry(self) -> dict[int, float]:
        """Carry charged to each position (row id) by every hedger, quote units."""
        carry: dict[int, float] = {}
        with self.work.session() as session:
            for row in session.exec(self.store.mine(select(LpHedgeCarryRow), LpHedgeCarryRow.instance_id)):
                carry[row.position_id] = carry.get(row.position_id, 0.0) + row.carry_quote
        return carry

    def hedge_trades(self, strategy: str | None = None) -> list[HedgeTradeRow]:
        query = self.store.mine(select(HedgeTradeRow), HedgeTradeRow.instance_id)
        if strategy is not None:
            query = query.where(HedgeTradeRow.strategy == strategy)
        with self.work.session() as session:
            return list(session.exec(query.order_by(col(HedgeTradeRow.id))))
