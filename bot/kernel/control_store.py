"""What the operator and the kill switch decided, kept across restarts: pauses, trips, baselines.

A paused bot that crashes must come back paused; a kill switch that tripped must still be tripped
after a restart; the daily loss counts from 00:00 UTC whatever the restarts in between. Each is a
row of its own table (`control_state`, keyed by instance id and name, the value as JSON), written
when it changes and read once at start. Kept apart from store.py's trading tables on purpose: it
is small, keyed state, not history (the `events` table keeps the history of pauses and trips).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import BigInteger, delete
from sqlmodel import Field, Session, SQLModel, col, select

from bot.kernel.store import Store

# Names of the rows (per instance id).
OPERATOR_PAUSE = "pause"  # {"source", "reason"}: the bot-wide pause (operator or kill switch)
KILL_SWITCH_TRIP = "kill_switch_trip"  # the Trip the kill switch is holding
LOSS_BASELINES = "loss_baselines"  # the kill switch's references for drawdown and daily loss
MARKET_PAUSE = "market_pause:"  # + "<strategy>|<venue:symbol>": a market a strategy paused
HEARTBEAT = "heartbeat"  # {"ts_ns", "interval_s", "markets"}: the bot is alive (`mmbot status --all`)


class ControlRow(SQLModel, table=True):
    __tablename__ = "control_state"
    instance_id: str = Field(primary_key=True)
    name: str = Field(primary_key=True)
    value: str  # JSON object
    updated_ns: int = Field(sa_type=BigInteger)


_TABLE = ControlRow.__table__  # type: ignore[attr-defined]


class ControlStore:
    """The control rows of one instance id in the bot's store."""

    def __init__(self, store: Store, instance_id: str) -> None:
        self.engine = store.engine
        self.instance_id = instance_id

    def put(self, name: str, value: dict[str, Any], ts_ns: int) -> None:
        # Delete then insert in one transaction: the same on every SQLAlchemy backend.
        row = dict(instance_id=self.instance_id, name=name, value=json.dumps(value), updated_ns=ts_ns)
        with self.engine.begin() as conn:
            conn.execute(self._delete(name))
            conn.execute(_TABLE.insert(), row)

    def remove(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(self._delete(name))

    def get(self, name: str) -> dict[str, Any] | None:
        query = select(ControlRow.value).where(
            ControlRow.instance_id == self.instance_id, ControlRow.name == name
        )
        with Session(self.engine) as session:
            value = session.exec(query).first()
        return None if value is None else dict(json.loads(value))

    def with_prefix(self, prefix: str) -> dict[str, dict[str, Any]]:
        """Every row whose name starts with `prefix`: name without the prefix -> value."""
        query = select(ControlRow.name, ControlRow.value).where(
            ControlRow.instance_id == self.instance_id,
            col(ControlRow.name).startswith(prefix, autoescape=True),  # "_" is not a wildcard here
        )
        with Session(self.engine) as session:
            return {name[len(prefix) :]: dict(json.loads(value)) for name, value in session.exec(query)}

    def beat(self, ts_ns: int, interval_s: float, markets: list[str]) -> None:
        """The instance is alive at `ts_ns` and will say so again within `interval_s`."""
        self.put(HEARTBEAT, {"ts_ns": ts_ns, "interval_s": interval_s, "markets": markets}, ts_ns)

    def _delete(self, name: str) -> Any:
        return delete(_TABLE).where(_TABLE.c.instance_id == self.instance_id, _TABLE.c.name == name)
