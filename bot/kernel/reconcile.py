"""Start-up reconciliation: make the store agree with a venue before quoting.

Order of the steps matters: fills first (so an order that filled while we were down is closed as
filled, not cancelled), then orders the store thinks are open, then orders the venue has that the
store does not know.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

from bot.core.clock import Clock
from bot.core.domain import Market, Order, OrderRequest, OrderState, Side
from bot.core.events import OrderUpdate
from bot.core.ids import client_order_prefix
from bot.kernel.order_manager import OrderManager
from bot.kernel.store import OrderRow, Store
from connectors.base import OrderNotFound, Venue

log = logging.getLogger("mmbot.reconcile")

# Fills are fetched from a little before the newest stored one: venues' timestamps are not ours.
FILL_LOOKBACK_NS = 60 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    venue: str
    fills_inserted: int
    closed_in_store: int
    cancelled_unknown: int
    adopted: int


def _order_from_row(row: OrderRow) -> Order:
    request = OrderRequest(
        row.client_order_id,
        row.venue,
        row.symbol,
        Side(row.side),
        row.price_ticks,
        row.size_lots,
        row.post_only,
    )
    return Order(
        request,
        OrderState(row.state),
        row.created_ns,
        row.updated_ns,
        row.venue_order_id,
        row.filled_lots,
        row.reason,
    )


async def store_missed_fills(
    venue: Venue, symbols: Iterable[str], store: Store, orders: OrderManager, instance_id: str
) -> int:
    """Store our venue fills the store lacks (from a little before its newest); returns how many."""
    prefix = client_order_prefix(instance_id)
    last_ts = store.last_fill_ts_ns(venue.name)
    since = None if last_ts is None else last_ts - FILL_LOOKBACK_NS
    # Re-reading fills already stored is expected here, not the venue reporting one twice.
    known = store.fill_keys_since(venue.name, since)
    inserted = 0
    for symbol in symbols:
        for fill in await venue.fetch_fills(symbol, since):
            if (fill.symbol, fill.venue_trade_id) in known or not fill.client_order_id.startswith(prefix):
                continue
            if orders.apply_fill(fill):
                inserted += 1
    return inserted


async def reconcile_venue(
    venue: Venue,
    markets: dict[str, Market],
    store: Store,
    orders: OrderManager,
    clock: Clock,
    instance_id: str,
) -> ReconcileReport:
    prefix = client_order_prefix(instance_id)
    inserted = await store_missed_fills(venue, markets, store, orders, instance_id)

    venue_open = {u.client_order_id: u for u in await venue.fetch_open_orders() if u.symbol in markets}
    closed = adopted = 0
    for row in store.open_orders(venue.name):
        order = _order_from_row(row)
        update = venue_open.pop(row.client_order_id, None)
        if update is not None:
            if order.state is OrderState.PENDING_CANCEL:
                # The cancel was sent by a process that died: nothing is in flight any more and the
                # venue says open, so the order is managed (and cancelled when unwanted) again.
                order.transition(OrderState.OPEN, clock.now_ns(), reason="cancel lost in a restart")
                store.record_order_state(order)
            orders.adopt(order)
            orders.apply_update(update)
            adopted += 1
            continue
        await _close_missing(venue, order, orders, clock)
        closed += 1

    cancelled = 0
    for update in venue_open.values():
        if not update.client_order_id.startswith(prefix):
            continue  # someone else's order on a shared account: never touch it
        try:
            await venue.cancel_order(update.symbol, update.client_order_id)
            cancelled += 1
            log.warning(
                "cancelled %s on %s: ours by prefix but unknown to the store",
                update.client_order_id,
                venue.name,
            )
        except OrderNotFound:
            pass
    report = ReconcileReport(venue.name, inserted, closed, cancelled, adopted)
    store.record_event("reconcile", clock.now_ns(), **asdict(report))
    log.info(
        "reconciled %s: %d missed fills stored, %d stale orders closed, %d unknown orders cancelled, "
        "%d open orders adopted",
        venue.name,
        inserted,
        closed,
        cancelled,
        adopted,
    )
    return report


async def _close_missing(venue: Venue, order: Order, orders: OrderManager, clock: Clock) -> None:
    """The store says open, the venue's open list does not: ask how it ended and store that."""
    orders.adopt(order)
    try:
        update = await venue.fetch_order(order.request.symbol, order.client_order_id)
    except OrderNotFound:
        final = OrderState.REJECTED if order.state is OrderState.PENDING_NEW else OrderState.CANCELLED
        req = order.request
        update = OrderUpdate(
            req.venue,
            req.symbol,
            req.client_order_id,
            order.venue_order_id,
            final,
            req.side,
            req.price_ticks,
            req.size_lots,
            order.filled_lots,
            clock.now_ns(),
            reason="absent on the venue at reconciliation",
        )
    if update.state.is_live:
        # The venue lists it as closed elsewhere but open here: trust the open-orders list.
        update = replace(update, state=OrderState.CANCELLED, reason="not in the venue's open orders")
    orders.apply_update(update)
