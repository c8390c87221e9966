"""The bot's periodic jobs: activity summary, balance and PnL snapshots, reconciliation while
quoting (bot.kernel.reconcile), store housekeeping."""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal

from sqlalchemy import delete, select, text
from sqlmodel import col

from bot.core.clock import NS_PER_S
from bot.core.domain import TERMINAL_STATES
from bot.kernel.control_store import ControlStore
from bot.kernel.mid_series import DEFAULT_RETENTION_DAYS, prune_mids
from bot.kernel.order_counters import OrderCounters
from bot.kernel.reconcile import reconcile_periodic
from bot.kernel.runtime import Runtime
from bot.kernel.store_rows import OrderEventRow, OrderRow, PnlSnapshotRow
from bot.ops.scheduler import JobScheduler
from bot.ops.settings import JobsConfig

log = logging.getLogger("mmbot.jobs")


def schedule_jobs(
    scheduler: JobScheduler,
    rt: Runtime,
    summary_interval_s: float,
    snapshot_interval_s: float,
    jobs: JobsConfig,
) -> None:
    """The periodic jobs every started bot runs."""
    summary = ActivitySummary(rt, summary_interval_s)

    async def reconcile() -> dict[str, int]:
        return await reconcile_periodic(
            rt.venues, rt.store, rt.orders, rt.clock, rt.instance_id, sink=rt.engine.on_event
        )

    async def trim() -> int:
        return housekeeping(rt, jobs.order_event_retention_days, jobs.mid_series_retention_days)

    scheduler.add("summary", summary_interval_s, summary.log)

    async def snapshot_and_beat() -> None:
        await snapshot(rt)
        heartbeat(rt, snapshot_interval_s)

    heartbeat(rt, snapshot_interval_s)
    scheduler.add("snapshot", snapshot_interval_s, snapshot_and_beat)
    scheduler.add("reconcile", jobs.reconcile_interval_s, reconcile)
    scheduler.add("housekeeping", jobs.housekeeping_interval_s, trim)


class ActivitySummary:
    """Logs what the bot did since the previous summary (orders, fills) and its PnL since start."""

    def __init__(self, rt: Runtime, interval_s: float) -> None:
        self.rt = rt
        self.interval_s = interval_s
        self._last = OrderCounters()

    async def log(self) -> None:
        orders = self.rt.orders
        now = dataclasses.replace(orders.counters)
        last, self._last = self._last, now
        log.info(
            "last %.0fs: placed %d, cancelled %d, rejected %d, risk-refused %d, fills %d | open %d, "
            "fills since start %d, pnl since start %s",
            self.interval_s,
            now.placed - last.placed,
            now.cancelled - last.cancelled,
            now.rejected - last.rejected,
            now.risk_refused - last.risk_refused,
            now.fills - last.fills,
            len(orders.live),
            now.fills,
            self._pnl_total(),
        )

    def _pnl_total(self) -> str:
        state = self.rt.state
        total = Decimal(0)
        for slot, pnl in enumerate(self.rt.orders.pnl):
            mid = state.mid_decimal(slot)
            if mid is not None:
                total += pnl.pnl_at(mid)
        return f"{total:.4f}"


async def snapshot(rt: Runtime, reason: str = "periodic") -> None:
    """Store every venue's balances and every market's PnL as of now."""
    now = rt.clock.now_ns()
    for name, venue in rt.venues.items():
        balances = await venue.fetch_balances()
        rt.orders.apply_balances(name, balances)
        rt.store.snapshot_balances(name, balances.values(), now, reason)
    rows = []
    for slot, market in enumerate(rt.markets):
        pnl = rt.orders.pnl[slot]
        mid = rt.state.mid_decimal(slot) or Decimal(0)
        rows.append(
            PnlSnapshotRow(
                market=market.key,
                ts_ns=now,
                position_base=str(pnl.position_base),
                cash_quote=str(pnl.cash_quote),
                fees_quote=str(pnl.fees_quote),
                mid=str(mid),
                pnl_quote=str(pnl.pnl_at(mid)),
            )
        )
    rt.store.snapshot_pnl(rows)


def heartbeat(rt: Runtime, interval_s: float) -> None:
    """The fleet view's sign of life (`mmbot status --all`), with each periodic snapshot."""
    markets = [market.key for market in rt.markets]
    ControlStore(rt.store, rt.instance_id).beat(rt.clock.now_ns(), interval_s, markets)


def housekeeping(
    rt: Runtime, retention_days: float, mid_series_retention_days: float = DEFAULT_RETENTION_DAYS
) -> int:
    """Drop audit rows of orders closed longer ago than the retention, and the mid series' rows
    older than its own (bot.kernel.mid_series.prune_mids); checkpoint SQLite's WAL. Returns the
    number of rows deleted."""
    retention_ns = int(retention_days * 86_400 * NS_PER_S)
    cutoff = rt.clock.now_ns() - retention_ns
    closed_before = rt.store.mine(select(col(OrderRow.client_order_id)), OrderRow.instance_id).where(
        col(OrderRow.state).in_([s.value for s in TERMINAL_STATES]),
        col(OrderRow.updated_ns) < cutoff,
    )
    engine = rt.store.engine
    with engine.begin() as conn:
        result = conn.execute(
            delete(OrderEventRow).where(col(OrderEventRow.client_order_id).in_(closed_before))
        )
        deleted = result.rowcount or 0
    mids_cutoff = rt.clock.now_ns() - int(mid_series_retention_days * 86_400 * NS_PER_S)
    mids_deleted = prune_mids(rt.store, mids_cutoff)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    log.info(
        "housekeeping: %d order audit rows and %d mid series rows older than their retention deleted",
        deleted, mids_deleted,
    )  # fmt: skip
    return deleted + mids_deleted
