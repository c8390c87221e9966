"""Avellaneda-Stoikov: inventory risk over a horizon sets the skew, fill intensity the spread."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import NonNegativeFloat, PositiveFloat

from bot.core.clock import NS_PER_S
from strategies.quoting.arrays import FloatArray, QuoteInputs, QuoteParams
from strategies.quoting.models.spec import HALF, ModelWorkspace, QuoteModelSpec, estimates_usable
from strategies.quoting.params import IntensityParams, LadderParams, VolatilityParams


class AvellanedaParams(LadderParams):
    """Avellaneda-Stoikov; gamma is risk aversion per unit of quote currency."""

    kind: Literal["avellaneda"] = "avellaneda"
    gamma: PositiveFloat
    horizon: Literal["rolling", "session"] = "rolling"
    horizon_s: PositiveFloat = 60.0  # rolling: constant tau
    session_length_s: PositiveFloat = 86_400.0  # session: tau = next session end - now
    session_offset_s: NonNegativeFloat = 0.0  # sessions end at offset + k * length (epoch UTC)
    volatility: VolatilityParams = VolatilityParams()
    intensity: IntensityParams = IntensityParams()


def next_session_end_ns(now_ns: int, session_length_s: float, session_offset_s: float) -> int:
    """First session end strictly after now_ns (sessions end at offset + k * length)."""
    length = round(session_length_s * NS_PER_S)
    offset = round(session_offset_s * NS_PER_S)
    return offset + ((now_ns - offset) // length + 1) * length


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
    wealth with a one-base-unit order; GLFT carries the order size explicitly.
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


def _compute(
    inputs: QuoteInputs,
    params: QuoteParams,
    prepared: None,
    ws: ModelWorkspace,
    now_ns: int,
    reservation: FloatArray,
    half_spread: FloatArray,
) -> None:
    a, b, c = ws.scratch[:3]
    tau_s = params.horizon_s
    if params.session_end_ns.any():  # tau = T - t where a session end is set, else the horizon
        tau_s = a
        np.subtract(params.session_end_ns, now_ns, ws.tau_ns)
        np.maximum(ws.tau_ns, 0, out=ws.tau_ns)
        np.multiply(ws.tau_ns, 1e-9, tau_s)
        np.equal(params.session_end_ns, 0, ws.flag)
        np.copyto(tau_s, params.horizon_s, where=ws.flag)
    avellaneda_stoikov(
        inputs.fair_price,
        ws.inventory_base,
        inputs.volatility,
        inputs.intensity_kappa,
        params.gamma,
        tau_s,
        reservation=reservation,
        half_spread=half_spread,
        scratch=(b, c),
    )


def _write_slot(params: QuoteParams, slot: int, cfg: AvellanedaParams, now_ns: int) -> None:
    params.gamma[slot] = cfg.gamma
    params.horizon_s[slot] = cfg.horizon_s
    if cfg.horizon == "session":
        params.session_end_ns[slot] = next_session_end_ns(now_ns, cfg.session_length_s, cfg.session_offset_s)


AVELLANEDA_STOIKOV = QuoteModelSpec(
    AvellanedaParams, _compute, _write_slot, checks=(estimates_usable,), uses_gamma=True
)
