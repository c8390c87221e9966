"""Float64 LP analytics over price grids: amounts, value, HODL, IL, delta, gamma, LVR (v3 and v2).

Everything is vectorized and broadcasts: `price` may be a grid, and liquidity or range bounds may be
arrays of the same shape. Prices are token1 per token0 in the units `liquidity` is expressed in
(raw units with the pool's L, or human units with L/10^((d0+d1)/2)); values are in token1.
Sign conventions (lp-maths.md):
  delta = ∂V/∂P = x(P) (token0 held), gamma = ∂²V/∂P² = x′(P) ≤ 0,
  IL vs HODL = V_LP(P) − V_HODL(P) ≤ 0, LVR rate ℓ = σ²P²/2·|x′(P)| (value per unit time of σ).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]


def _as_f64(*arrays: ArrayLike) -> list[F64]:
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _clamped_sqrt(price: F64, price_lower: F64, price_upper: F64) -> tuple[F64, F64, F64]:
    sa, sb = np.sqrt(price_lower), np.sqrt(price_upper)
    return np.clip(np.sqrt(price), sa, sb), sa, sb


def v3_amounts(
    price: ArrayLike, liquidity: ArrayLike, price_lower: ArrayLike, price_upper: ArrayLike
) -> tuple[F64, F64]:
    """(x, y) held by a range position: x = L(sb − s)/(s·sb), y = L(s − sa), s = √P clamped."""
    p, liq, pa, pb = _as_f64(price, liquidity, price_lower, price_upper)
    s, sa, sb = _clamped_sqrt(p, pa, pb)
    return liq * (sb - s) / (s * sb), liq * (s - sa)


def v3_value(price: ArrayLike, liquidity: ArrayLike, price_lower: ArrayLike, price_upper: ArrayLike) -> F64:
    x, y = v3_amounts(price, liquidity, price_lower, price_upper)
    return x * np.asarray(price, dtype=np.float64) + y


def hodl_value(price: ArrayLike, amount0: ArrayLike, amount1: ArrayLike) -> F64:
    p, x0, y0 = _as_f64(price, amount0, amount1)
    return x0 * p + y0


def v3_il_vs_hodl(
    price: ArrayLike,
    price_entry: ArrayLike,
    liquidity: ArrayLike,
    price_lower: ArrayLike,
    price_upper: ArrayLike,
) -> F64:
    """V_LP(P) − V_HODL(P), holding the amounts of entry: L·[(s − s0) + P·(1/s − 1/s0)], s clamped.

    In range this is −L(√P − √P0)²/√P0; outside the range the loss grows linearly in P.
    """
    p, p0, liq, pa, pb = _as_f64(price, price_entry, liquidity, price_lower, price_upper)
    s, _, _ = _clamped_sqrt(p, pa, pb)
    s0, _, _ = _clamped_sqrt(p0, pa, pb)
    return liq * ((s - s0) + p * (1.0 / s - 1.0 / s0))


def v3_il_fraction(
    price: ArrayLike,
    price_entry: ArrayLike,
    liquidity: ArrayLike,
    price_lower: ArrayLike,
    price_upper: ArrayLike,
) -> F64:
    """IL as a fraction of the HODL value (negative is a loss)."""
    x0, y0 = v3_amounts(price_entry, liquidity, price_lower, price_upper)
    return v3_il_vs_hodl(price, price_entry, liquidity, price_lower, price_upper) / hodl_value(price, x0, y0)


def _in_range(p: F64, pa: F64, pb: F64) -> NDArray[np.bool_]:
    return (p > pa) & (p < pb)


def v3_delta(price: ArrayLike, liquidity: ArrayLike, price_lower: ArrayLike, price_upper: ArrayLike) -> F64:
    """∂V/∂P = x(P): L(1/√P − 1/√Pb) in range, L(1/√Pa − 1/√Pb) below, 0 above."""
    return v3_amounts(price, liquidity, price_lower, price_upper)[0]


def v3_gamma(price: ArrayLike, liquidity: ArrayLike, price_lower: ArrayLike, price_upper: ArrayLike) -> F64:
    """∂²V/∂P² = −L/(2P^{3/2}) strictly inside the range, 0 outside."""
    p, liq, pa, pb = _as_f64(price, liquidity, price_lower, price_upper)
    return np.where(_in_range(p, pa, pb), -liq / (2.0 * p**1.5), 0.0)


def lvr_rate_from_gamma(price: ArrayLike, sigma: ArrayLike, gamma: ArrayLike) -> F64:
    """ℓ = σ²P²/2·|x′(P)| (Milionis et al.), in token1 per unit of time that σ is quoted in."""
    p, sig, g = _as_f64(price, sigma, gamma)
    return 0.5 * sig**2 * p**2 * np.abs(g)


def v3_lvr_rate(
    price: ArrayLike, sigma: ArrayLike, liquidity: ArrayLike, price_lower: ArrayLike, price_upper: ArrayLike
) -> F64:
    """σ²L√P/4 in range, 0 outside."""
    return lvr_rate_from_gamma(price, sigma, v3_gamma(price, liquidity, price_lower, price_upper))


def v2_value(price: ArrayLike, liquidity: ArrayLike) -> F64:
    p, liq = _as_f64(price, liquidity)
    return 2.0 * liq * np.sqrt(p)


def v2_amounts(price: ArrayLike, liquidity: ArrayLike) -> tuple[F64, F64]:
    p, liq = _as_f64(price, liquidity)
    s = np.sqrt(p)
    return liq / s, liq * s


def v2_delta(price: ArrayLike, liquidity: ArrayLike) -> F64:
    return v2_amounts(price, liquidity)[0]


def v2_gamma(price: ArrayLike, liquidity: ArrayLike) -> F64:
    p, liq = _as_f64(price, liquidity)
    return -liq / (2.0 * p**1.5)


def v2_il_fraction(price: ArrayLike, price_entry: ArrayLike) -> F64:
    """2√k/(1 + k) − 1 with k = P/P0 (k = 1.5 → −2.02 %)."""
    p, p0 = _as_f64(price, price_entry)
    k = p / p0
    return 2.0 * np.sqrt(k) / (1.0 + k) - 1.0


def v2_lvr_rate(price: ArrayLike, sigma: ArrayLike, liquidity: ArrayLike) -> F64:
    """σ²L√P/4, i.e. σ²/8 of the pool value."""
    return lvr_rate_from_gamma(price, sigma, v2_gamma(price, liquidity))


def break_even_volatility(
    fee_fraction: ArrayLike, volume_rate_token1: ArrayLike, active_liquidity: ArrayLike, price: ArrayLike
) -> F64:
    """σ_BE = √(4γ·Vol/(L_active·√P)): the volatility at which fees earned equal LVR (any width)."""
    gamma_fee, vol, l_active, p = _as_f64(fee_fraction, volume_rate_token1, active_liquidity, price)
    return np.sqrt(4.0 * gamma_fee * vol / (l_active * np.sqrt(p)))
