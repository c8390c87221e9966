"""Batch create and cancel through ccxt's createOrders / cancelOrders, where the exchange has them.

Results come back one per request, in order. A batch whose outcome is unknown is resolved order
by order through the client ids, never re-sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ccxt

from bot.core.domain import Market, OrderRequest
from bot.core.events import OrderUpdate
from connectors.base import OrderNotFound, OrderRejected, VenueError, VenueUnavailable
from connectors.ccxt import convert
from connectors.ccxt.orders import ack, create_args
from connectors.ccxt.queries import lookup_by_client_id
from connectors.ccxt.session import CcxtSession


async def place_batch(
    session: CcxtSession, requests: Sequence[OrderRequest]
) -> list[OrderUpdate | VenueError]:
    """One createOrders call; raises ccxt.NotSupported when the exchange refuses it here."""
    exchange, rest = session.trading("place_orders")
    markets = [session.market(r.symbol) for r in requests]
    batch = []
    for market, request in zip(markets, requests, strict=True):
        symbol, type_, side, amount, price, params = create_args(market, request)
        batch.append(
            {
                "symbol": symbol,
                "type": type_,
                "side": side,
                "amount": amount,
                "price": price,
                "params": params,
            }
        )
    await session.budget.acquire(len(requests))
    tracker = session.tracker
    for request in requests:
        tracker.placed(request.client_order_id, request.symbol)
    rest.forget_response()
    try:
        orders = await exchange.create_orders(batch)
    except ccxt.NotSupported:
        for request in requests:
            tracker.live.pop(request.client_order_id, None)
        raise
    except ccxt.BaseError as exc:
        mapped = rest.map(exc, f"create_orders x{len(requests)}", is_create=True)
        if mapped.not_executed:
            for request in requests:
                tracker.live.pop(request.client_order_id, None)
            return [mapped.error for _ in requests]
        return [
            await _resolve_unknown(session, m, r, mapped.error)
            for m, r in zip(markets, requests, strict=True)
        ]
    results: list[OrderUpdate | VenueError] = []
    by_cid = {o.get("clientOrderId"): o for o in orders if o.get("clientOrderId")}
    for i, (market, request) in enumerate(zip(markets, requests, strict=True)):
        order = by_cid.get(request.client_order_id) or (orders[i] if i < len(orders) else None)
        if order is not None and order.get("id") is not None:
            results.append(ack(session, market, request, order))
        else:
            tracker.live.pop(request.client_order_id, None)
            info = order.get("info") if order is not None else "no result"
            results.append(OrderRejected(session.name, f"create {request.client_order_id}: {info}"))
    return results


async def _resolve_unknown(
    session: CcxtSession, market: Market, request: OrderRequest, error: VenueError
) -> OrderUpdate | VenueError:
    try:
        found = await lookup_by_client_id(session, market, request.client_order_id)
    except VenueUnavailable as exc:
        return exc
    if found is None:
        session.tracker.live.pop(request.client_order_id, None)
        return OrderRejected(
            session.name, f"create {request.client_order_id} never reached the venue: {error}"
        )
    return ack(session, market, request, found)


async def cancel_batch(
    session: CcxtSession, symbol: str, cids: list[str]
) -> list[OrderUpdate | VenueError] | None:
    """One cancelOrders call; None when the exchange refuses batches here (use single calls)."""
    exchange, rest = session.trading("cancel_orders")
    market = session.market(symbol)
    await session.budget.acquire(len(cids))
    ids = [session.tracker.oid_for(cid) or cid for cid in cids]
    try:
        orders: list[Any] = await rest.call(
            f"cancel_orders x{len(cids)} {symbol}",
            lambda: exchange.cancel_orders(ids, symbol, {"clientOrderIds": cids}),
        )
    except VenueError as exc:
        if isinstance(exc.__cause__, ccxt.NotSupported | ccxt.BadRequest):
            return None
        return [exc for _ in cids]
    by_cid = {o.get("clientOrderId"): o for o in orders if isinstance(o, dict)}
    results: list[OrderUpdate | VenueError] = []
    now = session.clock.now_ns()
    for cid in cids:
        order = by_cid.get(cid)
        if order is None or order.get("id") is None:
            results.append(OrderNotFound(session.name, f"cancel {cid}: not in the batch result"))
            continue
        update = convert.to_order_update(market, order, now)
        session.tracker.on_update(update)
        results.append(update)
    return results
