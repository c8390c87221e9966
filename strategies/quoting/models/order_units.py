"""Avellaneda-Stoikov and GLFT in the units of the quoted size: what both models share.

Both papers count inventory in units of the asset and let every fill move it by one order of size
Delta. Counted that way, with CARA utility -exp(-gamma * wealth) (gamma per unit of quote
currency) and fills at depth delta with intensity A * exp(-kappa * delta) per order, both give

    n     = q / Delta                 inventory in orders (q and Delta in base units)
    x     = gamma * Delta             risk aversion per unit of quoted size, per price unit
    omega = the price of holding one more order: the reservation shift per order of inventory
    r     = s - n * omega             reservation price
    h     = ln(1 + x/kappa) / x + omega / 2

and only omega differs (A-S: x sigma**2 tau; GLFT: the square root of its closed form). The first
term of h is the paper's liquidity term for an order of size Delta (it tends to 1/kappa when
x/kappa -> 0); omega/2 is half the gap between the reservation prices of buying and selling one
order. Everything depends on Delta only through x and n: doubling the order size and halving gamma
(or scaling the base unit, which scales s, sigma, 1/kappa the other way) gives the same prices.

The risk aversion comes in one of two units, the other 0 (`QuoteParams`):
- `gamma` per unit of quote currency (compatibility): x = gamma * Delta;
- `gamma_notional` per unit of quoted notional s * Delta, dimensionless: x = gamma_notional / s.
  The same gamma_notional means the same thing for BTC and SOL: the skew and spread in bps depend
  only on it, n, sigma/s and kappa*s. `skew_at_max_inventory_bps` is turned into it once, from the
  model's skew at full inventory under reference inputs (each model's `gamma_notional_for`).

The reservation shift is clamped, |r - s| <= s * max_skew_bps * 1e-4 (inf: no clamp), so no
estimate, horizon or inventory can move the quotes arbitrarily far from fair.

The scalar reference (tests/strategies/reference_quotes.py) repeats each expression operation for
operation.
"""

from __future__ import annotations

import numpy as np

from strategies.quoting.arrays import FloatArray, QuoteInputs, QuoteParams
from strategies.quoting.models.spec import BPS
from strategies.quoting.params import InventoryRiskParams


def prepare_max_skew(params: QuoteParams) -> FloatArray:
    """The clamp as a price fraction (config-only: the plan keeps it)."""
    return params.max_skew_bps * BPS


def risk_aversion_and_inventory(
    inputs: QuoteInputs, params: QuoteParams, *, x: FloatArray, n: FloatArray, scratch: FloatArray
) -> None:
    """x = gamma * Delta + gamma_notional / s (per price unit) and n = q / Delta (orders).

    Delta = level_size_lots * lot_size; n = inventory_lots / level_size_lots (lots cancel out).
    """
    np.multiply(params.level_size_lots, params.lot_size, x)
    x *= params.gamma
    np.divide(params.gamma_notional, inputs.fair_price, scratch)
    x += scratch
    np.divide(inputs.inventory_lots, params.level_size_lots, n)


def liquidity_term(x: FloatArray, kappa: FloatArray, out: FloatArray) -> None:
    """c1 = ln(1 + x/kappa) / x, price units."""
    np.divide(x, kappa, out)
    np.log1p(out, out)
    out /= x


def clamped_reservation(
    fair: FloatArray,
    n: FloatArray,
    omega: FloatArray,
    max_skew_fraction: FloatArray,
    *,
    reservation: FloatArray,
    bound: FloatArray,
) -> None:
    """r = s - clip(n * omega, -s * max_skew, +s * max_skew); NaN stays NaN (unusable market)."""
    np.multiply(n, omega, reservation)
    np.multiply(max_skew_fraction, fair, bound)
    np.minimum(reservation, bound, out=reservation)
    np.negative(bound, bound)
    np.maximum(reservation, bound, out=reservation)
    np.subtract(fair, reservation, reservation)


def max_inventory_orders(params: QuoteParams, slot: int) -> float:
    """N = q_max / Delta of one market, from the sizes its slot was written with."""
    size = float(params.level_size_lots[slot])
    if not size > 0:
        raise ValueError("skew_at_max_inventory_bps needs an order_size > 0")
    return float(params.max_inventory_lots[slot]) / size


def write_risk_slot(params: QuoteParams, slot: int, cfg: InventoryRiskParams, gamma_notional: float) -> None:
    """The risk-aversion columns of one market: `gamma` from the config, or `gamma_notional`."""
    if cfg.gamma is not None:
        params.gamma[slot] = cfg.gamma
        params.gamma_notional[slot] = 0.0
    else:
        params.gamma[slot] = 0.0
        params.gamma_notional[slot] = gamma_notional
    params.max_skew_bps[slot] = cfg.max_skew_bps_or_default


def reference_skew_fraction(cfg: InventoryRiskParams) -> float:
    """The asked skew at full inventory as a price fraction (the knob is set)."""
    assert cfg.skew_at_max_inventory_bps is not None
    return cfg.skew_at_max_inventory_bps * BPS
