"""Fixed spread: a constant half spread around fair, the reservation skewed by inventory."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import NonNegativeFloat

from strategies.quoting.arrays import FloatArray, QuoteInputs, QuoteParams
from strategies.quoting.models.spec import BPS, BPS_ARRAY, ModelWorkspace, QuoteModelSpec
from strategies.quoting.params import LadderParams


class FixedSpreadParams(LadderParams):
    kind: Literal["fixed_spread"] = "fixed_spread"
    half_spread_bps: NonNegativeFloat = 10.0
    skew_bps_per_unit_inventory_fraction: float = 0.0


def fixed_spread(
    fair: FloatArray,
    inventory_fraction: FloatArray,
    half_spread_fraction: FloatArray,
    skew_bps_per_unit_inventory_fraction: FloatArray,
    *,
    reservation: FloatArray,
    half_spread: FloatArray,
    scratch: FloatArray,
) -> None:
    """Fixed half spread around fair, reservation shifted linearly with inventory.

    r = s - s * (skew_bps * q/q_max) * 1e-4     (long inventory lowers both quotes)
    h = s * half_spread_fraction                (half_spread_bps * 1e-4, from `prepare`)
    """
    np.multiply(skew_bps_per_unit_inventory_fraction, inventory_fraction, out=scratch)
    scratch *= BPS_ARRAY
    scratch *= fair
    np.subtract(fair, scratch, out=reservation)
    np.multiply(half_spread_fraction, fair, out=half_spread)


def _prepare(params: QuoteParams) -> FloatArray:
    return params.half_spread_bps * BPS  # price fraction


def _compute(
    inputs: QuoteInputs,
    params: QuoteParams,
    half_spread_fraction: FloatArray,
    ws: ModelWorkspace,
    now_ns: int,
    reservation: FloatArray,
    half_spread: FloatArray,
) -> None:
    fixed_spread(
        inputs.fair_price,
        ws.inventory_fraction,
        half_spread_fraction,
        params.skew_bps_per_unit_inventory_fraction,
        reservation=reservation,
        half_spread=half_spread,
        scratch=ws.scratch[0],
    )


def _write_slot(params: QuoteParams, slot: int, cfg: FixedSpreadParams, now_ns: int) -> None:
    params.half_spread_bps[slot] = cfg.half_spread_bps
    params.skew_bps_per_unit_inventory_fraction[slot] = cfg.skew_bps_per_unit_inventory_fraction


FIXED_SPREAD = QuoteModelSpec(FixedSpreadParams, _compute, _write_slot, prepare=_prepare)
