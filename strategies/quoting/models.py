"""The three quote models, vectorized: each writes a reservation price r and a half spread h.

Every model maps market state to the level-0 quotes bid = r - h, ask = r + h (price units, before
fees, toxicity, spread bounds and rounding, which `quote_core` applies the same way for all models).
Each function computes every market into `reservation`/`half_spread` (full arrays, no masks: masked
ufuncs run one inner loop per run of True, which is slow on interleaved models); the core gathers
each market's own model afterwards.

Units: s, r, h in price units (quote currency per base unit); q in base units (inventory_lots *
lot_size); sigma in price units per sqrt(second), so sigma**2 is a variance rate in price**2/s;
tau in seconds; gamma per unit of quote currency (CARA utility -exp(-gamma * wealth)); kappa per
price unit and A per second, from the fill intensity lambda(delta) = A * exp(-kappa * delta) of OUR
OWN quotes at distance delta from fair.

The scalar reference (tests/strategies/reference_quotes.py) repeats each expression operation for
operation, so both round identically.
"""

from __future__ import annotations

import numpy as np

from strategies.quoting.arrays import FloatArray

BPS = 1e-4

# Constants as 0-d arrays: numpy takes those as they are, a Python float it converts on every call
# (a measurable share of a call on 1,000 markets).
BPS_ARRAY = np.array(BPS)
HALF = np.array(0.5)
ONE = np.array(1.0)
TWO = np.array(2.0)


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
    h = s * half_spread_fraction                (half_spread_bps * 1e-4, from `QuotePlan`)
    """
    np.multiply(skew_bps_per_unit_inventory_fraction, inventory_fraction, out=scratch)
    scratch *= BPS_ARRAY
    scratch *= fair
    np.subtract(fair, scratch, out=reservation)
    np.multiply(half_spread_fraction, fair, out=half_spread)


def avellaneda_stoikov(
    fair: FloatArray,
    inventory_base: FloatArray,
    volatility: FloatArray,
    kappa: FloatArray,
    gamma: FloatArray,
    tau_s: FloatArray,
    *,
    reservation: FloatArray,
    half_spread: FloatArray,
    scratch: tuple[FloatArray, FloatArray],
) -> None:
    """Avellaneda & Stoikov (2008), the approximation they give for their HJB solution.

    r = s - q * gamma * sigma**2 * tau                       price units
    total spread = gamma * sigma**2 * tau + (2/gamma) * ln(1 + gamma/kappa)
    h = gamma * sigma**2 * tau / 2 + ln(1 + gamma/kappa) / gamma

    The variance sigma**2 is used (Hummingbot #6059 skews with sigma): with sigma in price/sqrt(s),
    sigma**2 * tau is the price variance over the horizon. tau is the time left: T - t until a
    session end (spread and skew shrink towards the end), or a constant rolling horizon for 24/7
    markets (the "infinite horizon" use). The paper's ln(1 + gamma/kappa) takes gamma per unit of
    wealth with a one-base-unit order; GLFT below carries the order size explicitly.
    """
    risk, liquidity = scratch
    np.multiply(volatility, volatility, out=risk)
    np.multiply(gamma, risk, out=risk)
    risk *= tau_s
    np.multiply(inventory_base, risk, out=liquidity)
    np.subtract(fair, liquidity, out=reservation)
    np.divide(gamma, kappa, out=liquidity)
    np.log1p(liquidity, out=liquidity)
    liquidity /= gamma
    risk *= HALF
    np.add(risk, liquidity, out=half_spread)


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
