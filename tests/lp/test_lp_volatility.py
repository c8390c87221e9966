"""σ̂'s prior weighs `prior_s` seconds of returns: returns replace it as fast as they outweigh it."""

import math

import pytest

from amm.attribution import SECONDS_PER_YEAR
from strategies.lp.volatility import EwmaVolatility

S = 1_000_000_000


def feed(vol: EwmaVolatility, sigma: float, rounds: int, step_s: int = 30) -> None:
    """Returns of exactly σ√Δt, alternating up and down, one per `step_s`."""
    price, move = 3000.0, sigma * math.sqrt(step_s / SECONDS_PER_YEAR)
    vol.update(price, 0)
    for i in range(1, rounds + 1):
        price *= math.exp(move if i % 2 else -move)
        vol.update(price, i * step_s * S)


def test_a_prior_worth_300_s_weighs_as_much_as_300_s_of_returns():
    vol = EwmaVolatility.from_sigma(1800.0, 0.8, prior_s=300.0)
    feed(vol, 0.3, 10)  # 300 s of returns at σ 30 %
    # The prior weighs 1 − d (d = 2^(−300/1800)), decayed by d since; the returns 1 − d together.
    d = 2.0 ** (-300 / 1800)
    prior, returns = (1 - d) * d, 1 - d
    expected = (prior * 0.64 + returns * 0.09) / (prior + returns)  # 0.349: about midway
    assert vol.sigma_annual(0.8) ** 2 == pytest.approx(expected, rel=1e-9)
    plain = EwmaVolatility.from_sigma(1800.0, 0.8)  # the prior as the whole EWMA
    feed(plain, 0.3, 10)
    assert vol.sigma_annual(0.8) < 0.6 < 0.75 < plain.sigma_annual(0.8)  # that one still near 0.8


def test_a_prior_worth_the_whole_ewma_fades_at_its_half_life():
    vol = EwmaVolatility.from_sigma(1800.0, 0.8)  # prior_s = inf: the plain EWMA
    feed(vol, 0.3, 60)  # one half-life
    assert vol.sigma_annual(0.8) ** 2 == pytest.approx((0.64 + 0.09) / 2, rel=0.01)


def test_returns_shorter_than_the_minimum_interval_wait_and_a_forgotten_price_starts_afresh():
    vol = EwmaVolatility.from_sigma(1800.0, 0.3, prior_s=300.0, min_interval_s=60.0)
    vol.update(3000.0, 0)
    vol.update(3030.0, 30 * S)  # 30 s: not a return yet
    assert vol.samples == 0
    vol.update(3000.0, 60 * S)  # 60 s after the first price: one return (of zero)
    assert vol.samples == 1
    vol.forget_price()
    vol.update(3300.0, 120 * S)  # our own 10 % push: only the new starting price
    assert vol.samples == 1 and vol.last_price == 3300.0
