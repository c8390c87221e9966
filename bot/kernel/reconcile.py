"""Reconciliation with the venues: at start-up, periodically while quoting, and at stop.

Start-up (`reconcile_venue`) makes the store agree with a venue before quoting. Order of the steps
matters: fills first (so an order that filled while we were down is closed as filled, not
cancelled), then orders the store thinks are open, then orders the venue has that the store does
not know. While quoting, `reconcile_periodic` stores fills the streams missed and cancels orders of
ours nobody tracks. At stop, and on the operator's cancel-all, `cancel_everything` cancels until
neither the venues nor we list an open order of ours, and `store_last_fills` keeps the fills of
the last moments.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace

from bot.core.clock import Clock
from bot.core.domain import Market, Order, OrderRequest, OrderState, Side
from bot.core.events import FillEvent, OrderUpdate, VenueEvent
from bot.core.ids import client_order_prefix
from bot.kernel.order_manager import OrderManager
from bot.kernel.store import Store
from bot.kernel.store_rows import OrderRow
from connectors.base import OrderNotFound, Venue, VenueError

log = logging.getLogger("mmbot.reconcile")

# Fills are fetched from a little before the newest stored one: venues' timestamps are not ours.
FILL_LOOKBACK_NS = 60 * 1_000_000_000

# Orders a stop can find tracked but not listed by the venue: their request's answer was lost.
_UNSETTLED = frozenset({OrderState.PENDING_NEW, OrderState.PENDING_CANCEL})


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
    venue: Venue,
    symbols: Iterable[str],
    store: Store,
    orders: OrderManager,
    instance_id: str,
    sink: Callable[[VenueEvent], None] | None = None,
) -> int:
    """Store our venue fills the store lacks (from a little before its newest); returns how many.

    With a `sink` (the engine's event intake) a found fill takes the stream's path: stored by the
    order manager, then seen by every strategy's `on_event`, so a hedging strategy hedges it at
    once. Without one (start-up, stop) it is only stored; a strategy that starts later finds it in
    the store (XEMM scans the fills table for maker fills it has not obliged yet).
    """
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
            if sink is None:
                inserted += orders.apply_fill(fill)
                continue
            before = orders.counters.fills
            sink(FillEvent(fill, orders.clock.now_ns()))
            inserted += orders.counters.fills - before
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


async def reconcile_periodic(
    venues: Mapping[str, Venue],
    store: Store,
    orders: OrderManager,
    clock: Clock,
    instance_id: str,
    sink: Callable[[VenueEvent], None] | None = None,
) -> dict[str, int]:
    """While quoting: store fills the streams missed (through `sink`, the engine's event intake,
    so strategies see them as they see streamed fills), cancel open orders of ours nobody tracks.

    Orders we track are left alone (their requests may still be in flight); the start-up
    reconciliation is the one that closes stale store rows.
    """
    prefix = client_order_prefix(instance_id)
    missed = orphans = 0
    for name, venue in venues.items():
        symbols = [m.symbol for m in orders.state.markets if m.venue == name]
        missed += await store_missed_fills(venue, symbols, store, orders, instance_id, sink)
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
        store.record_event("reconcile_periodic", clock.now_ns(), missed_fills=missed, orphans=orphans)
    return {"missed_fills": missed, "orphans_cancelled": orphans}


async def store_last_fills(
    venues: Mapping[str, Venue], store: Store, orders: OrderManager, instance_id: str
) -> None:
    """At stop: fills made just before the cancels may still be in flight on a stream about to close."""
    for name, venue in venues.items():
        symbols = [m.symbol for m in orders.state.markets if m.venue == name]
        try:
            found = await store_missed_fills(venue, symbols, store, orders, instance_id)
        except VenueError as exc:
            log.warning("cannot check %s for last fills (the next start will): %s", name, exc)
            continue
        if found:
            log.info("stop: %d fills of the last moments stored from %s", found, name)


async def cancel_everything(
    venues: Mapping[str, Venue],
    orders: OrderManager,
    instance_id: str,
    timeout_s: float,
    *,
    quiesced: bool = True,
    paced: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Cancel until neither the venues nor we have an open order of ours (or the timeout).

    Returns how many are left. `quiesced`: nothing else sends orders now (stop, offline
    cancel-all), so a tracked order the venue does not list has no request in flight and can be
    settled by asking the venue. `paced`: awaited before each sweep (the engine's
    `rounds.sweep_start`: a paper session's replay sweeps when the session did).
    """
    prefix = client_order_prefix(instance_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        if paced is not None:
            await paced()
        # Every cancel of ours has been answered once this returns: an order of ours the venue
        # still lists is open whatever our state says (a cancel lost in a crash, a stale ack).
        await orders.cancel_all()
        venue_open = 0
        for venue in venues.values():
            listed = await _cancel_listed(venue, orders, prefix, quiesced=quiesced)
            venue_open += 1 if listed is None else listed
        if (venue_open == 0 and not orders.live) or loop.time() > deadline:
            return max(venue_open, len(orders.live))
        await asyncio.sleep(0.05)


async def _cancel_listed(venue: Venue, orders: OrderManager, prefix: str, *, quiesced: bool) -> int | None:
    """One venue's pass of `cancel_everything`: how many of ours it lists (None: it cannot say)."""
    try:
        open_orders = await venue.fetch_open_orders()
    except VenueError as exc:
        log.warning("cannot list open orders on %s: %s", venue.name, exc)
        return None
    listed = {u.client_order_id for u in open_orders}
    for order in [o for o in orders.live.values() if o.request.venue == venue.name]:
        if quiesced and order.client_order_id not in listed and order.state in _UNSETTLED:
            await orders.settle(order)  # learn how it ended instead of waiting
    ours = 0
    for update in open_orders:
        if not update.client_order_id.startswith(prefix):
            continue
        ours += 1
        tracked = orders.live.get(update.client_order_id)
        if not quiesced and tracked is not None and tracked.state is OrderState.PENDING_CANCEL:
            continue  # the engine's own cancel may still be in flight
        try:
            orders.apply_update(await venue.cancel_order(update.symbol, update.client_order_id))
        except OrderNotFound:
            pass
        except VenueError as exc:
            log.warning("cancel %s failed: %s", update.client_order_id, exc)
    return ours
