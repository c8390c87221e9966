"""Strategy parameters as config models (pydantic v2), and their translation to `QuoteParams` slots.

`QuoteStrategyParams` is the discriminated union (on `kind`) the config loader can embed. Human
units in config (bps, seconds, base-currency sizes, annualised volatility); `write_slot` converts
them to the core's per-market arrays (lots via the market's lot size, ticks via its tick size).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from bot.core.clock import NS_PER_S
from bot.core.domain import Market
from bot.kernel.controls import QuotingControls
from strategies.quoting.arrays import QuoteModel, QuoteParams

SECONDS_PER_YEAR = 365 * 86_400


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VolatilityParams(_Strict):
    """`estimators.VolatilityEstimator` settings."""

    half_life_s: PositiveFloat = 300.0
    min_interval_s: PositiveFloat = 1.0
    warmup_s: NonNegativeFloat | None = None  # default: one half-life
    min_samples: PositiveInt = 10
    fallback_annual_vol: NonNegativeFloat = 0.5  # log volatility per year, used until warm

    @property
    def fallback_log_vol_per_sqrt_s(self) -> float:
        return self.fallback_annual_vol / math.sqrt(SECONDS_PER_YEAR)


class IntensityParams(_Strict):
    """`estimators.IntensityEstimator` settings: lambda(delta) = A exp(-kappa delta), delta in bps."""

    depth_edges_bps: tuple[NonNegativeFloat, ...] = (0, 1, 2, 3, 5, 8, 12, 20, 30, 50)
    half_life_s: PositiveFloat = 3600.0
    min_fills: PositiveFloat = 30.0
    fallback_a_per_s: PositiveFloat = 1.0
    fallback_kappa_per_bps: PositiveFloat = 0.5

    @model_validator(mode="after")
    def _edges_increase(self) -> IntensityParams:
        edges = self.depth_edges_bps
        if len(edges) < 3 or any(b <= a for a, b in itertools.pairwise(edges)):
            raise ValueError("depth_edges_bps: at least 3 strictly increasing depths")
        return self


class _Ladder(QuotingControls):
    """Shared by every model: the ladder, limits and guards, plus the order refresh controls.

    Sizes are per market (`order_size` and `max_position` in [[markets]]), since one strategy
    quotes markets of very different scale.
    """

    n_levels: int = Field(1, ge=1, le=50)
    level_spacing_bps: NonNegativeFloat = 5.0
    size_shape_eta: NonNegativeFloat = 0.0
    min_spread_bps: NonNegativeFloat = 0.0
    max_spread_bps: PositiveFloat = 500.0
    price_band_bps: PositiveFloat | None = None  # None: no band

    @model_validator(mode="after")
    def _spread_bounds(self) -> _Ladder:
        if self.max_spread_bps < self.min_spread_bps:
            raise ValueError(
                f"max_spread_bps ({self.max_spread_bps}) must be >= min_spread_bps ({self.min_spread_bps})"
            )
        return self


class FixedSpreadParams(_Ladder):
    kind: Literal["fixed_spread"] = "fixed_spread"
    half_spread_bps: NonNegativeFloat = 10.0
    skew_bps_per_unit_inventory_fraction: float = 0.0


class AvellanedaParams(_Ladder):
    """Avellaneda-Stoikov; gamma is risk aversion per unit of quote currency."""

    kind: Literal["avellaneda"] = "avellaneda"
    gamma: PositiveFloat
    horizon: Literal["rolling", "session"] = "rolling"
    horizon_s: PositiveFloat = 60.0  # rolling: constant tau
    session_length_s: PositiveFloat = 86_400.0  # session: tau = next session end - now
    session_offset_s: NonNegativeFloat = 0.0  # sessions end at offset + k * length (epoch UTC)
    volatility: VolatilityParams = VolatilityParams()
    intensity: IntensityParams = IntensityParams()


class GlftParams(_Ladder):
    """Guéant-Lehalle-Fernandez-Tapia; gamma per unit of quote currency, order size = level size."""

    kind: Literal["glft"] = "glft"
    gamma: PositiveFloat
    volatility: VolatilityParams = VolatilityParams()
    intensity: IntensityParams = IntensityParams()


QuoteStrategyParams = Annotated[
    FixedSpreadParams | AvellanedaParams | GlftParams, Field(discriminator="kind")
]

_MODEL_CODE = {
    "fixed_spread": QuoteModel.FIXED_SPREAD,
    "avellaneda": QuoteModel.AVELLANEDA_STOIKOV,
    "glft": QuoteModel.GLFT,
}


def next_session_end_ns(now_ns: int, session_length_s: float, session_offset_s: float) -> int:
    """First session end strictly after now_ns (sessions end at offset + k * length)."""
    length = round(session_length_s * NS_PER_S)
    offset = round(session_offset_s * NS_PER_S)
    return offset + ((now_ns - offset) // length + 1) * length


def write_slot(
    params: QuoteParams,
    slot: int,
    cfg: FixedSpreadParams | AvellanedaParams | GlftParams,
    market: Market,
    *,
    level_size_base: float,
    max_inventory_base: float,
    now_ns: int,
) -> None:
    """Fill one market's slot from its config (hot reload edits one slot in place), then validate.

    A `QuoteWorkspace` that quoted with these params needs `prepare(params)` afterwards.
    """
    if cfg.n_levels > params.n_levels:
        raise ValueError(f"{market.key}: n_levels {cfg.n_levels} exceeds the arrays' {params.n_levels}")
    lot = float(market.lot_size)
    params.model[slot] = _MODEL_CODE[cfg.kind]
    params.tick_size[slot] = float(market.tick_size)
    params.lot_size[slot] = lot
    params.maker_fee_bps[slot] = float(market.maker_fee_bps)
    params.min_spread_bps[slot] = cfg.min_spread_bps
    params.max_spread_bps[slot] = cfg.max_spread_bps
    params.level_spacing_bps[slot] = cfg.level_spacing_bps
    params.level_size_lots[slot] = level_size_base / lot
    params.level_count[slot] = cfg.n_levels
    params.max_inventory_lots[slot] = max_inventory_base / lot
    params.size_shape_eta[slot] = cfg.size_shape_eta
    params.price_band_bps[slot] = math.inf if cfg.price_band_bps is None else cfg.price_band_bps
    params.half_spread_bps[slot] = getattr(cfg, "half_spread_bps", 0.0)
    params.skew_bps_per_unit_inventory_fraction[slot] = getattr(
        cfg, "skew_bps_per_unit_inventory_fraction", 0.0
    )
    params.gamma[slot] = getattr(cfg, "gamma", 1.0)
    params.horizon_s[slot] = getattr(cfg, "horizon_s", 0.0)
    params.session_end_ns[slot] = 0
    if isinstance(cfg, AvellanedaParams) and cfg.horizon == "session":
        params.session_end_ns[slot] = next_session_end_ns(now_ns, cfg.session_length_s, cfg.session_offset_s)
    params.validate()


QuoteConfig = FixedSpreadParams | AvellanedaParams | GlftParams


def build_quote_params(
    entries: Sequence[tuple[QuoteConfig, Market, float, float]], *, now_ns: int
) -> QuoteParams:
    """QuoteParams for (config, market, level size base, max inventory base) in slot order.

    The array width is the largest n_levels among them.
    """
    if not entries:
        raise ValueError("build_quote_params: no markets")
    n_levels = max(cfg.n_levels for cfg, *_ in entries)
    params = QuoteParams.uniform(len(entries), n_levels)
    for slot, (cfg, market, size, limit) in enumerate(entries):
        write_slot(params, slot, cfg, market, level_size_base=size, max_inventory_base=limit, now_ns=now_ns)
    return params
