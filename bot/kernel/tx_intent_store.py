"""The durable journal of on-chain transactions (#21): one row per intent, written before sending.

A row holds what is needed to settle the transaction from the chain after any failure or restart
(sender, nonce, every signed hash: replacements share the nonce), what was sent (target, calldata,
value, fees, bounds) and the follow-up context the strategy needs to book its outcome. `outcome`
stays NULL until the chain says how it ended ("mined", "reverted", "dropped": the nonce was taken
by another transaction, "not_sent": the node never had it); `booked` once the strategy's rows
(positions, fees, gas, swaps) reflect it, with the decoded `result`.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel, col, select

from bot.kernel.sql_types import ROW_ID
from bot.kernel.store import Store
from bot.kernel.unit_of_work import UnitOfWork

ENDED = ("mined", "reverted")  # outcomes that spent gas: booked by the strategy


class TxIntentRow(SQLModel, table=True):
    __tablename__ = "chain_tx_intents"
    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    strategy: str = Field(index=True)
    pool: str
    kind: str  # mint, increase, decrease, collect, burn, swap, approve
    label: str
    sender: str
    nonce: int = Field(sa_type=BigInteger)
    tx_hash: str  # the latest signed (or, once mined, the one mined)
    hashes: str  # JSON list: every hash signed at this nonce for this intent
    to_address: str
    calldata: str
    value_wei: str
    max_fee_wei: str
    tip_wei: str
    bounds: str  # JSON object: the floors / limits the calldata carries
    context: str  # JSON object: what the follow-up needs
    created_ns: int = Field(sa_type=BigInteger)
    updated_ns: int = Field(sa_type=BigInteger)
    outcome: str | None = Field(default=None, index=True)
    block_number: int | None = Field(default=None, sa_type=BigInteger)
    gas_cost_wei: str | None = None
    booked: bool = False
    result: str | None = None  # JSON object, written when booked
    instance_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})


class TxIntentStore:
    """The journal's rows of one strategy and pool, scoped to the store's instance (`Store.mine`)."""

    def __init__(self, store: Store, strategy: str, pool: str, work: UnitOfWork | None = None) -> None:
        """`work`: shared with the stores whose rows a booking writes (`LpStore.work`), so the
        booking and its `booked` mark commit together."""
        self.store, self.engine = store, store.engine
        self.strategy, self.pool = strategy, pool
        self.work = work if work is not None else UnitOfWork(store.engine)

    def add(self, row: TxIntentRow) -> int:
        row.instance_id = self.store.writer_id
        row.strategy, row.pool = self.strategy, self.pool
        with self.work.session() as session:
            session.add(row)
            session.flush()
        assert row.id is not None
        return row.id

    def update(self, intent_id: int, now_ns: int, **fields: Any) -> None:
        with self.work.session() as session:
            row = session.get(TxIntentRow, intent_id)
            if row is None:
                raise KeyError(f"tx intent {intent_id} was never stored")
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_ns = now_ns
            session.add(row)

    def add_hash(self, intent_id: int, now_ns: int, tx_hash: str, max_fee_wei: int, tip_wei: int) -> None:
        """A replacement of the same intent at the same nonce was signed."""
        row = self.get(intent_id)
        hashes = [*json.loads(row.hashes), tx_hash]
        self.update(intent_id, now_ns, tx_hash=tx_hash, hashes=json.dumps(hashes),
                    max_fee_wei=str(max_fee_wei), tip_wei=str(tip_wei))  # fmt: skip

    def get(self, intent_id: int) -> TxIntentRow:
        with self.work.session() as session:
            row = session.get(TxIntentRow, intent_id)
        if row is None:
            raise KeyError(f"tx intent {intent_id} was never stored")
        return row

    def _query(self) -> Any:
        query = select(TxIntentRow).where(
            TxIntentRow.strategy == self.strategy, TxIntentRow.pool == self.pool
        )
        return self.store.mine(query, TxIntentRow.instance_id)

    def rows(self) -> list[TxIntentRow]:
        with self.work.session() as session:
            return list(session.exec(self._query().order_by(col(TxIntentRow.id))))

    def unsettled(self) -> list[TxIntentRow]:
        """Signed, outcome not known yet: settle these from the chain before anything is sent."""
        query = self._query().where(col(TxIntentRow.outcome).is_(None)).order_by(col(TxIntentRow.id))
        with self.work.session() as session:
            return list(session.exec(query))

    def unbooked(self) -> list[TxIntentRow]:
        """Mined or reverted, not yet reflected in the strategy's rows."""
        query = self._query().where(col(TxIntentRow.outcome).in_(ENDED), col(TxIntentRow.booked).is_(False))
        with self.work.session() as session:
            return list(session.exec(query.order_by(col(TxIntentRow.id))))

    def last_result(self, kind: str, token_id: int) -> dict[str, Any] | None:
        """The booked result of the latest `kind` intent on position `token_id` (a resumed close)."""
        query = self._query().where(TxIntentRow.kind == kind, col(TxIntentRow.booked).is_(True))
        with self.work.session() as session:
            rows = list(session.exec(query.order_by(col(TxIntentRow.id).desc())))
        for row in rows:
            result = json.loads(row.result or "{}")
            if result.get("token_id") == token_id:
                return dict(result)
        return None
