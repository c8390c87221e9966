"""Order entry on a ccxt venue: create arguments, acks, and the create that is never sent twice blind.

Our client order ids go to the exchange as `clientOrderId`, so every order can be looked up by the
id we chose, which is what makes an unknown-outcome create safe: it is checked by client id before
it is ever sent again.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from typing import Any

import ccxt

from bot.core.domain import Market, OrderRequest
from bot.core.events import OrderUpdate
from connectors.base import OrderRejected
from connectors.ccxt import convert
from connectors.ccxt.queries import lookup_by_client_id
from connectors.ccxt.rest import RestCaller
from connectors.ccxt.session import CcxtSession

log = logging.getLogger("mmbot.ccxt")


def _decimal_str(value: Decimal) -> str:
    return format(value.normalize(), "f")


def create_args(market: Market, request: OrderRequest) -> tuple[Any, ...]:
    """ccxt `create_order` arguments of a request: decimal strings built from ticks and lots."""
    params: dict[str, Any] = {"clientOrderId": request.client_order_id}
    if request.post_only:
        params["postOnly"] = True
    else:
        params["timeInForce"] = "IOC" if request.immediate_or_cancel else "GTC"
    return (
        market.symbol,
        "limit",
        request.side.value,
        _decimal_str(market.size(request.size_lots)),
        _decimal_str(market.price(request.price_ticks)),
        params,
    )


def ack(session: CcxtSession, market: Market, request: OrderRequest, order: dict[str, Any]) -> OrderUpdate:
    """The OrderUpdate of a create's answer, recorded in the tracker."""
    update = convert.to_order_update(market, order, session.clock.now_ns())
    # Some exchanges ack with little more than an id: the request fills in what is missing.
    update = replace(
        update,
        client_order_id=update.client_order_id or request.client_order_id,
        side=request.side,
        price_ticks=update.price_ticks or request.price_ticks,
        size_lots=update.size_lots or request.size_lots,
    )
    session.tracker.on_update(update)
    return update


async def create_checked(
    session: CcxtSession, exchange: Any, rest: RestCaller, market: Market, request: OrderRequest
) -> dict[str, Any]:
    """create_order with retries; never re-sends a create whose outcome is unknown unchecked."""
    cid = request.client_order_id
    what = f"create_order {cid} {market.symbol}"
    args = create_args(market, request)
    attempt = 0
    checked_absent = False
    while True:
        rest.forget_response()
        try:
            order: dict[str, Any] = await exchange.create_order(*args)
            return order
        except ccxt.BaseError as exc:
            mapped = rest.map(exc, what, is_create=True)
            if checked_absent and isinstance(mapped.error, OrderRejected):
                # The re-send was refused (a duplicate id?): the first send may have landed late.
                found = await lookup_by_client_id(session, market, cid)
                if found is not None:
                    return found
            if not mapped.retryable or attempt >= rest.max_retries:
                log.log(logging.WARNING if mapped.retryable else logging.DEBUG, "%s", mapped.error)
                raise mapped.error from exc
            await rest.pause(attempt, mapped, what)
            attempt += 1
            if mapped.not_executed:
                continue
            found = await lookup_by_client_id(session, market, cid)
            if found is not None:
                log.warning(
                    "%s: %s outcome was unknown: the venue has it, not re-sending", session.name, what
                )
                return found
            log.warning("%s: %s did not reach the venue: re-sending", session.name, what)
            checked_absent = True
