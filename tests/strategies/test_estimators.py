"""Estimators recover known parameters from seeded synthetic event streams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.quoting.estimators import VolatilityEstimator

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
