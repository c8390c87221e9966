"""Build the ccxt exchange object of a venue: class, credentials from the environment, URLs."""

from __future__ import annotations

import os
from typing import Any

import ccxt.async_support as ccxt_async

from connectors.base import AuthError
from connectors.ccxt.params import CcxtVenueParams
from connectors.ccxt.urls import rewrite_api_urls

try:  # ccxt.pro ships inside ccxt since 4.0; keep REST-only use working without it
    import ccxt.pro as ccxt_pro
except ImportError:  # pragma: no cover
    ccxt_pro = None  # type: ignore[assignment]


def read_credentials(venue: str, params: CcxtVenueParams) -> dict[str, str]:
    """ccxt credential keys read from the env vars the config names; values are never logged.

    A named variable that is unset or empty is an AuthError naming the variable (not its value).
    """
    out: dict[str, str] = {}
    for ccxt_key, field in (
        ("apiKey", "api_key_env"),
        ("secret", "secret_env"),
        ("password", "password_env"),
    ):
        env_name = getattr(params, field)
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
    if ccxt_pro is not None and exchange_id in getattr(ccxt_pro, "exchanges", ()):
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
