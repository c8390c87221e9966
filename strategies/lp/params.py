"""Configuration of the LP manager (`[strategies.*]` with kind = "lp_manager")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from amm.ports import FairMarketParams
from bot.core.domain import MarketKey
from strategies.lp.excess import ExcessSwapVenue
from strategies.lp.rules import Rules


class LpManagerParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["lp_manager"]
    pools: list[str] = Field(min_length=1, description="sim_pool venue names")
    capital_token1: float | None = Field(
        None, gt=0, description="value to deploy per pool; None: whole wallet"
    )
    check_interval_s: float = Field(30.0, gt=0)
    event_trigger_bps: float = Field(50.0, gt=0, description="re-evaluate early on a fair move this large")
    vol_half_life_s: float = Field(1800.0, gt=0)
    initial_sigma: float = Field(0.8, gt=0, description="annual σ assumed until returns are seen")
    horizon_s: float = Field(86_400.0, gt=0, description="range width: w = width_k·σ̂·√horizon")
    width_k: float = Field(2.0, gt=0)
    min_half_width: float = Field(0.005, gt=0)
    max_half_width: float = Field(1.0, gt=0)
    skew: float = Field(0.0, gt=-1, lt=1, description="lean the range up (+) or down (−)")
    decision_horizon_s: float = Field(86_400.0, gt=0, description="benefits are counted over this")
    vol_ceiling: float = Field(2.0, gt=0, description="withdraw above this annual σ̂")
    reentry_fraction: float = Field(0.8, gt=0, le=1, description="re-enter below ceiling × this")
    regime_ratio: float = Field(1.5, gt=1, description="σ̂/σ_at_open beyond this (or 1/this) re-sizes")
    edge_buffer: float = Field(0.1, ge=0, lt=0.5, description="inner band: fraction of width at each edge")
    out_of_range_delay_s: float = Field(120.0, ge=0)
    lvr_budget_fraction: float = Field(0.02, gt=0, description="LVR since open, fraction of value")
    widen_factor: float = Field(1.5, gt=1)
    compound_gas_multiple: float = Field(20.0, gt=1)
    gas_margin: float = Field(1.0, ge=1, description="benefit must exceed cost × this")
    min_action_interval_s: float = Field(600.0, ge=0)
    max_pool_deviation_bps: float = Field(
        100.0, gt=0, description="act only while the pool price is within this of the fair price"
    )
    twap_window_s: int = Field(
        0, ge=0, description="guard also on the pool's spot vs its oracle TWAP over this; 0 = off"
    )
    min_swap_token1: float = Field(10.0, ge=0, description="ratio swaps smaller than this are skipped")
    slippage_bps: float = Field(50.0, gt=0)
    native_price_token1: float | None = Field(None, gt=0, description="gas token price; None: token0")
    excess_swap_venue: ExcessSwapVenue = Field(
        "pool", description="where a new range's excess token is traded: the pool, the CEX, the cheaper"
    )
    cex_market: str | None = Field(
        None, validate_default=True, description='"venue:symbol" of [[markets]] for the CEX route'
    )

    @field_validator("cex_market")
    @classmethod
    def _cex_market_given(cls, value: str | None, info: ValidationInfo) -> str | None:
        venue = info.data.get("excess_swap_venue", "pool")
        if value is None:
            if venue != "pool":
                raise ValueError(f'required when excess_swap_venue = "{venue}" (a "venue:symbol" market)')
            return None
        MarketKey.parse(value)
        return value

    def check_cex_market(
        self, name: str, venues: Mapping[str, object], market_keys: list[str], quoted_by: Mapping[str, str]
    ) -> None:
        """Cross-references of the CEX route (AppConfig calls this): a traded market, quoted by no
        strategy (its IOC orders would meet the quote diff), trading every pool's pair."""
        key = self.cex_market
        if key is None or self.excess_swap_venue == "pool":
            return
        field = f"strategies.{name}.cex_market"
        if key not in market_keys:
            raise ValueError(f"{field}: {key!r} is not in [[markets]]")
        if key in quoted_by:
            raise ValueError(f"{field}: {key!r} is quoted by {quoted_by[key]}; trade the excess elsewhere")
        symbol = MarketKey.parse(key).symbol
        for pool in self.pools:
            venue = venues.get(pool)
            pair = venue.fair_symbol if isinstance(venue, FairMarketParams) else None
            if pair != symbol:
                raise ValueError(
                    f"{field}: {key!r} does not trade pool {pool}'s pair {pair} (its fair_symbol)"
                )

    def rules(self) -> Rules:
        return Rules(**{f: getattr(self, f) for f in Rules.__dataclass_fields__})
