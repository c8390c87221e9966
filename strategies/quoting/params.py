"""What every quote model's strategy config shares (pydantic v2): ladder, limits, estimators.

Each model's own config extends `LadderParams` in its module (`strategies.quoting.models`). Human
units in config (bps, seconds, base-currency sizes, annualised volatility);
`strategies.quoting.param_slots` converts them to the core's per-market arrays.
"""

from __future__ import annotations

import itertools
import math
from typing import Protocol, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from bot.kernel.controls import QuotingControls
from bot.kernel.market_state import FairSource

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
    # Sample the fair price on this fixed clock (driven by book event times), not at requotes;
    # None: the old behaviour, one sample per requote at most every `min_interval_s`.
    sample_interval_s: PositiveFloat | None = 1.0

    @property
    def fallback_log_vol_per_sqrt_s(self) -> float:
        return self.fallback_annual_vol / math.sqrt(SECONDS_PER_YEAR)


class IntensityParams(_Strict):
    """`intensity.TapeIntensity` settings: lambda(delta) = A exp(-kappa delta), delta in bps.

    Estimated from the public tape (our own fills are prints on it too); `min_fills` is the
    (decayed, size-weighted) number of takers a market needs before its fit replaces the fallbacks.
    Our own fills against our live orders' resting time (`own_fills.OwnFillIntensity`) are blended
    in (`own_fills`) once a market has `min_own_fills` of them at depths spread by
    `min_own_depth_spread_bps`.
    """

    depth_edges_bps: tuple[NonNegativeFloat, ...] = (0, 1, 2, 3, 5, 8, 12, 20, 30, 50)
    half_life_s: PositiveFloat = 3600.0
    min_fills: PositiveFloat = 30.0
    own_fills: bool = True
    min_own_fills: PositiveFloat = 50.0
    min_own_depth_spread_bps: NonNegativeFloat = 0.5
    fallback_a_per_s: PositiveFloat = 1.0
    fallback_kappa_per_bps: PositiveFloat = 0.5

    @model_validator(mode="after")
    def _edges_increase(self) -> IntensityParams:
        edges = self.depth_edges_bps
        if len(edges) < 3 or any(b <= a for a, b in itertools.pairwise(edges)):
            raise ValueError("depth_edges_bps: at least 3 strictly increasing depths")
        return self


class ToxicityParams(_Strict):
    """`toxicity.ToxicityMonitor` settings: live markouts and order flow widen the picked-off side.

    Markouts and imbalance are always measured (and exported to /metrics); `enabled` feeds them to
    the quotes as per-side `toxicity_bps`.
    """

    enabled: bool = False
    markout_horizons_s: tuple[PositiveFloat, PositiveFloat, PositiveFloat] = (1.0, 10.0, 60.0)
    control_horizon: int = Field(1, ge=0, le=2)  # which markout horizon drives the widening
    markout_half_life_s: PositiveFloat = 300.0
    markout_prior_fills: PositiveFloat = 2.0  # shrinks the mean markout of few fills toward 0
    markout_gain: NonNegativeFloat = 1.0  # widen a side by gain x its average adverse markout
    imbalance_half_life_s: PositiveFloat = 30.0
    imbalance_prior_quotes: PositiveFloat = 5.0  # volume, in our quote sizes, that imbalance needs
    imbalance_deadband: float = Field(0.2, ge=0, lt=1)
    imbalance_gain_bps: NonNegativeFloat = 3.0
    burst_markout_bps: PositiveFloat = 5.0  # a fill this far under water after the first horizon
    burst_imbalance: float = Field(0.7, gt=0, le=1)  # or one-sided flow this strong: a burst
    pull_bps: NonNegativeFloat = 20.0  # extra half spread of the burst side, relaxing after
    pull_half_life_s: PositiveFloat = 5.0
    max_toxicity_bps: NonNegativeFloat = 50.0
    fills_per_market: PositiveInt = 64  # markout ring buffer per market


class LadderParams(QuotingControls):
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
    toxicity: ToxicityParams = ToxicityParams()
    # The fair price the model quotes around (and volatility is sampled from): the other
    # participants' mid ("mid_ex_own", our own resting orders taken out of the book), their
    # microprice, or the venue's mid with our own quotes in it ("mid", the old behaviour).
    # Volatility is sampled from the others' mid for a microprice too (its size weights are noise).
    fair_price: FairSource = "mid_ex_own"

    @model_validator(mode="after")
    def _spread_bounds(self) -> LadderParams:
        if self.max_spread_bps < self.min_spread_bps:
            raise ValueError(
                f"max_spread_bps ({self.max_spread_bps}) must be >= min_spread_bps ({self.min_spread_bps})"
            )
        return self


class InventoryRiskParams(LadderParams):
    """Shared by Avellaneda-Stoikov and GLFT: their risk aversion, its bound, their estimators.

    Risk aversion comes either from `skew_at_max_inventory_bps` (recommended) or from `gamma`
    (compatibility), exactly one of them:

    skew_at_max_inventory_bps  |r - s| / s in bps at full inventory (q = max_position) under the
                               reference inputs: sigma = volatility.fallback_annual_vol, and for
                               GLFT A = intensity.fallback_a_per_s, kappa = fallback_kappa_per_bps
                               (A-S: tau = horizon_s). The model's risk aversion per unit of quoted
                               notional follows from it once (see each model's `gamma_notional_for`);
                               the live skew then scales with the live estimates as the model says.
    gamma                      CARA risk aversion per unit of quote currency, applied to the quoted
                               size (the models use x = gamma * order_size)
    max_skew_bps               clamp on |r - s| in bps of fair, in every horizon mode (None: half of
                               max_spread_bps)
    """

    gamma: PositiveFloat | None = None
    skew_at_max_inventory_bps: PositiveFloat | None = None
    max_skew_bps: PositiveFloat | None = None
    volatility: VolatilityParams = VolatilityParams()
    intensity: IntensityParams = IntensityParams()

    @model_validator(mode="after")
    def _one_risk_aversion(self) -> InventoryRiskParams:
        if (self.gamma is None) == (self.skew_at_max_inventory_bps is None):
            raise ValueError("exactly one of skew_at_max_inventory_bps (recommended) or gamma is required")
        skew = self.skew_at_max_inventory_bps
        if skew is not None:
            if self.volatility.fallback_annual_vol <= 0:
                raise ValueError("skew_at_max_inventory_bps needs volatility.fallback_annual_vol > 0")
            if skew > self.max_skew_bps_or_default:
                raise ValueError(
                    f"skew_at_max_inventory_bps ({skew}) exceeds the clamp max_skew_bps "
                    f"({self.max_skew_bps_or_default})"
                )
        return self

    @property
    def max_skew_bps_or_default(self) -> float:
        return self.max_spread_bps / 2 if self.max_skew_bps is None else self.max_skew_bps


@runtime_checkable
class EstimatedParams(Protocol):
    """A model config whose inputs come from the estimators (volatility, fill intensity)."""

    volatility: VolatilityParams
    intensity: IntensityParams
