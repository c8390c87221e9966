"""Known values: each model and adjustment against numbers worked out by hand (shown in comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.kernel.targets import QuoteTargets
from strategies.quoting.arrays import QuoteInputs, QuoteParams
from strategies.quoting.core import compute_quotes
from strategies.quoting.models import QuoteModel
from strategies.quoting.models.avellaneda import avellaneda_stoikov
from strategies.quoting.models.glft import glft

NOW = 1_700_000_000_000_000_000
NAN = math.nan


def one_market(n_levels: int = 3, **params: float) -> tuple[QuoteInputs, QuoteParams]:
    inputs = QuoteInputs.empty(1)
    inputs.fair_price[0] = 100.0
    defaults: dict[str, float] = {"tick_size": 0.01, "lot_size": 1.0, "half_spread_bps": 10.0}
    defaults.update(params)
    return inputs, QuoteParams.uniform(1, n_levels, **defaults)


def quote(inputs: QuoteInputs, params: QuoteParams) -> QuoteTargets:
    return compute_quotes(inputs, params, now_ns=NOW)


def ladder(t: QuoteTargets) -> tuple[list[int], list[int], list[int], list[int]]:
    return (
        t.bid_price_ticks[0].tolist(),
        t.bid_size_lots[0].tolist(),
        t.ask_price_ticks[0].tolist(),
        t.ask_size_lots[0].tolist(),
    )


# ---- fixed spread ------------------------------------------------------------------------------


def test_fixed_spread_ladder_and_linear_skew() -> None:
    # h = 10 bps of 100 = 0.10; levels 5 bps = 0.05 = 5 ticks apart
    inputs, params = one_market()
    assert ladder(quote(inputs, params)) == ([9990, 9985, 9980], [1, 1, 1], [10010, 10015, 10020], [1, 1, 1])
    # long half the limit, 20 bps per unit fraction: r = 100 - 100 * 20 * 0.5 * 1e-4 = 99.90
    params.skew_bps_per_unit_inventory_fraction[0] = 20.0
    inputs.inventory_lots[0] = 50.0
    bids, _, asks, _ = ladder(quote(inputs, params))
    assert (bids, asks) == ([9980, 9975, 9970], [10000, 10005, 10010])


# ---- Avellaneda-Stoikov ------------------------------------------------------------------------

INF = np.array([math.inf])  # no clamp on the reservation price


def as_market(
    tau_s: float = 60.0, session_end_ns: int = 0, sigma: float = 0.02, **params: float
) -> tuple[QuoteInputs, QuoteParams]:
    values: dict[str, float] = {"tick_size": 0.001, "gamma": 0.1, "horizon_s": tau_s}
    values.update(params)
    inputs, qp = one_market(1, model=QuoteModel.AVELLANEDA_STOIKOV, session_end_ns=session_end_ns, **values)
    inputs.volatility[0] = sigma
    inputs.intensity_kappa[0] = 10.0
    inputs.inventory_lots[0] = 5.0
    return inputs, qp


def run_as(*values: float, max_skew: np.ndarray = INF) -> tuple[float, float]:
    """(r, h) of `avellaneda_stoikov` for one market: fair, orders, sigma, kappa, x, tau."""
    r, h = np.empty(1), np.empty(1)
    args = [np.array([v]) for v in values]
    avellaneda_stoikov(*args, max_skew, reservation=r, half_spread=h, scratch=(np.empty(1), np.empty(1)))
    return float(r[0]), float(h[0])


def test_avellaneda_stoikov_one_unit_orders_are_the_paper() -> None:
    # Delta = 1 base unit: x = gamma = 0.1, n = q = 5.
    # gamma sigma^2 tau = 0.1 * 0.0004 * 60 = 0.0024;  r = 100 - 5 * 0.0024 = 99.988
    # h = 0.0024 / 2 + ln(1.01) / 0.1 = 0.0012 + 0.0995033085 = 0.1007033085
    # bid 99.8872967 -> 99887 ticks of 0.001 (down), ask 100.0887033 -> 100089 (up)
    r, h = run_as(100.0, 5.0, 0.02, 10.0, 0.1, 60.0)
    assert r == pytest.approx(99.988, abs=1e-12)
    assert h == pytest.approx(0.0012 + 0.0995033085316808, abs=1e-12)
    assert ladder(quote(*as_market())) == ([99887], [1], [100089], [1])


def test_avellaneda_stoikov_prices_the_order_size_quoted() -> None:
    # Delta = 5 lots of 0.001 = 0.005, gamma 0.1 per $: x = 5e-4 per $; q = 50 lots = 10 orders.
    # omega = x sigma^2 tau = 5e-4 * 0.0004 * 60 = 1.2e-5; r = 100 - 10 * 1.2e-5 = 99.99988
    # (= 100 - q gamma sigma^2 tau: the reservation price does not depend on Delta)
    # h = 6e-6 + ln(1 + 5e-5) / 5e-4 = 0.1000035000833: the one-unit formula's risk term
    # gamma sigma^2 tau / 2 = 0.0012 was 1/Delta = 200 times too large
    r, h = run_as(100.0, 10.0, 0.02, 10.0, 5e-4, 60.0)
    assert r == pytest.approx(99.99988, abs=1e-12)
    assert h == pytest.approx(0.10000350008333021, abs=1e-12)
    # bid 99.8998764999 -> 9989987 ticks of 1e-5, ask 100.0998835001 -> 10009989
    inputs, params = as_market(tick_size=1e-5, lot_size=0.001, level_size_lots=5.0)
    inputs.inventory_lots[0] = 50.0
    assert ladder(quote(inputs, params)) == ([9989987], [5], [10009989], [5])


def test_avellaneda_stoikov_skews_with_variance_not_volatility() -> None:
    # doubling sigma quadruples the inventory shift: 5 * 0.1 * 0.04^2 * 60 = 0.048 (Hummingbot #6059)
    r, _ = run_as(100.0, 5.0, 0.04, 10.0, 0.1, 60.0)
    assert 100.0 - r == pytest.approx(4 * 0.012, abs=1e-12)


def test_avellaneda_stoikov_session_end_bounds_tau_by_the_horizon() -> None:
    # 30 s left: risk 0.0012, r = 99.994, h = 0.0006 + 0.0995033 -> bid 99.8938967, ask 100.0941033
    assert ladder(quote(*as_market(session_end_ns=NOW + 30 * 10**9))) == ([99893], [1], [100095], [1])
    # a day left: tau = min(86400, horizon_s = 60), the rolling horizon's quotes
    rolling = ladder(quote(*as_market()))
    assert ladder(quote(*as_market(session_end_ns=NOW + 86_400 * 10**9))) == rolling
    # at or past the end tau = 0: no skew, h = ln(1.01)/0.1 -> bid 99.9004967, ask 100.0995033
    assert ladder(quote(*as_market(session_end_ns=NOW - 1))) == ([99900], [1], [100100], [1])
    # zero volatility behaves as tau = 0
    assert ladder(quote(*as_market(sigma=0.0))) == ([99900], [1], [100100], [1])


def test_reservation_price_is_clamped_to_max_skew() -> None:
    # r = 100 - 5 * 0.1 * sigma^2 * 60 = 100 - 30 sigma^2; sigma = 0.2: skew 1.2 = 120 bps
    r, _ = run_as(100.0, 5.0, 0.2, 10.0, 0.1, 60.0)
    assert r == pytest.approx(98.8, abs=1e-12)
    r, _ = run_as(100.0, 5.0, 0.2, 10.0, 0.1, 60.0, max_skew=np.array([25e-4]))  # 25 bps: 0.25
    assert r == 99.75
    r, _ = run_as(100.0, -5.0, 0.2, 10.0, 0.1, 60.0, max_skew=np.array([25e-4]))
    assert r == 100.25
    # through the core: h = 0.12 + 0.0995033 = 0.2195033 around r = 99.75 -> 99.5304967 / 99.9695033
    inputs, params = as_market(sigma=0.2, max_skew_bps=25.0)
    assert ladder(quote(inputs, params)) == ([99530], [1], [99970], [1])


def test_risk_aversion_per_unit_of_notional() -> None:
    # gamma_notional 10 at s = 100: x = 0.1 per $, as gamma = 0.1 per $ with a one-unit order
    inputs, params = as_market(gamma=0.0, gamma_notional=10.0)
    assert ladder(quote(inputs, params)) == ([99887], [1], [100089], [1])


# ---- GLFT --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inventory", "expected"),
    [
        # r = 100 - q w, h = c1 + w/2 with c1 = 0.0995033085, w = 0.0023374610
        (0.0, ([998993], [1], [1001007], [1])),  # bid 99.89932796, ask 100.10067204
        (2.0, ([998946], [1], [1000960], [1])),  # bid 99.89465304, ask 100.09599712
        (-3.0, ([999063], [1], [1001077], [1])),  # bid 99.90634034, ask 100.10768442
    ],
)
def test_glft_closed_form(inventory: float, expected: tuple[list[int], ...]) -> None:
    # gamma 0.1 per $, Delta = 1 base, kappa 10 per $, A = 1/s, sigma 0.02 $/sqrt(s): x = 0.1,
    # c1 = ln(1.01)/0.1, (1.01)^101 = 2.7318619677, w = sqrt(0.0004*0.1/(2*1*1*10) * 2.7318619677)
    inputs, params = one_market(1, model=QuoteModel.GLFT, tick_size=1e-4, gamma=0.1, max_inventory_lots=10.0)
    inputs.volatility[0] = 0.02
    inputs.intensity_a[0] = 1.0
    inputs.intensity_kappa[0] = 10.0
    inputs.inventory_lots[0] = inventory
    assert ladder(quote(inputs, params)) == expected


def test_glft_in_order_units() -> None:
    # Delta = 4 lots of 0.25 = 1 base: the same x = 0.1 and the same prices as above; q = 8 lots = 2
    # orders: bid 99.89465304, ask 100.09599712
    inputs, params = one_market(
        1, model=QuoteModel.GLFT, tick_size=1e-4, gamma=0.1, lot_size=0.25, level_size_lots=4.0
    )
    inputs.volatility[0] = 0.02
    inputs.intensity_a[0] = 1.0
    inputs.intensity_kappa[0] = 10.0
    inputs.inventory_lots[0] = 8.0
    assert ladder(quote(inputs, params))[::2] == ([998946], [1000960])
    inputs.volatility[0] = 0.2  # w = 0.023374610: skew 2 w = 0.0467 = 4.7 bps
    params.max_skew_bps[0] = 3.0  # clamped to 0.03: r = 99.97, h = c1 + w/2 = 0.1111906 ->
    # bid 99.8588094, ask 100.0811906
    assert ladder(quote(inputs, params))[::2] == ([998588], [1000812])


def test_glft_power_term_tends_to_e_when_order_size_is_negligible() -> None:
    r, h = np.empty(1), np.empty(1)
    scratch = tuple(np.empty(1) for _ in range(3))
    # x/kappa = 1e-20: (1 + x/kappa)^(kappa/x + 1) -> e, omega = sqrt(sigma^2 x e / (2 A kappa))
    glft(
        *[np.array([v]) for v in (100.0, 1.0, 0.02, 1.0, 10.0, 1e-19)],
        INF,
        reservation=r,
        half_spread=h,
        scratch=scratch,  # type: ignore[arg-type]
    )
    w = math.sqrt(0.0004 * 1e-19 * math.e / (2 * 10.0))
    assert 100.0 - r[0] == pytest.approx(w, rel=1e-9)
    assert h[0] == pytest.approx(1 / 10.0 + 0.5 * w, rel=1e-9)  # c1 -> 1/kappa


# ---- adjustments -------------------------------------------------------------------------------


def test_toxicity_and_fee_widen_then_spread_bounds_clamp() -> None:
    inputs, params = one_market(1)
    inputs.toxicity_bid_bps[0] = 2.0
    inputs.toxicity_ask_bps[0] = 2.0
    params.maker_fee_bps[0] = 1.0  # h = 10 + 2 + 1 = 13 bps
    assert ladder(quote(inputs, params))[::2] == ([9987], [10013])
    inputs.toxicity_bid_bps[0] = 7.0  # per side: only the bid moves, h_bid = 10 + 7 + 1 = 18 bps
    assert ladder(quote(inputs, params))[::2] == ([9982], [10013])
    inputs.toxicity_bid_bps[0] = 2.0
    params.min_spread_bps[0] = 30.0  # total >= 30 bps: h = 15 bps
    assert ladder(quote(inputs, params))[::2] == ([9985], [10015])
    params.min_spread_bps[0] = 0.0
    params.max_spread_bps[0] = 10.0  # total <= 10 bps: h = 5 bps
    assert ladder(quote(inputs, params))[::2] == ([9995], [10005])


def test_post_only_clamp_keeps_one_tick_inside_and_ladder_shape() -> None:
    # short half the limit, 60 bps per unit: r = 100.30, bid 100.20 would cross best ask 100.05
    inputs, params = one_market(skew_bps_per_unit_inventory_fraction=60.0)
    inputs.inventory_lots[0] = -50.0
    inputs.best_bid[0], inputs.best_ask[0] = 99.95, 100.05
    bids, _, asks, _ = ladder(quote(inputs, params))
    assert bids == [10004, 9999, 9994]
    assert asks == [10040, 10045, 10050]


def test_crossed_and_one_sided_books() -> None:
    inputs, params = one_market(1)
    inputs.best_bid[0], inputs.best_ask[0] = 100.10, 99.90  # crossed
    assert ladder(quote(inputs, params))[::2] == ([9989], [10011])
    inputs.best_bid[0], inputs.best_ask[0] = NAN, 99.85  # no bids in the book: asks unclamped
    assert ladder(quote(inputs, params))[::2] == ([9984], [10010])
    inputs.best_bid[0], inputs.best_ask[0] = NAN, NAN  # empty book: model prices as they are
    assert ladder(quote(inputs, params))[::2] == ([9990], [10010])


def test_price_band_drops_levels_too_far_from_fair() -> None:
    # h 3 bps, levels 2 bps apart: bids 99.97, 99.95, 99.93, 99.91; band 6 bps keeps >= 99.94
    inputs, params = one_market(4, half_spread_bps=3.0, level_spacing_bps=2.0, price_band_bps=6.0)
    bids, bid_sizes, asks, ask_sizes = ladder(quote(inputs, params))
    assert (bids, bid_sizes) == ([9997, 9995, 0, 0], [1, 1, 0, 0])
    assert (asks, ask_sizes) == ([10003, 10005, 0, 0], [1, 1, 0, 0])


def test_inventory_limit_stops_or_cuts_the_side_that_would_breach() -> None:
    inputs, params = one_market(max_inventory_lots=100.0)
    inputs.inventory_lots[0] = 100.0  # at the limit: no bids at all
    assert ladder(quote(inputs, params)) == ([0, 0, 0], [0, 0, 0], [10010, 10015, 10020], [1, 1, 1])
    inputs.inventory_lots[0] = 98.5  # room floor(1.5) = 1 lot: only level 0
    assert ladder(quote(inputs, params))[:2] == ([9990, 0, 0], [1, 0, 0])
    inputs.inventory_lots[0] = -100.0  # short at the limit: no asks
    assert ladder(quote(inputs, params))[2:] == ([0, 0, 0], [0, 0, 0])


def test_size_shaping_and_lot_rounding() -> None:
    # q/q_max = 0.5, eta = 2: bids 10 * e^-1 = 3.68 -> 3 lots; asks unshaped 10
    inputs, params = one_market(1, level_size_lots=10.0, size_shape_eta=2.0)
    inputs.inventory_lots[0] = 50.0
    assert ladder(quote(inputs, params))[1::2] == ([3], [10])
    inputs.inventory_lots[0] = -50.0
    assert ladder(quote(inputs, params))[1::2] == ([10], [3])
    params.level_size_lots[0] = 2.7  # sizes round down to the lot
    params.size_shape_eta[0] = 0.0
    assert ladder(quote(inputs, params))[1::2] == ([2], [2])


def test_level_count_and_nan_fair_only_affect_their_market() -> None:
    inputs = QuoteInputs.empty(2)
    inputs.fair_price[:] = [100.0, NAN]
    params = QuoteParams.uniform(2, 3, tick_size=0.01, lot_size=1.0, level_count=2)
    t = quote(inputs, params)
    assert t.bid_price_ticks.tolist() == [[9990, 9985, 0], [0, 0, 0]]
    assert t.ask_size_lots.tolist() == [[1, 1, 0], [0, 0, 0]]


def test_unusable_estimates_pull_only_model_markets() -> None:
    # AS needs kappa > 0; the fixed-spread market beside it still quotes
    inputs = QuoteInputs.empty(2)
    inputs.fair_price[:] = 100.0
    params = QuoteParams.uniform(2, 1, tick_size=0.01, lot_size=1.0)
    params.model[1] = QuoteModel.AVELLANEDA_STOIKOV
    t = quote(inputs, params)  # kappa = 0 in QuoteInputs.empty
    assert t.bid_size_lots.tolist() == [[1], [0]]
