"""Configuration of the mock venue: validated pydantic models with field-named errors.

A market needs only symbol, tick, lot and initial price; everything else has a default that gives
a liquid, moderately volatile book (BTC-like: 60% annual vol, a few bps of spread). `FaultParams`
is the `faults` table the Binance facade (`mmbot mock-exchange`) reads beside a mock venue.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.core.config_base import StrictModel
from bot.core.domain import Market
from connectors.mock.accounts import check_initial_balances

_SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")


class MockMarketParams(StrictModel):
    symbol: str = Field(description="BASE/QUOTE, e.g. BTC/USDT")
    tick_size: Decimal = Field(gt=0)
    lot_size: Decimal = Field(gt=0)
    min_notional: Decimal = Field(default=Decimal(0), ge=0)
    # A negative maker fee is a rebate; fees are charged in the quote asset for both sides.
    maker_fee_bps: Decimal = Field(default=Decimal(1), ge=-100, le=1000)
    taker_fee_bps: Decimal = Field(default=Decimal(5), ge=0, le=1000)
    initial_price: Decimal = Field(gt=0)
    volatility_annual: float = Field(default=0.6, ge=0, le=20)

    # Background liquidity: a ladder of resting orders around the latent fair price.
    book_levels: int = Field(default=10, ge=1, le=500, description="levels per side")
    book_spread_bps: float = Field(default=5.0, ge=0, description="best level's distance from fair")
    book_level_spacing_bps: float = Field(default=2.0, gt=0)
    book_level_size_lots: int = Field(default=20, ge=1)
    # The ladder is re-posted when fair drifts this far from where it was built, when one of its
    # orders trades, and at Poisson-random "market maker requote" times.
    liquidity_refresh_bps: float = Field(default=1.0, ge=0)
    liquidity_refresh_rate_per_s: float = Field(default=2.0, ge=0)

    # Noise takers: market orders of random side, geometric size with this mean.
    noise_taker_rate_per_s: float = Field(default=0.5, ge=0)
    noise_taker_size_lots: float = Field(default=5.0, ge=1)
    # Informed takers: know the fair price `informed_horizon_s` ahead and sweep the book (IOC)
    # while that future fair beats the quote by `informed_edge_bps`.
    informed_taker_rate_per_s: float = Field(default=0.05, ge=0)
    informed_horizon_s: float = Field(default=10.0, gt=0)
    informed_edge_bps: float = Field(default=2.0, ge=0)
    informed_size_lots: float = Field(default=10.0, ge=1)

    @field_validator("symbol")
    @classmethod
    def _symbol_is_base_quote(cls, value: str) -> str:
        if not _SYMBOL_RE.match(value):
            raise ValueError(f"symbol must look like BASE/QUOTE in upper case, got {value!r}")
        base, quote = value.split("/")
        if base == quote:
            raise ValueError(f"symbol {value!r}: base and quote must differ")
        return value

    @model_validator(mode="after")
    def _ladder_stays_positive(self) -> MockMarketParams:
        deepest_bps = self.book_spread_bps + (self.book_levels - 1) * self.book_level_spacing_bps
        if deepest_bps >= 10_000:
            raise ValueError(
                "book_spread_bps + (book_levels - 1) * book_level_spacing_bps must stay below 10000 "
                f"(deepest bid would be at or below zero), got {deepest_bps}"
            )
        return self

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]

    def to_market(self, venue: str) -> Market:
        return Market(
            venue=venue,
            symbol=self.symbol,
            base=self.base,
            quote=self.quote,
            tick_size=self.tick_size,
            lot_size=self.lot_size,
            min_notional=self.min_notional,
            maker_fee_bps=self.maker_fee_bps,
            taker_fee_bps=self.taker_fee_bps,
        )


class MockVenueParams(StrictModel):
    kind: Literal["mock"] = "mock"
    seed: int = Field(0, ge=0, description="numpy seeds are non-negative")
    order_latency_ms: float = Field(default=20.0, ge=0, description="one way, to the matching engine")
    feed_latency_ms: float = Field(default=10.0, ge=0, description="market data and own-order events")
    book_publish_interval_ms: float = Field(default=100.0, gt=0)
    book_depth: int = Field(default=20, ge=1, le=5000)
    initial_balances: dict[str, Decimal] = Field(default_factory=dict)
    markets: list[MockMarketParams] = Field(min_length=1)

    @field_validator("initial_balances")
    @classmethod
    def _balances_non_negative(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        return check_initial_balances(value)

    @field_validator("markets")
    @classmethod
    def _unique_symbols(cls, value: list[MockMarketParams]) -> list[MockMarketParams]:
        seen: set[str] = set()
        for market in value:
            if market.symbol in seen:
                raise ValueError(f"duplicate market symbol {market.symbol!r}")
            seen.add(market.symbol)
        return value


class FaultParams(StrictModel):
    """`[venues.<name>.faults]` of a mock venue served by `mmbot mock-exchange` (all off by default)."""

    seed: int = 0
    error_rate: float = Field(0.0, ge=0, le=1, description="share of signed REST calls answered 503")
    rate_limit_rate: float = Field(0.0, ge=0, le=1, description="share answered 429 with Retry-After")
    retry_after_s: float = Field(1.0, ge=0)
    ack_delay_ms: float = Field(0.0, ge=0, description="every new-order answer held back this long")
    duplicate_user_events: bool = False
    reorder_user_events: bool = False
    balance_lag_ms: float = Field(0.0, ge=0, description="/account answers balances this old")
    unavailable_after_s: float | None = Field(
        None,
        ge=0,
        le=1e9,
        description="from this long after the first signed request on, every REST request answered 503",
    )
