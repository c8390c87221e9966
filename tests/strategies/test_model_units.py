"""A-S and GLFT in the units of the quoted size: invariance to the base unit and to a consistent
scaling of sizes and risk aversion, the skew_at_max_inventory_bps parametrisation, the clamp."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from strategies.quoting.arrays import QuoteInputs, QuoteParams
from strategies.quoting.core import QuoteWorkspace, compute_quotes
from strategies.quoting.models import QuoteModel
from strategies.quoting.models.avellaneda import AvellanedaParams
from strategies.quoting.models.glft import GlftParams
from strategies.quoting.param_slots import build_quote_params
from strategies.quoting.params import SECONDS_PER_YEAR
from tests.kit import stubs

NOW_NS = 1_700_000_000_000_000_000
N_LEVELS = 3
FIELDS = ("bid_price_ticks", "bid_size_lots", "ask_price_ticks", "ask_size_lots")
MODELS = [QuoteModel.AVELLANEDA_STOIKOV, QuoteModel.GLFT]


def _log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi).map(lambda e: 10.0**e)


@st.composite
def model_market(draw: st.DrawFn) -> tuple[QuoteInputs, QuoteParams]:
    """One A-S or GLFT market, usable, in relative terms drawn then priced at a random fair."""
    fair = draw(_log_uniform(-2, 5))
    tick = 10.0 ** (math.floor(math.log10(fair)) + draw(st.integers(-6, -3)))
    level_lots = draw(st.sampled_from([1.0, 3.0, 5.0, 20.0]))
    max_lots = level_lots * draw(st.sampled_from([1.0, 4.0, 20.0]))
    gamma_in_notional = draw(st.booleans())
    inputs = QuoteInputs.empty(1)
    inputs.fair_price[0] = fair
    inputs.best_bid[0] = fair * (1 - draw(st.floats(0, 1e-3)))
    inputs.best_ask[0] = fair * (1 + draw(st.floats(0, 1e-3)))
    inputs.volatility[0] = fair * draw(_log_uniform(-6, -3))  # sigma / s per sqrt(s)
    inputs.intensity_a[0] = draw(_log_uniform(-2, 1))
    inputs.intensity_kappa[0] = draw(_log_uniform(-1, 0.5)) / (fair * 1e-4)  # per bps
    inputs.inventory_lots[0] = draw(st.floats(-1, 1)) * max_lots
    inputs.toxicity_bid_bps[0] = draw(st.floats(0, 3))
    inputs.toxicity_ask_bps[0] = draw(st.floats(0, 3))
    lot = draw(st.sampled_from([1e-5, 0.001, 0.1, 1.0]))
    gamma_notional = draw(_log_uniform(-1, 3))
    params = QuoteParams.uniform(
        1,
        N_LEVELS,
        model=draw(st.sampled_from(MODELS)),
        tick_size=tick,
        lot_size=lot,
        maker_fee_bps=draw(st.sampled_from([-1.0, 0.0, 2.0])),
        min_spread_bps=draw(st.sampled_from([0.0, 2.0])),
        gamma=0.0 if gamma_in_notional else gamma_notional / (fair * level_lots * lot),
        gamma_notional=gamma_notional if gamma_in_notional else 0.0,
        max_skew_bps=draw(st.sampled_from([math.inf, 3.0, 50.0])),
        horizon_s=draw(st.sampled_from([1.0, 60.0, 600.0])),
        session_end_ns=draw(st.sampled_from([0, NOW_NS + 20 * 10**9, NOW_NS + 86_400 * 10**9])),
        level_spacing_bps=2.0,
        level_size_lots=level_lots,
        max_inventory_lots=max_lots,
        size_shape_eta=draw(st.sampled_from([0.0, 1.0])),
    )
    return inputs, params


def quote(inputs: QuoteInputs, params: QuoteParams) -> tuple[dict[str, np.ndarray], QuoteWorkspace]:
    ws = QuoteWorkspace(params.n_markets, params.n_levels)
    t = compute_quotes(inputs, params, now_ns=NOW_NS, workspace=ws)
    return {f: getattr(t, f).copy() for f in FIELDS}, ws


def rebased(inputs: QuoteInputs, params: QuoteParams, k: float) -> tuple[QuoteInputs, QuoteParams]:
    """The same market with 1 new base unit = 1/k old ones (k = 1000: BTC counted in mBTC).

    Prices, ticks and sigma per new unit are 1/k of the old; lots and Delta k times larger base
    amounts (the same number of lots); kappa per price unit k times larger; gamma per quote
    currency and per quoted notional unchanged (they measure wealth, not the base asset).
    """
    x = QuoteInputs(**{f: getattr(inputs, f).copy() for f in QuoteInputs.__slots__})  # type: ignore[attr-defined]
    for f in ("fair_price", "best_bid", "best_ask", "volatility"):
        getattr(x, f)[:] /= k
    x.intensity_kappa[:] *= k
    p = QuoteParams(
        **{f: getattr(params, f).copy() for f in QuoteParams.__slots__ if f != "n_levels"},  # type: ignore[attr-defined]
        n_levels=params.n_levels,
    )
    p.tick_size[:] /= k
    p.lot_size[:] *= k
    return x, p


@settings(max_examples=200, deadline=None)
@given(model_market(), st.integers(-12, 12))
def test_quotes_in_ticks_do_not_depend_on_the_base_unit(
    market: tuple[QuoteInputs, QuoteParams], power: int
) -> None:
    """A power-of-two k scales every float exactly, so the ticks and lots must be identical."""
    inputs, params = market
    before, ws = quote(inputs, params)
    assert ws.valid[0]
    after, _ = quote(*rebased(inputs, params, 2.0**power))
    for f in FIELDS:
        np.testing.assert_array_equal(after[f], before[f], err_msg=f)


@settings(max_examples=100, deadline=None)
@given(model_market(), st.sampled_from([1000.0, 1e-3, 3.0, 1 / 7]))
def test_reservation_and_half_spread_scale_with_any_base_unit(
    market: tuple[QuoteInputs, QuoteParams], k: float
) -> None:
    """Any k: r and h (price units) are 1/k of the old, up to float rounding."""
    inputs, params = market
    _, ws = quote(inputs, params)
    r, h = ws.reservation[0], ws.half_spread[0]
    _, ws_k = quote(*rebased(inputs, params, k))
    assert ws_k.reservation[0] * k == pytest.approx(r, rel=1e-12)
    assert ws_k.half_spread[0] * k == pytest.approx(h, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(model_market(), st.integers(-6, 6))
def test_scaling_sizes_and_gamma_consistently_gives_the_same_r_and_h(
    market: tuple[QuoteInputs, QuoteParams], power: int
) -> None:
    """Order size, inventory and limit times k, gamma per quote currency / k (gamma per quoted
    notional unchanged): the same x and n, so the same r and h, and, where both quote a level
    (sizes are floored to lots), the same prices. Larger sizes quote at least the levels quoted
    before."""
    inputs, params = market
    before, ws = quote(inputs, params)
    r, h = ws.reservation.copy(), ws.half_spread.copy()
    k = 2.0**power
    inputs.inventory_lots[:] *= k
    params.level_size_lots[:] *= k
    params.max_inventory_lots[:] *= k
    params.gamma[:] /= k
    after, ws = quote(inputs, params)
    np.testing.assert_array_equal(ws.reservation, r)
    np.testing.assert_array_equal(ws.half_spread, h)
    for side in ("bid", "ask"):
        both = (before[f"{side}_size_lots"] > 0) & (after[f"{side}_size_lots"] > 0)
        prices = f"{side}_price_ticks"
        np.testing.assert_array_equal(after[prices][both], before[prices][both])
        if k >= 1:
            assert (after[f"{side}_size_lots"] > 0)[before[f"{side}_size_lots"] > 0].all()


@settings(max_examples=200, deadline=None)
@given(
    model_market(),
    st.sampled_from([0.0, 1.0, 25.0]),
    _log_uniform(-5, -1),
    st.integers(0, 30 * 86_400),
    _log_uniform(0, 5),
)
def test_the_clamp_holds_for_any_tau_and_estimate(
    market: tuple[QuoteInputs, QuoteParams],
    max_skew_bps: float,
    sigma_fraction: float,
    session_left_s: int,
    horizon_s: float,
) -> None:
    """|r - s| <= s * max_skew_bps * 1e-4 in every horizon mode, however large tau, sigma and q."""
    inputs, params = market
    s = inputs.fair_price[0]
    inputs.volatility[0] = sigma_fraction * s
    inputs.inventory_lots[0] = params.max_inventory_lots[0] * 5
    params.max_skew_bps[0] = max_skew_bps
    params.horizon_s[0] = horizon_s
    params.session_end_ns[0] = NOW_NS + session_left_s * 10**9 if session_left_s else 0
    _, ws = quote(inputs, params)
    assert ws.valid[0]
    # r = s - clip(...) and then r - s each round once: a few ulps of s, not a relative slack
    assert abs(ws.reservation[0] - s) <= s * max_skew_bps * 1e-4 + 4 * np.spacing(s)
    if max_skew_bps:
        assert ws.reservation[0] < s  # long: still skewed down, only bounded


def test_session_tau_is_bounded_by_the_horizon() -> None:
    inputs = QuoteInputs.empty(3)
    inputs.fair_price[:] = 100.0
    inputs.volatility[:] = 0.05
    inputs.intensity_kappa[:] = 10.0
    inputs.inventory_lots[:] = 5.0
    params = QuoteParams.uniform(
        3, 1, model=QuoteModel.AVELLANEDA_STOIKOV, lot_size=1.0, gamma=0.1, horizon_s=60.0
    )
    params.session_end_ns[:] = [0, NOW_NS + 86_400 * 10**9, NOW_NS + 30 * 10**9]
    _, ws = quote(inputs, params)
    skew = 100.0 - ws.reservation
    # rolling 60 s and a day left quote alike (tau = 60); 30 s left: half the skew
    assert skew[0] == skew[1] == pytest.approx(5 * 0.1 * 0.0025 * 60)
    assert skew[2] == pytest.approx(skew[0] / 2)


# ---- skew_at_max_inventory_bps ----------------------------------------------------------------

BTC = stubs.market(venue="sim", tick_size="0.1", lot_size="0.001")
SOL = stubs.market("SOL/USDT", "sim", tick_size="0.01", lot_size="0.1")


def quote_config(
    cfg: AvellanedaParams | GlftParams,
    fair: float,
    inventory_base: float,
    size_base: float,
    limit_base: float,
    market: object = BTC,
) -> QuoteWorkspace:
    """Quote one market at the config's reference inputs (its fallback estimates)."""
    params = build_quote_params([(cfg, market, size_base, limit_base)], now_ns=NOW_NS)  # type: ignore[list-item]
    lot = params.lot_size[0]
    inputs = QuoteInputs.empty(1)
    inputs.fair_price[0] = fair
    inputs.volatility[0] = cfg.volatility.fallback_log_vol_per_sqrt_s * fair
    inputs.intensity_a[0] = cfg.intensity.fallback_a_per_s
    inputs.intensity_kappa[0] = cfg.intensity.fallback_kappa_per_bps / (fair * 1e-4)
    inputs.inventory_lots[0] = inventory_base / lot
    ws = QuoteWorkspace(1, params.n_levels)
    compute_quotes(inputs, params, now_ns=NOW_NS, workspace=ws)
    assert ws.valid[0]
    return ws


def skew_bps(ws: QuoteWorkspace, fair: float) -> float:
    return float((fair - ws.reservation[0]) / fair * 1e4)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["avellaneda", "glft"]),
    _log_uniform(-1, 1.7),  # 0.1 to 50 bps
    st.floats(0.05, 3.0),
    st.floats(0.05, 5.0),
    st.floats(0.05, 5.0),
    st.sampled_from([1.0, 60.0, 600.0, 3600.0]),
    st.sampled_from([1, 2, 20, 200]),
    _log_uniform(0, 5),
)
def test_skew_at_full_inventory_is_what_was_asked(
    kind: str,
    skew: float,
    annual_vol: float,
    a_per_s: float,
    kappa_per_bps: float,
    horizon_s: float,
    orders: int,
    fair: float,
) -> None:
    cfg_type = AvellanedaParams if kind == "avellaneda" else GlftParams
    extra = {"horizon_s": horizon_s} if kind == "avellaneda" else {}
    cfg = cfg_type(
        markets=["sim:BTC/USDT"],
        skew_at_max_inventory_bps=skew,
        volatility={"fallback_annual_vol": annual_vol},
        intensity={"fallback_a_per_s": a_per_s, "fallback_kappa_per_bps": kappa_per_bps},
        **extra,  # type: ignore[arg-type]
    )
    limit = 0.005 * orders
    assert skew_bps(quote_config(cfg, fair, limit, 0.005, limit), fair) == pytest.approx(skew, rel=1e-9)
    assert skew_bps(quote_config(cfg, fair, -limit, 0.005, limit), fair) == pytest.approx(-skew, rel=1e-9)
    # linear in the inventory, zero when flat
    half = skew_bps(quote_config(cfg, fair, limit / 2, 0.005, limit), fair)
    assert half == pytest.approx(skew / 2, rel=1e-9)
    assert skew_bps(quote_config(cfg, fair, 0.0, 0.005, limit), fair) == 0.0


def test_avellaneda_skew_knob_known_values() -> None:
    # K = 6 bps, N = 0.1 / 0.005 = 20 orders, sigma_ref = 0.6 / sqrt(year), tau = 60 s:
    # gamma_notional = 6e-4 / (20 * 0.36 / 31_536_000 * 60) = 43.8
    cfg = AvellanedaParams(
        markets=["sim:BTC/USDT"], skew_at_max_inventory_bps=6, volatility={"fallback_annual_vol": 0.6}
    )
    params = build_quote_params([(cfg, BTC, 0.005, 0.1)], now_ns=NOW_NS)
    assert params.gamma[0] == 0.0
    assert params.gamma_notional[0] == pytest.approx(6e-4 / (20 * 0.36 / SECONDS_PER_YEAR * 60), rel=1e-12)
    assert params.gamma_notional[0] == pytest.approx(43.8, abs=0.01)
    # at 60,000: half spread omega/2 + ln(1 + x/kappa)/x = K/(2N) + ~1/kappa = 0.15 + 1.99 bps
    ws = quote_config(cfg, 60_000.0, 0.0, 0.005, 0.1)
    assert ws.half_spread[0] / 60_000 * 1e4 == pytest.approx(0.15 + 1.9913, abs=1e-3)


def test_the_same_knob_means_the_same_for_btc_and_sol() -> None:
    """BTC at 60,000 with 0.005 orders and SOL at 150 with 2: the same bps at the same inventory in
    orders, with the same relative estimates."""
    for cfg in (
        AvellanedaParams(markets=["sim:BTC/USDT"], skew_at_max_inventory_bps=5),
        GlftParams(markets=["sim:BTC/USDT"], skew_at_max_inventory_bps=5),
    ):
        btc = quote_config(cfg, 60_000.0, 0.03, 0.005, 0.1, BTC)
        sol = quote_config(cfg, 150.0, 12.0, 2.0, 40.0, SOL)
        assert skew_bps(btc, 60_000.0) == pytest.approx(skew_bps(sol, 150.0), rel=1e-9)
        assert skew_bps(btc, 60_000.0) == pytest.approx(5 * 6 / 20, rel=1e-9)
        h_btc, h_sol = btc.half_spread[0] / 60_000, sol.half_spread[0] / 150
        assert h_btc == pytest.approx(h_sol, rel=1e-9)


def test_risk_aversion_config_rules() -> None:
    base = {"markets": ["sim:BTC/USDT"]}
    for cfg_type in (AvellanedaParams, GlftParams):
        with pytest.raises(ValidationError, match="exactly one of skew_at_max_inventory_bps"):
            cfg_type(**base)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="exactly one of skew_at_max_inventory_bps"):
            cfg_type(**base, gamma=0.1, skew_at_max_inventory_bps=5)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match=r"exceeds the clamp max_skew_bps \(30.0\)"):
            cfg_type(**base, skew_at_max_inventory_bps=40, max_spread_bps=60)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="fallback_annual_vol > 0"):
            cfg_type(**base, skew_at_max_inventory_bps=5, volatility={"fallback_annual_vol": 0})  # type: ignore[arg-type]
        cfg = cfg_type(**base, skew_at_max_inventory_bps=40, max_skew_bps=40)  # type: ignore[arg-type]
        assert cfg.max_skew_bps_or_default == 40
        with pytest.raises(ValueError, match="order_size > 0"):
            build_quote_params([(cfg, BTC, 0.0, 0.1)], now_ns=NOW_NS)
