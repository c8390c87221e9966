"""Intensity from the tape: recovers a known (A, kappa) and is stable across seeds of one market."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from bot.core.domain import Side
from bot.core.events import PublicTrade
from connectors.mock.exchange import MockExchange
from connectors.mock.flow import OrderFlow
from connectors.mock.params import MockMarketParams
from strategies.quoting.intensity import TapeIntensity

EDGES = (0, 1, 2, 3, 5, 8, 12, 20, 30, 50)
NS = 1_000_000_000
START_NS = 1_700_000_000 * NS


def _estimator(n: int = 1, half_life_s: float = 1e7) -> TapeIntensity:
    return TapeIntensity(
        n, depth_edges_bps=EDGES, half_life_s=half_life_s, min_takers=30,
        fallback_a_per_s=1.0, fallback_kappa_per_bps=0.5,
    )  # fmt: skip


def _poisson_tape(
    est: TapeIntensity, a_per_s: float, kappa_per_bps: float, seconds: float, seed: int
) -> None:
    """Takers of each side at rate A; a taker's depth from the fair (100.0) is Exp(kappa)."""
    rng = np.random.default_rng(seed)
    fair = 100.0
    est.fit(np.array([True]), START_NS)
    for buy in (True, False):
        n = rng.poisson(a_per_s * seconds)
        times = np.sort(rng.uniform(0, seconds, n))
        depths = rng.exponential(1.0 / kappa_per_bps, n)
        for t, d in zip(times, depths, strict=True):
            price = fair * (1 + d * 1e-4) if buy else fair * (1 - d * 1e-4)
            est.record_trade(0, buy, price, 1.0, fair, START_NS + int(t * NS))
    est.fit(np.array([True]), START_NS + int(seconds * NS))


@pytest.mark.parametrize(("a_per_s", "kappa_per_bps", "seed"), [(2.0, 0.3, 1), (0.5, 0.1, 2), (5.0, 1.2, 3)])
def test_fit_recovers_known_a_and_kappa_from_a_poisson_tape(
    a_per_s: float, kappa_per_bps: float, seed: int
) -> None:
    est = _estimator()
    _poisson_tape(est, a_per_s, kappa_per_bps, 4 * 3600.0, seed)
    assert est.warm[0]
    assert est.a_per_s[0] == pytest.approx(a_per_s, rel=0.10)
    assert est.kappa_per_bps[0] == pytest.approx(kappa_per_bps, rel=0.10)


def test_a_sweep_counts_once_at_its_deepest_print_and_small_takers_weigh_less() -> None:
    est = _estimator()
    est.quote_size_lots[0] = 4.0
    est.fit(np.array([True]), START_NS)
    t = START_NS + NS
    for price in (100.04, 100.06, 100.09):  # one buy sweep through three levels: 9 bps deep
        est.record_trade(0, True, price, 4.0, 100.0, t)
    est.record_trade(0, False, 99.975, 1.0, 100.0, t)  # a 1-lot sell at 2.5 bps: a quarter of a taker
    est.record_trade(0, False, 100.01, 8.0, 100.0, t + 1)  # sold above the fair: depth 0
    est.fit(np.array([True]), t)
    assert est.counts[0].tolist() == [1.0, 0.0, 0.25, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def test_buffer_overflow_between_fits_gives_the_same_counts() -> None:
    small = TapeIntensity(
        1, depth_edges_bps=EDGES, half_life_s=60.0, min_takers=1,
        fallback_a_per_s=1.0, fallback_kappa_per_bps=0.5, buffer_size=3,
    )  # fmt: skip
    large = _estimator(half_life_s=60.0)
    for est in (small, large):
        est.fit(np.array([True]), START_NS)
        for i in range(10):
            est.record_trade(0, i % 2 == 0, 100.0 + 0.01 * (i % 4), 1.0, 100.0, START_NS + i * NS)
        est.fit(np.array([True]), START_NS + 30 * NS)
    np.testing.assert_allclose(small.counts, large.counts, rtol=1e-12)


def _mock_market_estimate(seed: int, hours: float = 1.0) -> tuple[float, float]:
    """The issue's market: BTC/USDT 60,000, 60 %/yr, noise 1/s, informed 0.5/s (10 s, 2 bps)."""
    params = MockMarketParams(
        symbol="BTC/USDT", tick_size=Decimal("0.1"), lot_size=Decimal("0.001"),
        initial_price=Decimal(60_000), noise_taker_rate_per_s=1.0, informed_taker_rate_per_s=0.5,
    )  # fmt: skip
    exchange = MockExchange("sim", [params.to_market("sim")])
    flow = OrderFlow(exchange, [params], seed=seed, start_ns=START_NS)
    est = _estimator(half_life_s=3600.0)
    est.quote_size_lots[0] = 5.0  # 0.005 BTC
    tick = float(params.tick_size)

    def on_event(_account: str | None, event: object) -> None:
        if isinstance(event, PublicTrade):
            fair = flow.fair_price("BTC/USDT")  # the latent fair at the trade
            est.record_trade(
                0, event.aggressor is Side.BUY, event.price_ticks * tick, event.size_lots, fair,
                event.exchange_ts_ns,
            )  # fmt: skip

    exchange.add_listener(on_event)
    active = np.array([True])
    est.fit(active, START_NS)
    end_ns = START_NS + int(hours * 3600 * NS)
    t = START_NS
    while t < end_ns:
        t += 5 * NS
        flow.advance_to(t)
        est.fit(active, t)
    return float(est.a_per_s[0]), float(est.kappa_per_bps[0])


def test_estimate_is_stable_across_five_seeds_of_one_simulated_market() -> None:
    estimates = np.array([_mock_market_estimate(seed) for seed in range(5)])
    a, kappa = estimates[:, 0], estimates[:, 1]
    for values in (a, kappa):
        centre = values.mean()
        assert np.all(np.abs(values / centre - 1) <= 0.25), values
    # and plausible for that book: the best level rests 5 bps from the fair
    assert 0.05 < kappa.mean() < 0.5
