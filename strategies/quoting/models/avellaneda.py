"""Avellaneda-Stoikov in the units of the quoted size: inventory risk over a horizon sets the skew.

Avellaneda & Stoikov (2008), the approximation they give for their HJB solution, derived for
orders of size Delta (`order_units`: n = q / Delta, x = gamma * Delta):

    omega = x * sigma**2 * tau                      price per order of inventory
    r     = s - clip(n * omega, +-s * max_skew_bps * 1e-4)
    h     = omega / 2 + ln(1 + x/kappa) / x         (total spread x sigma**2 tau + (2/x) ln(1 + x/kappa))

With Delta = 1 this is the paper's r = s - q gamma sigma**2 tau, spread gamma sigma**2 tau +
(2/gamma) ln(1 + gamma/kappa); the reservation price is the same for any Delta (n * x = q * gamma),
the spread is that of the order actually quoted (the paper's one-unit spread applied to a 0.005 BTC
order is 200 times too wide in its risk term). The variance sigma**2 is used (Hummingbot #6059
skews with sigma): with sigma in price/sqrt(s), sigma**2 * tau is the price variance over tau.

tau: `horizon = "rolling"`: tau = horizon_s (the "infinite horizon" use for 24/7 markets);
`horizon = "session"`: tau = min(T - t, horizon_s) with T the next session end, so the quotes are
those of the rolling horizon until the last horizon_s of a session and then narrow towards its end
(the paper's T - t, bounded: a day-long tau would skew by a day's variance).

Parametrisation: `skew_at_max_inventory_bps` = K asks for |r - s| = K bps at full inventory
(n = N = max_position / order_size) when sigma is the reference volatility sigma_ref/s (the
configured `volatility.fallback_annual_vol`) and tau = horizon_s. Since n * omega / s =
n * gamma_notional * (sigma/s)**2 * tau, the risk aversion per unit of quoted notional is

    gamma_notional = K * 1e-4 / (N * (sigma_ref/s)**2 * horizon_s)

(dimensionless). Live, the skew at full inventory is K * (sigma / sigma_ref)**2 (A-S: more variance,
more skew), clamped to `max_skew_bps`; the half spread is omega/2 (= K / (2N) at the reference)
plus the liquidity term, close to 1/kappa. So with the knob, horizon_s no longer sizes the skew
(x scales as 1/horizon_s, omega = K/N * (sigma/sigma_ref)**2 whatever it is); in session mode it
still sets when, before the session end, the quotes start to narrow.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import NonNegativeFloat, PositiveFloat

from bot.core.clock import NS_PER_S
from strategies.quoting.arrays import FloatArray, QuoteInputs, QuoteParams
from strategies.quoting.models.order_units import (
    clamped_reservation,
    liquidity_term,
    max_inventory_orders,
    prepare_max_skew,
    reference_skew_fraction,
    risk_aversion_and_inventory,
    write_risk_slot,
)
from strategies.quoting.models.spec import HALF, ModelWorkspace, QuoteModelSpec, estimates_usable
from strategies.quoting.params import InventoryRiskParams


class AvellanedaParams(InventoryRiskParams):
    """Avellaneda-Stoikov; risk aversion from `skew_at_max_inventory_bps` (or `gamma`)."""

    kind: Literal["avellaneda"] = "avellaneda"
    horizon: Literal["rolling", "session"] = "rolling"
    horizon_s: PositiveFloat = 60.0  # rolling: tau; session: the bound on tau
    session_length_s: PositiveFloat = 86_400.0  # session: tau = min(next session end - now, horizon_s)
    session_offset_s: NonNegativeFloat = 0.0  # sessions end at offset + k * length (epoch UTC)


def next_session_end_ns(now_ns: int, session_length_s: float, session_offset_s: float) -> int:
    """First session end strictly after now_ns (sessions end at offset + k * length)."""
    length = round(session_length_s * NS_PER_S)
    offset = round(session_offset_s * NS_PER_S)
    return offset + ((now_ns - offset) // length + 1) * length


def gamma_notional_for(cfg: AvellanedaParams, max_inventory_orders: float) -> float:
    """gamma_notional = K * 1e-4 / (N * (sigma_ref/s)**2 * horizon_s) (see the module docstring)."""
    sigma = cfg.volatility.fallback_log_vol_per_sqrt_s
    return reference_skew_fraction(cfg) / (max_inventory_orders * (sigma * sigma) * cfg.horizon_s)


def avellaneda_stoikov(
    fair: FloatArray,
    inventory_orders: FloatArray,
    volatility: FloatArray,
    kappa: FloatArray,
    x: FloatArray,
    tau_s: FloatArray,
    max_skew_fraction: FloatArray,
    *,
    reservation: FloatArray,
    half_spread: FloatArray,
    scratch: tuple[FloatArray, FloatArray],
) -> None:
    """r and h of the module docstring; x per price unit, inventory in orders, tau in seconds."""
    omega, bound = scratch
    np.multiply(volatility, volatility, out=omega)
    omega *= x
    omega *= tau_s
    clamped_reservation(
        fair, inventory_orders, omega, max_skew_fraction, reservation=reservation, bound=bound
    )
    liquidity_term(x, kappa, bound)
    np.multiply(HALF, omega, out=half_spread)
    half_spread += bound


def _tau_s(params: QuoteParams, ws: ModelWorkspace, now_ns: int, out: FloatArray) -> FloatArray:
    """tau per market: horizon_s, or min(T - t, horizon_s) where a session end T is set."""
    if not params.session_end_ns.any():
        return params.horizon_s
    np.subtract(params.session_end_ns, now_ns, ws.tau_ns)
    np.maximum(ws.tau_ns, 0, out=ws.tau_ns)
    np.multiply(ws.tau_ns, 1e-9, out)
    np.minimum(out, params.horizon_s, out=out)
    np.equal(params.session_end_ns, 0, ws.flag)
    np.copyto(out, params.horizon_s, where=ws.flag)
    return out


def _compute(
    inputs: QuoteInputs,
    params: QuoteParams,
    max_skew_fraction: FloatArray,
    ws: ModelWorkspace,
    now_ns: int,
    reservation: FloatArray,
    half_spread: FloatArray,
) -> None:
    x, n, tau, omega, bound = ws.scratch[:5]
    risk_aversion_and_inventory(inputs, params, x=x, n=n, scratch=omega)
    avellaneda_stoikov(
        inputs.fair_price,
        n,
        inputs.volatility,
        inputs.intensity_kappa,
        x,
        _tau_s(params, ws, now_ns, tau),
        max_skew_fraction,
        reservation=reservation,
        half_spread=half_spread,
        scratch=(omega, bound),
    )


def _write_slot(params: QuoteParams, slot: int, cfg: AvellanedaParams, now_ns: int) -> None:
    gamma_notional = 0.0
    if cfg.gamma is None:
        gamma_notional = gamma_notional_for(cfg, max_inventory_orders(params, slot))
    write_risk_slot(params, slot, cfg, gamma_notional)
    params.horizon_s[slot] = cfg.horizon_s
    if cfg.horizon == "session":
        params.session_end_ns[slot] = next_session_end_ns(now_ns, cfg.session_length_s, cfg.session_offset_s)


AVELLANEDA_STOIKOV = QuoteModelSpec(
    AvellanedaParams,
    _compute,
    _write_slot,
    checks=(estimates_usable,),
    uses_gamma=True,
    prepare=prepare_max_skew,
)
