"""Configuration of the LP manager (`[strategies.*]` with kind = "lp_manager")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from amm.ports import FairMarketParams
from bot.core.domain import MarketKey
from strategies.lp.carry import HedgeCosting
from strategies.lp.excess import ExcessSwapVenue
from strategies.lp.hedger import HedgerParams
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
    fee_half_life_s: float = Field(
        7200.0, gt=0, description="EWMA of the pool's fee flow (swaps come in lumps: longer than σ̂'s)"
    )
    vol_switch_ratio: float = Field(
        1.5,
        ge=0,
        description="restart σ̂ and the fee window when a short σ̂ is this many times σ̂ or under 1/this "
        "of it (a volatility regime switch, strategies/lp/regime.py); 0 = off, else above 1",
    )
    vol_switch_half_life_s: float = Field(300.0, gt=0, description="the short σ̂'s half-life")
    history_s: float = Field(
        21_600.0,
        ge=0,
        description="a first start (no stored estimates) reads this much history: σ̂ from the fair "
        "market's candles, the fee rate and σ̂ₚ from the pool's swaps, where they are served; 0: none",
    )
    history_interval_s: int = Field(
        60, gt=0, description="those candles' interval (their closes are trades: shorter ones bounce bid-ask)"
    )
    initial_sigma: float = Field(0.8, gt=0, description="annual σ assumed until returns are seen")
    initial_sigma_weight_s: float = Field(
        30.0,
        gt=0,
        description="initial_sigma weighs as much as this many seconds of returns (default: one "
        "round's, as σ̂'s standard error counts it: one sample)",
    )
    min_half_width: float = Field(0.005, gt=0, description="the width optimiser's lower bound (log price)")
    max_half_width: float = Field(1.0, gt=0, description="the width optimiser's upper bound (log price)")
    skew: float = Field(0.0, gt=-1, lt=1, description="lean the range up (+) or down (−)")
    decision_horizon_s: float = Field(86_400.0, gt=0, description="benefits are counted over this")
    enter_carry_apr: float = Field(
        0.02, description="open only while the best range's expected carry beats this (per year of capital)"
    )
    exit_carry_apr: float = Field(
        -0.02, description="withdraw once the expected carry is below this (per year of capital)"
    )
    exit_delay_s: float = Field(900.0, ge=0, description="the carry must stay below exit this long")
    entry_carry_errors: float = Field(
        2.0,
        ge=0,
        description="enter only if the carry less this many standard errors (of fees − LVR) clears entry",
    )
    entry_max_sigma_error: float = Field(
        0.1, gt=0, description="... and once σ̂'s standard error is below this fraction of it"
    )
    move_sigma_errors: float = Field(
        1.0, ge=0, description="move a range only if the move pays at σ̂ ± this many standard errors"
    )
    vol_ceiling: float = Field(2.0, gt=0, description="safety limit: withdraw above this annual σ̂")
    reentry_fraction: float = Field(0.8, gt=0, le=1, description="re-enter below ceiling × this")
    compound_gas_multiple: float = Field(20.0, gt=1)
    gas_margin: float = Field(1.5, ge=1, description="benefit must exceed cost × this (hysteresis)")
    min_action_interval_s: float = Field(600.0, ge=0)
    max_pool_deviation_bps: float = Field(
        100.0, gt=0, description="act only while the pool price is within this of the fair price"
    )
    twap_window_s: int = Field(
        300,
        ge=0,
        description="guard also on the pool's spot vs its oracle TWAP over this, where the pool's "
        "oracle holds that much history (each decision record says checked or skipped and why); 0 = off",
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
    hedge_band_token0: float = Field(
        0.0, ge=0, description="band of the CEX hedger hedging this pool (its `band`); 0: not hedged"
    )
    hedge_cost_bps: float = Field(5.5, ge=0, description="a hedge trade's taker fee + half spread, bps")
    hedge_check_interval_s: float = Field(5.0, gt=0, description="how often that hedger checks")

    @model_validator(mode="before")
    @classmethod
    def _renamed_entry_errors(cls, data: object) -> object:
        if isinstance(data, Mapping):
            for old in ("entry_sigma_errors", "entry_fee_errors"):
                if old in data:
                    raise ValueError(
                        f"{old} is gone: the entry is judged at one error bar for fees − LVR, "
                        "entry_carry_errors (default 2), once σ̂ is known within entry_max_sigma_error "
                        "(default 0.1)"
                    )
        return data

    @model_validator(mode="after")
    def _bands_ordered(self) -> LpManagerParams:
        if not self.exit_carry_apr < self.enter_carry_apr:
            raise ValueError(
                f"exit_carry_apr ({self.exit_carry_apr}) must be below enter_carry_apr "
                f"({self.enter_carry_apr}): the band between them keeps a position from flapping"
            )
        if 0 < self.vol_switch_ratio <= 1:
            raise ValueError(
                f"vol_switch_ratio ({self.vol_switch_ratio}) must be above 1 (a short σ̂ that many times "
                "σ̂ or under 1/that of it is a switch), or 0 for off"
            )
        if self.vol_switch_ratio > 0 and not self.vol_switch_half_life_s < self.vol_half_life_s:
            raise ValueError(
                f"vol_switch_half_life_s ({self.vol_switch_half_life_s}) must be below vol_half_life_s "
                f"({self.vol_half_life_s}): the short σ̂ watches for what the long one is slow to see"
            )
        if not self.min_half_width <= self.max_half_width:
            raise ValueError(
                f"min_half_width ({self.min_half_width}) must not exceed "
                f"max_half_width ({self.max_half_width})"
            )
        return self

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

    def check_hedge_band(self, name: str, strategies: Mapping[str, object]) -> None:
        """A pool hedged by a hedger of this config must be known to the carry as hedged (AppConfig
        calls this). Any band > 0 is taken as given: the hedger's own `band` is the natural one."""
        if self.hedge_band_token0 > 0:
            return
        for hedger, other in strategies.items():
            if not isinstance(other, HedgerParams) or other.hedge_ratio == 0:
                continue
            for pool in sorted(set(self.pools) & set(other.pools)):
                raise ValueError(
                    f"strategies.{name}.hedge_band_token0: 0 (not hedged), but strategies.{hedger} "
                    f"hedges pool {pool} on a band of {other.band:g}: set it to {other.band:g} so the "
                    "expected carry counts the hedge's trading cost"
                )

    def hedge_costing(self) -> HedgeCosting:
        return HedgeCosting(self.hedge_band_token0, self.hedge_cost_bps / 1e4, self.hedge_check_interval_s)

    def rules(self) -> Rules:
        fields = (f for f in Rules.__dataclass_fields__ if f != "hedge")
        return Rules(**{f: getattr(self, f) for f in fields}, hedge=self.hedge_costing())
