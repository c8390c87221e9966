"""Configuration of the simulated pool (the `[venues.*]` table with kind = "sim_pool")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from amm.math.conversions import price_to_sqrt_price_x96


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GasUnits(_Strict):
    """Gas units charged per operation (defaults: typical mainnet receipts through the periphery)."""

    swap: int = Field(default=130_000, ge=0)
    mint: int = Field(default=480_000, ge=0)
    increase_liquidity: int = Field(default=170_000, ge=0)
    decrease_liquidity: int = Field(default=150_000, ge=0)
    collect: int = Field(default=110_000, ge=0)
    burn: int = Field(default=60_000, ge=0)


class BackgroundRange(_Strict):
    """Liquidity other LPs hold: a human price range (None = full range) worth `value_token1` at start."""

    lower_price: float | None = Field(default=None, gt=0)
    upper_price: float | None = Field(default=None, gt=0)
    value_token1: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> BackgroundRange:
        if (
            self.lower_price is not None
            and self.upper_price is not None
            and self.lower_price >= self.upper_price
        ):
            raise ValueError(f"lower_price {self.lower_price} must be below upper_price {self.upper_price}")
        return self


class ArbitrageParams(_Strict):
    """Arbitrageurs close the pool-vs-fair gap when it pays more than fee + gas + min_profit."""

    enabled: bool = True
    min_profit_token1: float = Field(default=0.0, ge=0)


class NoiseParams(_Strict):
    """Uninformed swappers: Poisson arrivals, lognormal sizes (token1 notional), random side."""

    rate_per_s: float = Field(default=0.05, ge=0)
    mean_size_token1: float = Field(default=1_000.0, gt=0)
    size_sigma: float = Field(default=1.0, ge=0)
    max_impact_bps: float = Field(default=100.0, gt=0, description="price limit of one noise swap")


class SimPoolParams(_Strict):
    kind: Literal["sim_pool"] = "sim_pool"
    name: str = Field(default="uniswap_sim", min_length=1)
    token0_symbol: str = Field(default="WETH", min_length=1)
    token0_decimals: int = Field(default=18, ge=0, le=36)
    token1_symbol: str = Field(default="USDC", min_length=1)
    token1_decimals: int = Field(default=6, ge=0, le=36)
    fee_pips: Literal[100, 500, 3000, 10000] = 500
    initial_price: float = Field(default=3_000.0, gt=0, description="human token1 per token0")
    background: tuple[BackgroundRange, ...] = (BackgroundRange(value_token1=10_000_000.0),)
    wallet_token0: float = Field(default=0.0, ge=0, description="human units")
    wallet_token1: float = Field(default=0.0, ge=0, description="human units")
    gas_price_gwei: float = Field(default=20.0, ge=0)
    gas_units: GasUnits = GasUnits()
    native_price_token1: float | None = Field(
        default=None, gt=0, description="gas token price in token1; None: token0 is the gas token"
    )
    block_time_s: float = Field(default=12.0, gt=0)
    arbitrage: ArbitrageParams = ArbitrageParams()
    noise: NoiseParams = NoiseParams()
    seed: int = Field(7, ge=0, description="numpy seeds are non-negative")
    fair_venue: str = Field(default="mock", min_length=1, description="CEX venue whose fair price we follow")
    fair_symbol: str = Field(default="ETH/USDC", min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> SimPoolParams:
        if self.token0_symbol == self.token1_symbol:
            raise ValueError(f"token0_symbol and token1_symbol must differ, both are {self.token0_symbol}")
        try:
            price_to_sqrt_price_x96(self.initial_price, self.token0_decimals, self.token1_decimals)
        except ValueError as exc:
            raise ValueError(f"initial_price: {exc}") from None
        return self

    @property
    def gas_price_wei(self) -> int:
        return round(self.gas_price_gwei * 1e9)
