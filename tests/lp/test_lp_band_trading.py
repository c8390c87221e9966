"""The band-trading meter on constructed pool paths, and the carry's hedge cost scaled by it."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from amm.attribution import SECONDS_PER_YEAR
from strategies.lp.band_trading import PRIOR_TRADES, BandTradingMeter, diffusion_traded_per_variance
from strategies.lp.carry import HedgeCosting, PoolEconomics, liquidity_per_token1, optimal_half_width
from tests.lp.lp_views import CAPITAL, FEE_RATE, OTHERS_L, PRICE

ROUND_NS = 30_000_000_000


def feed(meter: BandTradingMeter, log_prices: np.ndarray) -> None:
    for i, x in enumerate(log_prices):
        meter.update(PRICE * math.exp(float(x)), i * ROUND_NS)


def test_a_diffusion_trades_what_the_model_says_at_every_band():
    # Gaussian steps of 3 bp a round: the measured over modelled distance is 1 within its noise
    # at bands from below the step to many steps, where the overshoot matters and where it does not.
    rng = np.random.default_rng(7)
    meter = BandTradingMeter(half_life_s=1e9, bands_log=(2e-4, 8e-4, 3.2e-3))
    feed(meter, np.cumsum(rng.normal(0.0, 3e-4, 200_000)))
    bands, ratios = meter.ratios()
    assert bands == (2e-4, 8e-4, 3.2e-3)
    assert ratios == pytest.approx((1.0, 1.0, 1.0), abs=0.06)
    # against the model at a σ̂ given (the carry's pool σ̂): the path's own σ, the same; twice it, a quarter
    sigma = 3e-4 * math.sqrt(SECONDS_PER_YEAR / 30.0)
    assert meter.ratios(sigma)[1] == pytest.approx((1.0, 1.0, 1.0), abs=0.06)
    assert meter.ratios(2.0 * sigma)[1][2] == pytest.approx(0.25, abs=0.03)  # widest: little overshoot


def test_a_path_that_only_ever_pushes_one_way_trades_its_distance_once():
    # Steps of 1 bp, all up: a 4.5 bp band trades every 5th round 5 bp (its distance, 1 bp a round)
    # where a diffusion of the same variance (1e-8 a round) would trade 1e-8·m(4.5 bp, 1 bp) a round.
    meter = BandTradingMeter(half_life_s=1e12, bands_log=(4.5e-4,))
    feed(meter, np.arange(1001) * 1e-4)
    ratios = meter.ratios()[1]
    assert meter.trades[0] == pytest.approx(200.0, rel=1e-6)
    assert meter.traded[0] == pytest.approx(200 * 5e-4, rel=1e-6)
    modelled = 1000 * 1e-8 * diffusion_traded_per_variance(4.5e-4, 1e-4)
    sure = 200 / (200 + PRIOR_TRADES)  # the model's prior weighs 20 trades
    assert ratios == (pytest.approx(sure * 0.1 / modelled + 1 - sure, rel=1e-6),)
    assert ratios[0] > 1.0  # a trend trades more per unit of variance than a diffusion


def test_a_path_jittering_inside_the_band_never_trades_and_no_trade_is_no_evidence():
    meter = BandTradingMeter(half_life_s=1e12, bands_log=(4e-4, 8e-4))
    assert meter.ratios() == ((), ())  # no return yet
    feed(meter, np.tile([0.0, 3e-4], 500))  # ±3 bp back and forth: inside both bands
    assert meter.trades == [0.0, 0.0]
    assert meter.ratios() == ((4e-4, 8e-4), (1.0, 1.0))  # the model stands
    assert meter.ratios(0.0) == ((), ())  # a model of a still pool (σ̂ 0): nothing to correct
    # 20 trades of half the model's distance: half-way between the model and what was seen
    meter = BandTradingMeter(half_life_s=1e12, bands_log=(4e-4,))
    meter.update(PRICE, 0)
    meter.variance, meter.steps, meter.traded, meter.trades = 1e-6, 100.0, [0.0], [20.0]
    meter.traded[0] = 0.5 * 1e-6 * diffusion_traded_per_variance(4e-4, 1e-4)
    assert meter.ratios()[1] == (pytest.approx(0.75),)


def test_our_own_swap_is_not_a_move_of_the_pool():
    meter = BandTradingMeter(half_life_s=1e12, bands_log=(4e-4,))
    feed(meter, np.zeros(10))
    meter.forget_price()
    meter.update(PRICE * 1.01, 10 * ROUND_NS)  # our swap moved the pool 1 %
    assert meter.trades == [0.0] and meter.variance == 0.0
    meter.update(PRICE * 1.01 * math.exp(5e-4), 11 * ROUND_NS)  # then the market, 5 bp
    assert meter.trades == [1.0] and meter.traded[0] == pytest.approx(5e-4)


def economics(ratios: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())) -> PoolEconomics:
    return PoolEconomics(PRICE, 0.6, FEE_RATE, OTHERS_L, 0.0, CAPITAL, 22.0, 30.0,
                         HedgeCosting(0.25, 5.5e-4, 12.0), 0.3, ratios)  # fmt: skip


def test_the_hedge_cost_is_scaled_by_the_ratio_at_the_band_the_width_implies():
    model, measured = economics(), economics(((2e-4, 8e-4), (0.5, 1.0)))
    for w, ratio in ((0.001, 0.5), (0.5, 1.0)):  # band 2√P·B/L: ≈ 0.05·w, beyond both ends
        liquidity = CAPITAL * liquidity_per_token1(PRICE, w)
        assert measured.hedge_per_s(liquidity) == pytest.approx(ratio * model.hedge_per_s(liquidity))
    # between two bands: interpolated in log band
    liquidity = 2.0 * 0.25 * math.sqrt(PRICE) / 4e-4
    assert measured.band_ratio(liquidity) == pytest.approx(0.75)
    # judged at another σ (the entry's), the ratios go along
    assert measured.at(0.9, CAPITAL).hedge_band_ratios == measured.hedge_band_ratios
    # the optimiser's grid agrees with the per-width figures: cheaper narrow hedging, narrower range
    cheap = dataclasses.replace(model, hedge_band_ratios=((1e-4, 1e-1), (0.5, 0.5)))
    assert optimal_half_width(cheap, 0.002, 1.0).half_width < optimal_half_width(model, 0.002, 1.0).half_width
