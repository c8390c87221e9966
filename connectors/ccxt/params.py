"""Configuration of a ccxt venue: validated pydantic model, credentials only as env var NAMES."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from bot.core.config_base import StrictModel, check_env_var_name


def _ccxt_exchange_ids() -> frozenset[str]:
    import ccxt

    return frozenset(ccxt.exchanges)


class CcxtVenueParams(StrictModel):
    kind: Literal["ccxt"] = "ccxt"
    exchange: str = Field(description="ccxt exchange id, e.g. binance")
    sandbox: bool = Field(False, description="use the exchange's public testnet (set_sandbox_mode)")
    api_key_env: str | None = Field(None, description="NAME of the env var holding the API key")
    secret_env: str | None = Field(None, description="NAME of the env var holding the API secret")
    password_env: str | None = Field(None, description="NAME of the env var holding the passphrase")
    urls: str | None = Field(
        None,
        description="base URL such as http://127.0.0.1:8765: replaces the scheme and host of every "
        "REST and websocket API URL, keeping paths (local facade, proxy)",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="passed to ccxt as `options`")
    stale_book_s: float = Field(
        2.0,
        gt=0,
        description="a book silent this long is checked against the venue's REST book: unchanged, it "
        "is quiet and stays quoted; moved, its market's quotes are pulled and the book resynced",
    )
    order_rate_per_s: float = Field(10.0, gt=0, description="our own budget for creates and cancels")
    order_burst: int = Field(10, ge=1, description="creates/cancels allowed back to back")
    use_websockets: bool = Field(True, description="False: poll REST even where ccxt.pro has streams")
    poll_interval_s: float = Field(2.0, gt=0, description="REST polling where there is no stream")
    reconcile_interval_s: float = Field(30.0, gt=0, description="periodic REST check of orders/fills")
    book_depth: int = Field(20, ge=1, le=1000, description="levels per side in BookSnapshot events")
    max_retries: int = Field(4, ge=0, le=20)
    backoff_base_s: float = Field(0.25, gt=0)
    backoff_max_s: float = Field(10.0, gt=0)
    timeout_ms: int = Field(10_000, gt=0, description="ccxt REST timeout")
    maker_fee_bps: Decimal | None = Field(
        None, ge=-100, le=1000, description="your account's maker fee (ccxt only knows the default tier)"
    )
    taker_fee_bps: Decimal | None = Field(None, ge=-100, le=1000, description="your account's taker fee")
    rate_limit_ms: float | None = Field(
        None, gt=0, description="ccxt's request spacing per cost unit (None: the exchange's own)"
    )

    @field_validator("exchange")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        if value not in _ccxt_exchange_ids():
            raise ValueError(f"{value!r} is not a ccxt exchange id (see ccxt.exchanges)")
        return value

    @field_validator("api_key_env", "secret_env", "password_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        return check_env_var_name(value)

    @field_validator("urls")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be a base URL like http://127.0.0.1:8765, got {value!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be scheme://host[:port] only: the API paths are kept from ccxt")
        return f"{parts.scheme}://{parts.netloc}"
