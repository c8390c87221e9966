"""Estimators recover known parameters from seeded synthetic event streams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.quoting.estimators import IntensityEstimator, VolatilityEstimator

T0 = 1_700_000_000_000_000_000
NS = 1_000_000_000


def test_volatility_recovers_known_sigma_from_irregular_events() -> None:
    """Geometric Brownian prices at exponential inter-arrival times (bursts and gaps alike).

    Tolerance 5 %: the EWMA with a 2 h half-life averages ~10k one-second-plus returns, so the
    relative standard error of sigma is ~1 %.
    """
    rng = np.random.default_rng(11)
    log_sigma = np.array([2e-5, 1e-4, 5e-4, 2e-3])  # per sqrt(second)
    start = np.array([0.5, 100.0, 30_000.0, 2.0])
    n = log_sigma.size
    est = VolatilityEstimator(n, half_life_s=7200.0, fallback_log_vol_per_sqrt_s=1e-4, min_interval_s=1.0)
    slots = np.arange(n)
    gaps_s = rng.exponential(0.6, size=(24_000, n))
    ts = T0 + np.cumsum(np.round(gaps_s * NS).astype(np.int64), axis=0)
    steps = rng.standard_normal((24_000, n)) * log_sigma * np.sqrt(gaps_s)
    log_price = np.log(start) + np.cumsum(steps, axis=0)
    for row in range(ts.shape[0]):
        est.update(slots, np.exp(log_price[row]), ts[row])
    assert est.warm.all()
    sigma = est.volatility()
    expected = log_sigma * np.exp(log_price[-1])  # price units per sqrt(second)
    np.testing.assert_allclose(sigma, expected, rtol=0.05)


def test_volatility_falls_back_until_warm_and_never_stalls_on_a_flat_price() -> None:
    est = VolatilityEstimator(
        2,
        half_life_s=60.0,
        fallback_log_vol_per_sqrt_s=2e-4,
        min_interval_s=1.0,
        warmup_s=30.0,
        min_samples=5,
    )
    assert np.isnan(est.volatility()).all()  # no price yet: the core will not quote
    for k in range(10):  # 10 samples over 9 s: enough samples, not enough time
        est.update([0, 1], [100.0, 50.0], T0 + k * NS)
    np.testing.assert_allclose(est.volatility(), [2e-4 * 100.0, 2e-4 * 50.0])
    assert not est.warm.any()
    for k in range(10, 40):
        est.update([0, 1], [100.0, 50.0], T0 + k * NS)
    assert est.warm.all()
    np.testing.assert_array_equal(est.volatility(), [0.0, 0.0])


def test_volatility_ignores_bursts_bad_prices_and_out_of_order_events() -> None:
    est = VolatilityEstimator(
        1, half_life_s=60.0, fallback_log_vol_per_sqrt_s=0.0, min_interval_s=1.0, min_samples=1, warmup_s=0.0
    )
    est.update([0], [100.0], T0)
    est.update([0], [150.0], T0)  # same timestamp: moves the last price only
    est.update([0], [101.0], T0 + NS // 2)  # inside the minimum interval
    est.update([0], [math.nan], T0 + NS)
    est.update([0], [0.0], T0 + NS)
    est.update([0], [90.0], T0 - NS)  # out of order
    assert est.samples[0] == 0
    est.update([0], [102.0], T0 + 2 * NS)  # one sample: ln(1.02)^2 / 2 s, the whole move from 100
    rate = math.log(1.02) ** 2 / 2.0
    assert est.volatility()[0] == pytest.approx(math.sqrt(rate) * 102.0, rel=1e-12)


def test_volatility_rejects_bad_arguments_by_name() -> None:
    with pytest.raises(ValueError, match=r"half_life_s\[1\]"):
        VolatilityEstimator(2, half_life_s=[10.0, 0.0], fallback_log_vol_per_sqrt_s=1e-4)
    est = VolatilityEstimator(3, half_life_s=10.0, fallback_log_vol_per_sqrt_s=1e-4)
    with pytest.raises(ValueError, match="unique"):
        est.update([1, 1], [1.0, 2.0], T0)
    with pytest.raises(ValueError, match="slots"):
        est.update([3], [1.0], T0)


EDGES = np.arange(0.0, 21.0, 1.0)  # 1 bps bins to 20 bps


def simulate_fills(
    a_per_s: np.ndarray, kappa_per_bps: np.ndarray, steps: int, dt_s: float, seed: int
) -> IntensityEstimator:
    """Each market rests 2 quotes at random depths for dt_s, then gets Poisson(A e^-kd dt) fills."""
    rng = np.random.default_rng(seed)
    n = a_per_s.size
    est = IntensityEstimator(
        n,
        quotes_per_market=2,
        depth_edges_bps=EDGES,
        half_life_s=1e9,
        min_fills=50,
        fallback_a_per_s=1.0,
        fallback_kappa_per_bps=0.5,
    )
    slots = np.arange(n)
    step_ns = int(dt_s * NS)
    for k in range(steps):
        ts = T0 + k * step_ns
        depth = rng.uniform(0.0, 20.0, size=(n, 2))
        est.set_quotes(slots, depth, ts)
        counts = rng.poisson(a_per_s[:, None] * np.exp(-kappa_per_bps[:, None] * depth) * dt_s)
        if counts.any():
            fill_slots = np.repeat(np.repeat(slots[:, None], 2, axis=1).ravel(), counts.ravel())
            est.record_fills(fill_slots, np.repeat(depth.ravel(), counts.ravel()), ts + step_ns - 1)
    est.fit(T0 + steps * step_ns)
    return est


def test_intensity_recovers_known_poisson_parameters() -> None:
    """2.5-10k fills per market over 10,000 s. Over seeds 0-7 the worst relative error was 6 %
    (A and kappa are correlated in the fit); the tolerance is 12 %."""
    a = np.array([1.0, 2.0, 1.0])
    kappa = np.array([0.1, 0.2, 0.4])
    est = simulate_fills(a, kappa, steps=5000, dt_s=2.0, seed=5)
    assert est.warm.all()
    np.testing.assert_allclose(est.fitted_kappa, kappa, rtol=0.12)
    np.testing.assert_allclose(est.fitted_a, a, rtol=0.12)
    # conversion to the core's units: kappa per price unit at the current fair
    fair = np.array([100.0, 20_000.0, 1.5])
    a_out, k_out = np.empty(3), np.empty(3)
    est.intensity(fair, a_out, k_out)
    np.testing.assert_array_equal(a_out, est.fitted_a)
    np.testing.assert_allclose(k_out, est.fitted_kappa / (fair * 1e-4))


def test_intensity_uses_fallbacks_until_enough_fills_and_never_divides_by_zero() -> None:
    est = IntensityEstimator(
        2,
        quotes_per_market=1,
        depth_edges_bps=EDGES,
        half_life_s=600.0,
        min_fills=20,
        fallback_a_per_s=[0.7, 0.9],
        fallback_kappa_per_bps=[0.3, 0.1],
    )
    est.fit(T0)  # nothing seen at all
    np.testing.assert_array_equal(est.fitted_a, [0.7, 0.9])
    np.testing.assert_array_equal(est.fitted_kappa, [0.3, 0.1])
    for k in range(100):  # exposure but no fills: still the fallback, finite
        est.set_quotes([0, 1], [[2.0 + k % 5], [np.nan]], T0 + k * NS)
    est.fit(T0 + 100 * NS)
    assert not est.warm.any()
    assert np.isfinite(est.fitted_a).all() and np.isfinite(est.fitted_kappa).all()
    np.testing.assert_array_equal(est.fitted_a, [0.7, 0.9])


def test_intensity_clamps_kappa_when_fills_are_deeper_than_exposure() -> None:
    """Fills only at the deepest of two depths: no decay evidence, kappa at its lower bound."""
    est = IntensityEstimator(
        1,
        quotes_per_market=2,
        depth_edges_bps=EDGES,
        half_life_s=1e9,
        min_fills=10,
        fallback_a_per_s=1.0,
        fallback_kappa_per_bps=0.5,
        kappa_bounds_per_bps=(1e-3, 10.0),
    )
    for k in range(100):
        est.set_quotes([0], [[1.5, 10.5]], T0 + k * NS)
        est.record_fills([0], [10.5], T0 + k * NS + 1)
    est.fit(T0 + 100 * NS)
    assert est.warm[0]
    assert est.fitted_kappa[0] == pytest.approx(1e-3, rel=1e-6)
    # A: 100 fills over 100 s in each of two bins, tilted by e^(-kappa d) at the bound
    exposure = 100.0 * (math.exp(-1e-3 * 1.5) + math.exp(-1e-3 * 10.5))
    assert est.fitted_a[0] == pytest.approx(100.0 / exposure, rel=1e-3)
