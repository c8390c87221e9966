"""REST reads of one ccxt venue: orders by our client id, open orders, balances, our trades.

Shared by the venue's port methods, the batch resolver and the REST catch-up (account_sync).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from bot.core.domain import Balance, Market
from bot.core.events import OrderUpdate
from connectors.base import OrderNotFound, VenueError, VenueUnavailable
from connectors.ccxt import convert
from connectors.ccxt.session import CcxtSession

_FILL_PAGE = 500
_MAX_FILL_PAGES = 20


async def fetch_order_raw(session: CcxtSession, market: Market, cid: str) -> dict[str, Any]:
    """ccxt's order for our client id (by the venue id when we know it); raises OrderNotFound."""
    exchange, rest = session.connected()
    order_id = session.tracker.oid_for(cid) or cid
    order: dict[str, Any] = await rest.call(
        f"fetch_order {cid} {market.symbol}",
        lambda: exchange.fetch_order(order_id, market.symbol, {"clientOrderId": cid}),
    )
    return order


async def lookup_by_client_id(session: CcxtSession, market: Market, cid: str) -> dict[str, Any] | None:
    """The venue's order for our client id, None if it has none; raises if it cannot tell."""
    try:
        return await fetch_order_raw(session, market, cid)
    except OrderNotFound:
        return None
    except VenueError as exc:
        raise VenueUnavailable(
            session.name, f"create {cid}: outcome unknown and the lookup by client id failed: {exc}"
        ) from exc


async def fetch_order(session: CcxtSession, symbol: str, client_order_id: str) -> OrderUpdate:
    session.require_credentials("fetch_order")
    market = session.market(symbol)
    order = await fetch_order_raw(session, market, client_order_id)
    update = convert.to_order_update(market, order, session.clock.now_ns())
    if not update.client_order_id:
        update = replace(update, client_order_id=client_order_id)
    session.tracker.remember(update.client_order_id, update.venue_order_id)
    return update


async def fetch_open_orders(session: CcxtSession, symbol: str | None = None) -> list[OrderUpdate]:
    exchange, rest = session.trading("fetch_open_orders")
    if symbol is not None:
        session.market(symbol)
    orders: list[dict[str, Any]] = await rest.call(
        f"fetch_open_orders {symbol or 'all'}", lambda: exchange.fetch_open_orders(symbol)
    )
    now = session.clock.now_ns()
    out = []
    for order in orders:
        market = session.markets.get(order.get("symbol") or "")
        if market is not None:
            update = convert.to_order_update(market, order, now)
            session.tracker.remember(update.client_order_id, update.venue_order_id)
            out.append(update)
    return out


async def fetch_balances(session: CcxtSession) -> dict[str, Balance]:
    exchange, rest = session.trading("fetch_balances")
    balance = await rest.call("fetch_balance", lambda: exchange.fetch_balance())
    return convert.to_balances(balance)


async def fetch_trades_raw(session: CcxtSession, symbol: str, since_ms: int | None) -> list[dict[str, Any]]:
    """Our trades in `symbol` from `since_ms` on (inclusive), page by page; None: the latest page."""
    exchange, rest = session.connected()
    out: list[dict[str, Any]] = []
    for _ in range(_MAX_FILL_PAGES):
        page: list[dict[str, Any]] = await rest.call(
            f"fetch_my_trades {symbol}", partial(exchange.fetch_my_trades, symbol, since_ms, _FILL_PAGE)
        )
        out.extend(page)
        if len(page) < _FILL_PAGE or since_ms is None:
            break
        newest = max(t.get("timestamp") or 0 for t in page)
        if newest <= since_ms:
            break
        since_ms = newest  # inclusive: same-millisecond trades repeat and are deduplicated
    return out
