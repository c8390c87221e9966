"""A pool meter's estimates as a stored snapshot: σ̂ (the fair's, the pool's, the fee window's),
the band-trading meter's sums, the fee flow and its co-moments with σ², so a restart or a config
reload resumes them instead of measuring the pool again for hours before the first entry.

What is not carried over: the last prices and the fee-growth mark (the first round after a resume
starts new returns and a new fee interval: a paper session's simulated pool starts afresh, and a
return across the gap would mix two worlds), and anything about a position (re-judged). The gap
itself ages the estimates as the EWMAs would have: their weights decay by the time since the
snapshot, so new samples outweigh them sooner (`strategies.lp.pool` ignores a snapshot older than
`ESTIMATES_MAX_AGE_HALF_LIVES` fee half-lives).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from strategies.lp.band_trading import BandTradingMeter
from strategies.lp.carry_error import FlowVarianceMoments
from strategies.lp.volatility import EwmaVolatility, ewma_decay

_STRICT = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")


class EwmaState(BaseModel):
    model_config = _STRICT
    var_per_s: float
    samples: int
    weight: float
    weight_sq: float


class BandState(BaseModel):
    model_config = _STRICT
    bands_log: tuple[float, ...]
    variance: float
    steps: float
    elapsed_s: float
    traded: tuple[float, ...]
    trades: tuple[float, ...]


class FeeFlowState(BaseModel):
    model_config = _STRICT
    flow_token1_per_s: float
    weight: float
    square: float
    weight_sq: float


class CarryMomentsState(BaseModel):
    model_config = _STRICT
    weight: float
    weight_sq: float
    mean_flow: float
    mean_var: float
    flow_sq: float
    var_sq: float
    cross: float


class MeterEstimates(BaseModel):
    model_config = _STRICT
    version: Literal[1] = 1
    ts_ns: int
    vol: EwmaState
    pool_vol: EwmaState
    fee_window_vol: EwmaState
    band: BandState
    fee: FeeFlowState
    switch_vol: EwmaState | None = None  # the regime switch's short σ̂ (absent in older snapshots)
    carry_moments: CarryMomentsState | None = None  # the carry error's batch co-moments (likewise)


def ewma_state(e: EwmaVolatility) -> EwmaState:
    return EwmaState(var_per_s=e.var_per_s, samples=e.samples, weight=e.weight, weight_sq=e.weight_sq)


def resume_ewma(e: EwmaVolatility, s: EwmaState, gap_s: float) -> None:
    d = ewma_decay(gap_s, e.half_life_s)
    e.var_per_s, e.samples, e.weight, e.weight_sq = s.var_per_s, s.samples, s.weight * d, s.weight_sq * d * d
    e.forget_price()


def carry_moments_state(c: FlowVarianceMoments) -> CarryMomentsState:
    """Every co-moment (the half-life is the config's, not stored)."""
    return CarryMomentsState(**{name: getattr(c, name) for name in CarryMomentsState.model_fields})


def resume_carry_moments(c: FlowVarianceMoments, s: CarryMomentsState, gap_s: float) -> None:
    """(The batch in progress was not stored: batching starts again.)"""
    for name, value in s:
        setattr(c, name, value)
    c.decay_by(gap_s)


def band_state(m: BandTradingMeter) -> BandState:
    return BandState(
        bands_log=m.bands_log, variance=m.variance, steps=m.steps, elapsed_s=m.elapsed_s,
        traded=tuple(m.traded), trades=tuple(m.trades),
    )  # fmt: skip


def resume_band(m: BandTradingMeter, s: BandState, gap_s: float) -> None:
    """Left as it is when the snapshot's band ladder is not the meter's."""
    if s.bands_log != m.bands_log or len(s.traded) != len(m.bands_log) or len(s.trades) != len(m.bands_log):
        return
    d = ewma_decay(gap_s, m.half_life_s)
    m.variance, m.steps, m.elapsed_s = s.variance * d, s.steps * d, s.elapsed_s * d
    m.traded, m.trades = [x * d for x in s.traded], [x * d for x in s.trades]
    m.forget_price()
