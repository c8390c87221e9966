"""One ccxt venue's session: the exchange object and the state the adapter's helpers share.

`CcxtSession` is what `CcxtVenue` and its helpers (queries, orders, batch, account_sync, streams)
hold in common: the connected ccxt exchange and its REST caller, the markets, our order and fill
bookkeeping, the order budget and the event sink. The helpers take the session, never the venue,
so none of them imports connectors.ccxt.venue. `build_exchange` makes the ccxt object itself:
class, credentials from the environment, URLs.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

import ccxt.async_support as ccxt_async

from bot.core.clock import Clock
from bot.core.domain import Market
from connectors.base import AuthError, EventSink, OrderRejected, VenueUnavailable
from connectors.ccxt import sanity
from connectors.ccxt.message_guard import MessageGuard
from connectors.ccxt.pacing import OrderBudget
from connectors.ccxt.params import CcxtVenueParams
from connectors.ccxt.rest import RestCaller
from connectors.ccxt.tracking import OrderTracker
from connectors.ccxt.urls import rewrite_api_urls

try:  # ccxt.pro ships inside ccxt since 4.0; keep REST-only use working without it
    import ccxt.pro as ccxt_pro
except ImportError:  # pragma: no cover
    ccxt_pro = None


class CcxtSession:
    """The shared state of one ccxt venue; `exchange` and `rest` exist between connect and close."""

    def __init__(self, name: str, params: CcxtVenueParams, clock: Clock) -> None:
        self.name = name
        self.params = params
        self.clock = clock
        self.exchange: Any = None
        """The ccxt exchange (ccxt declares no types for its exchange classes)."""
        self.rest: RestCaller | None = None
        self.has_credentials = bool(params.api_key_env)
        self.markets: dict[str, Market] = {}
        self.tracker = OrderTracker()
        self.budget = OrderBudget(clock, params.order_rate_per_s, params.order_burst)
        self.sink: EventSink | None = None
        """Where events go (set by start_streams)."""
        self.skipped_messages = 0
        """Parsed messages refused by connectors.ccxt.sanity (frames ccxt could not parse: message_guard)."""
        self.catch_up_wanted = asyncio.Event()
        """Set when the stream lost or refused something of ours (a skipped frame, a held-back
        fill): the streams' REST catch-up runs at once instead of at its next interval."""
        self.message_guard = MessageGuard(name, on_skip=self.catch_up_wanted.set)
        """Skips the frames ccxt cannot parse, and knows what ccxt parsed out of them anyway."""

    def connected(self) -> tuple[Any, RestCaller]:
        """The ccxt exchange and its REST caller; VenueUnavailable before connect() or after close()."""
        if self.exchange is None or self.rest is None:
            raise VenueUnavailable(self.name, "not connected: call connect() first")
        return self.exchange, self.rest

    def trading(self, what: str) -> tuple[Any, RestCaller]:
        """`connected()`, for a call that needs credentials."""
        self.require_credentials(what)
        return self.connected()

    def require_credentials(self, what: str) -> None:
        if not self.has_credentials:
            raise AuthError(self.name, f"{what} needs credentials: set api_key_env and secret_env")

    def market(self, symbol: str) -> Market:
        market = self.markets.get(symbol)
        if market is None:
            raise OrderRejected(self.name, f"unknown market {symbol!r} (call load_markets first)")
        return market

    def skip_message(self, what: str, problem: str, structure: Mapping[str, Any] | None = None) -> None:
        """Count and log one parsed message that failed its sanity check."""
        self.skipped_messages += 1
        sanity.skip(self.name, what, problem, structure)


def read_credentials(venue: str, params: CcxtVenueParams) -> dict[str, str]:
    """ccxt credential keys read from the env vars the config names; values are never logged.

    A named variable that is unset or empty is an AuthError naming the variable (not its value).
    """
    out: dict[str, str] = {}
    for ccxt_key, field, env_name in (
        ("apiKey", "api_key_env", params.api_key_env),
        ("secret", "secret_env", params.secret_env),
        ("password", "password_env", params.password_env),
    ):
        if env_name is None:
            continue
        value = os.environ.get(env_name)
        if not value:
            raise AuthError(
                venue, f"environment variable {env_name} (venues.{venue}.{field}) is not set or empty"
            )
        out[ccxt_key] = value
    if ("apiKey" in out) != ("secret" in out):
        raise AuthError(venue, "api_key_env and secret_env must be given together")
    return out


def exchange_class(exchange_id: str) -> type[Any]:
    """ccxt.pro's class (REST + websockets) when the exchange has one, else the REST-only class."""
    # ccxt exposes each exchange class as a module attribute named by its id: there is no
    # declared registry to look it up in, so getattr by name is ccxt's own way.
    if ccxt_pro is not None and exchange_id in ccxt_pro.exchanges:
        return getattr(ccxt_pro, exchange_id)
    return getattr(ccxt_async, exchange_id)


def build_exchange(venue: str, params: CcxtVenueParams) -> Any:
    credentials = read_credentials(venue, params)
    config: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": params.timeout_ms,
        "options": dict(params.options),
        **credentials,
    }
    if params.rate_limit_ms is not None:
        config["rateLimit"] = params.rate_limit_ms
    exchange = exchange_class(params.exchange)(config)
    if params.sandbox:
        exchange.set_sandbox_mode(True)
    if params.urls is not None:
        exchange.urls["api"] = rewrite_api_urls(exchange.urls["api"], params.urls)
    return exchange
