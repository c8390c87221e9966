"""The bot's periodic jobs: runtime reconciliation and store housekeeping (snapshots live in app)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, text

from bot.core.clock import NS_PER_S
from bot.core.domain import TERMINAL_STATES
from bot.core.ids import client_order_prefix
from bot.kernel.reconcile import store_missed_fills
from bot.kernel.store import OrderEventRow, OrderRow
from connectors.base import OrderNotFound

if TYPE_CHECKING:
    from bot.app.lifecycle import Bot

log = logging.getLogger("mmbot.jobs")


async def reconcile_running(bot: Bot) -> dict[str, int]:
    """While quoting: store fills the streams missed, cancel open orders of ours nobody tracks.

    Orders the bot tracks are left alone (their requests may still be in flight); the start-up
    reconciliation is the one that closes stale store rows.
    """
    assert bot.orders is not None and bot.clock is not None
    orders, store = bot.orders, bot.store
    prefix = client_order_prefix(bot.config.bot.instance_id)
    missed = orphans = 0
    for name, venue in bot.venues.items():
        symbols = [m.symbol for m in orders.state.markets if m.venue == name]
        missed += await store_missed_fills(venue, symbols, store, orders, bot.config.bot.instance_id)
        for update in await venue.fetch_open_orders():
            cid = update.client_order_id
            if not cid.startswith(prefix) or cid in orders.live:
                continue
            try:
                orders.apply_update(await venue.cancel_order(update.symbol, cid))
                orphans += 1
            except OrderNotFound:
                pass
    if missed or orphans:
        log.warning(
            "periodic reconciliation: %d missed fills stored, %d orphan orders cancelled", missed, orphans
        )
        store.record_event("reconcile_periodic", bot.clock.now_ns(), missed_fills=missed, orphans=orphans)
    return {"missed_fills": missed, "orphans_cancelled": orphans}


def housekeeping(bot: Bot) -> int:
    """Drop audit rows of orders closed longer ago than the retention; checkpoint SQLite's WAL."""
    assert bot.clock is not None
    retention_ns = int(bot.config.bot.jobs.order_event_retention_days * 86_400 * NS_PER_S)
    cutoff = bot.clock.now_ns() - retention_ns
    closed_before = select(OrderRow.client_order_id).where(
        OrderRow.state.in_([s.value for s in TERMINAL_STATES]),  # type: ignore[attr-defined]
        OrderRow.updated_ns < cutoff,
    )
    engine = bot.store.engine
    with engine.begin() as conn:
        result = conn.execute(
            delete(OrderEventRow).where(OrderEventRow.client_order_id.in_(closed_before))  # type: ignore[attr-defined]
        )
        deleted = result.rowcount or 0
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    log.info("housekeeping: %d order audit rows older than the retention deleted", deleted)
    return deleted
