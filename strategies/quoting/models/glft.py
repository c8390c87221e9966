"""GLFT (Guéant-Lehalle-Fernandez-Tapia): the closed-form quotes for an order size Delta.

Guéant (2017), the closed-form approximation with xi = gamma, written in the units of the quoted
size (`order_units`: n = q / Delta, x = gamma * Delta per price unit):

    omega = sqrt( sigma**2 * x / (2 * A * kappa) * (1 + x/kappa)**(kappa/x + 1) )
                                         price per order of inventory (= Delta * the paper's w)
    r     = s - clip(n * omega, +-s * max_skew_bps * 1e-4)
    h     = ln(1 + x/kappa) / x + omega / 2

i.e. the paper's depths delta_b(q) = c1 + (q + Delta/2) w, delta_a(q) = c1 + (Delta/2 - q) w with
c1 = ln(1 + x/kappa)/x and w = sqrt(sigma**2 gamma / (2 A Delta kappa) (1 + x/kappa)**(kappa/x + 1)),
A the fill intensity of one order of size Delta at zero depth. The power is evaluated as
exp((kappa/x + 1) * ln(1 + x/kappa)) so it tends to e, not 1, when x/kappa underflows. The
approximation holds inside the inventory bounds |q| <= q_max; the core stops the side that would
leave them (inventory limits), as the model's boundary conditions do.

Parametrisation: `skew_at_max_inventory_bps` = K asks for |r - s| = K bps at full inventory
n = N under the reference inputs sigma_ref/s (`volatility.fallback_annual_vol`), A_ref
(`intensity.fallback_a_per_s`) and kappa_ref * s (`intensity.fallback_kappa_per_bps` * 1e4). In
price fractions, with g = gamma_notional and u = g / (kappa_ref * s),

    K * 1e-4 = N * (sigma_ref/s) * sqrt( g * P(u) / (2 * A_ref * kappa_ref * s) ),
    P(u) = (1 + u)**(1/u + 1)

whose right side increases strictly with g (g * P(g/k) does, P from e upwards), so g is found by
bisection on ln(u) once per market (`gamma_notional_for`). Live, the skew follows the estimates of
sigma, A and kappa as the closed form says, clamped to `max_skew_bps`.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from strategies.quoting.arrays import FloatArray, QuoteInputs, QuoteParams
from strategies.quoting.models.order_units import (
    clamped_reservation,
    max_inventory_orders,
    prepare_max_skew,
    reference_skew_fraction,
    risk_aversion_and_inventory,
    write_risk_slot,
)
from strategies.quoting.models.spec import (
    HALF,
    ONE,
    TWO,
    ModelWorkspace,
    QuoteModelSpec,
    estimates_usable,
    order_intensity_usable,
)
from strategies.quoting.params import InventoryRiskParams

_BISECTION_STEPS = 200  # halves a bracket of a few units of ln(u) to its last bit


class GlftParams(InventoryRiskParams):
    """Guéant-Lehalle-Fernandez-Tapia; order size = level size; risk aversion from
    `skew_at_max_inventory_bps` (or `gamma`)."""

    kind: Literal["glft"] = "glft"


def _log_u_p(log_u: float) -> float:
    """ln(u * P(u)) = ln u + (1/u + 1) * ln(1 + u), for u = exp(log_u)."""
    u = math.exp(log_u)
    if u == 0.0:  # underflow: ln P(u) -> 1
        return log_u + 1.0
    return log_u + (1.0 / u + 1.0) * math.log1p(u)


def gamma_notional_for(cfg: GlftParams, max_inventory_orders: float) -> float:
    """Solve the module docstring's equation for g = gamma_notional (bisection on ln u)."""
    sigma = cfg.volatility.fallback_log_vol_per_sqrt_s
    a = cfg.intensity.fallback_a_per_s
    kappa = cfg.intensity.fallback_kappa_per_bps * 1e4  # per unit of price fraction
    ratio = reference_skew_fraction(cfg) / (max_inventory_orders * sigma)
    # K * 1e-4 = N * sigma_ref * sqrt(u * P(u) / (2 A)) (x/kappa = u): u * P(u) = 2 A ratio**2
    log_target = math.log(2.0 * a) + 2.0 * math.log(ratio)
    # ln P(u) is in (1, 1 + ln(1 + u)): the root lies in [hi - ln(1 + e**hi), hi], hi = log_target - 1
    hi = log_target - 1.0
    lo = hi - math.log1p(math.exp(hi)) - 1e-9
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _log_u_p(mid) < log_target:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi)) * kappa


def glft(
    fair: FloatArray,
    inventory_orders: FloatArray,
    volatility: FloatArray,
    intensity_a: FloatArray,
    kappa: FloatArray,
    x: FloatArray,
    max_skew_fraction: FloatArray,
    *,
    reservation: FloatArray,
    half_spread: FloatArray,
    scratch: tuple[FloatArray, FloatArray, FloatArray],
) -> None:
    """r and h of the module docstring; x per price unit, inventory in orders."""
    log_term, omega, tmp = scratch
    np.divide(x, kappa, out=log_term)
    np.log1p(log_term, out=log_term)
    np.divide(kappa, x, out=tmp)
    tmp += ONE
    tmp *= log_term
    np.exp(tmp, out=tmp)  # (1 + x/kappa)**(kappa/x + 1)
    np.multiply(volatility, volatility, out=omega)
    omega *= x
    np.multiply(TWO, intensity_a, out=half_spread)  # scratch until the end
    half_spread *= kappa
    omega /= half_spread
    omega *= tmp
    np.sqrt(omega, out=omega)
    clamped_reservation(fair, inventory_orders, omega, max_skew_fraction, reservation=reservation, bound=tmp)
    np.divide(log_term, x, out=log_term)  # c1
    np.multiply(HALF, omega, out=half_spread)
    half_spread += log_term


def _compute(
    inputs: QuoteInputs,
    params: QuoteParams,
    max_skew_fraction: FloatArray,
    ws: ModelWorkspace,
    now_ns: int,
    reservation: FloatArray,
    half_spread: FloatArray,
) -> None:
    x, n, a, b, c = ws.scratch[:5]
    risk_aversion_and_inventory(inputs, params, x=x, n=n, scratch=a)
    glft(
        inputs.fair_price,
        n,
        inputs.volatility,
        inputs.intensity_a,
        inputs.intensity_kappa,
        x,
        max_skew_fraction,
        reservation=reservation,
        half_spread=half_spread,
        scratch=(a, b, c),
    )


def _write_slot(params: QuoteParams, slot: int, cfg: GlftParams, now_ns: int) -> None:
    gamma_notional = 0.0
    if cfg.gamma is None:
        gamma_notional = gamma_notional_for(cfg, max_inventory_orders(params, slot))
    write_risk_slot(params, slot, cfg, gamma_notional)


GLFT = QuoteModelSpec(
    GlftParams,
    _compute,
    _write_slot,
    checks=(estimates_usable, order_intensity_usable),
    uses_gamma=True,
    prepare=prepare_max_skew,
)
