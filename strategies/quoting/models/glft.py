"""GLFT (Guéant-Lehalle-Fernandez-Tapia): the closed-form quotes for an order size Delta."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import PositiveFloat

from strategies.quoting.arrays import FloatArray, QuoteInputs, QuoteParams
from strategies.quoting.models.spec import (
    HALF,
    ONE,
    TWO,
    ModelWorkspace,
    QuoteModelSpec,
    estimates_usable,
    order_intensity_usable,
)
from strategies.quoting.params import IntensityParams, LadderParams, VolatilityParams


class GlftParams(LadderParams):
    """Guéant-Lehalle-Fernandez-Tapia; gamma per unit of quote currency, order size = level size."""

    kind: Literal["glft"] = "glft"
    gamma: PositiveFloat
    volatility: VolatilityParams = VolatilityParams()
    intensity: IntensityParams = IntensityParams()


def glft(
    fair: FloatArray,
    inventory_base: FloatArray,
    volatility: FloatArray,
    intensity_a: FloatArray,
    kappa: FloatArray,
    gamma: FloatArray,
    order_size_base: FloatArray,
    *,
    reservation: FloatArray,
    half_spread: FloatArray,
    scratch: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray],
) -> None:
    """Guéant–Lehalle–Fernandez-Tapia, the closed-form approximation (Guéant 2017) with xi = gamma.

    With Delta the order size (base units) and x = gamma * Delta (dimensionless per price unit):
      c1 = ln(1 + x/kappa) / x                                           price units
      w  = sqrt( sigma**2 * gamma / (2 * A * Delta * kappa) * (1 + x/kappa)**(kappa/x + 1) )
                                                                         price per base unit
      bid depth  delta_b(q) = c1 + (q + Delta/2) * w
      ask depth  delta_a(q) = c1 + (Delta/2 - q) * w
    i.e. r = s - q * w and h = c1 + Delta * w / 2. The power is evaluated as
    exp((kappa/x + 1) * ln(1 + x/kappa)) so it tends to e, not 1, when x/kappa underflows.
    The approximation holds inside the inventory bounds |q| <= q_max; the core stops the side that
    would leave them (inventory limits), as the model's boundary conditions do.
    """
    x, log_term, w, den, tmp = scratch
    np.multiply(gamma, order_size_base, out=x)
    np.divide(x, kappa, out=log_term)
    np.log1p(log_term, out=log_term)
    np.divide(kappa, x, out=tmp)
    tmp += ONE
    tmp *= log_term
    np.exp(tmp, out=tmp)
    np.multiply(volatility, volatility, out=w)
    w *= gamma
    np.multiply(TWO, intensity_a, out=den)
    den *= order_size_base
    den *= kappa
    w /= den
    w *= tmp
    np.sqrt(w, out=w)
    np.divide(log_term, x, out=log_term)  # c1
    np.multiply(inventory_base, w, out=tmp)
    np.subtract(fair, tmp, out=reservation)
    np.multiply(HALF, order_size_base, out=tmp)
    tmp *= w
    np.add(log_term, tmp, out=half_spread)


def _compute(
    inputs: QuoteInputs,
    params: QuoteParams,
    prepared: None,
    ws: ModelWorkspace,
    now_ns: int,
    reservation: FloatArray,
    half_spread: FloatArray,
) -> None:
    a, b, c, d, e, f = ws.scratch
    np.multiply(params.level_size_lots, params.lot_size, a)  # order size Delta, base units
    glft(
        inputs.fair_price,
        ws.inventory_base,
        inputs.volatility,
        inputs.intensity_a,
        inputs.intensity_kappa,
        params.gamma,
        a,
        reservation=reservation,
        half_spread=half_spread,
        scratch=(b, c, d, e, f),
    )


def _write_slot(params: QuoteParams, slot: int, cfg: GlftParams, now_ns: int) -> None:
    params.gamma[slot] = cfg.gamma


GLFT = QuoteModelSpec(
    GlftParams, _compute, _write_slot, checks=(estimates_usable, order_intensity_usable), uses_gamma=True
)
