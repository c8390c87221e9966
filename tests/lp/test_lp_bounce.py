"""Bid-ask bounce in candle closes (`strategies.lp.bounce`) and σ̂ seeded from such closes: the
bounce is found from the returns' lag-1 autocovariance and taken out; bounce-free closes keep their
σ̂; closes that are mostly bounce do not seed σ̂. Constructed returns whose moments are exact, and
simulated closes (a random walk traded at the bid or the ask) against their latent σ."""

import asyncio
import math

import numpy as np
import pytest

from benchmarks.lp import seeded_sigma as bench
from bot.core.clock import NS_PER_S, LoopClock, run_simulated
from bot.core.history import PriceHistory
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import MockVenue
from strategies.lp.bounce import NO_BOUNCE, bounce_of, noise_var_per_s
from strategies.lp.pool import PoolLpManager
from strategies.lp.volatility import EwmaVolatility
from tests.lp.test_lp_seeding import MIN, PARAMS, manager, swaps, zigzag

R = 0.001


def prices_of(returns: list[float], start: float = 3000.0) -> list[float]:
    return [start * math.exp(x) for x in np.concatenate([[0.0], np.cumsum(returns)])]


def closes(prices: np.ndarray | list[float], interval_s: int = 60) -> PriceHistory:
    step = interval_s * NS_PER_S
    return PriceHistory(
        interval_s, tuple((k + 1) * step for k in range(len(prices))), tuple(map(float, prices))
    )


def test_reversing_returns_are_bounce_by_their_lag1_autocovariance():
    # returns 3R, R, −R, −3R repeated: lag-1 products 3R², −R², 3R², −9R² (mean −R²) over 100 periods
    returns = [R * x for x in (3, 1, -1, -3)] * 100 + [3 * R]
    bounce = bounce_of(prices_of(returns))
    assert bounce.noise_var == pytest.approx(R * R, rel=1e-6)
    mean_square = (100 * 20 + 9) * R * R / 401
    assert bounce.share == pytest.approx(2 * R * R / mean_square, rel=1e-6)  # 0.40
    minutes = [k * 60 * NS_PER_S for k in range(402)]
    assert noise_var_per_s(bounce, minutes) == pytest.approx(2 * R * R / 60, rel=1e-6)
    # closes 1 and 2 minutes apart, alternately: the bias of the mean 1/Δ, (1/60 + 1/120)/2 a second
    uneven = list(np.cumsum([0] + [60 * NS_PER_S * (1 + k % 2) for k in range(400)]))
    assert noise_var_per_s(bounce, uneven) == pytest.approx(2 * R * R * (1 / 60 + 1 / 120) / 2, rel=1e-6)
    assert noise_var_per_s(NO_BOUNCE, minutes) == 0.0


def test_returns_without_lag1_autocovariance_or_too_few_hold_no_bounce():
    assert bounce_of(prices_of([R, R, -R, -R] * 100)) == NO_BOUNCE  # products R², −R², …: mean 0
    assert bounce_of(prices_of([R, -R] * 14)) == NO_BOUNCE  # pure reversal, but 28 returns only
    pure = bounce_of(prices_of([R, -R] * 15))  # 30: every return undone by the next
    assert pure.noise_var == pytest.approx(R * R, rel=1e-6) and pure.share == 1.0


def test_removing_noise_lowers_the_variance_and_widens_its_error():
    ewma = EwmaVolatility(1800.0, var_per_s=3e-8, weight=1.0, weight_sq=0.01)  # 100 samples' worth
    ewma.remove_noise(1e-8, max_share=0.75)
    assert ewma.var_per_s == pytest.approx(2e-8)
    # E[r²] ÷ clean = 1.5: the error of σ̂ grows 1.5×, the samples it is worth fall 2.25×
    assert ewma.rel_error() == pytest.approx(math.sqrt(0.01 / 2) * 1.5)
    assert ewma.effective_samples() == pytest.approx(100 / 2.25)
    capped = EwmaVolatility(1800.0, var_per_s=3e-8, weight=1.0, weight_sq=0.01)
    capped.remove_noise(5e-8, max_share=0.75)  # more than the estimate: a quarter of it is kept
    assert capped.var_per_s == pytest.approx(0.75e-8)


def test_closes_that_are_mostly_bounce_do_not_seed_sigma():
    m = manager()
    fair = closes(prices_of([R, -R] * 180))  # six hours of minutes, each return undone
    rows = [(k * MIN + MIN // 2, 3000.0, 0.0, 1.0) for k in range(1, 361)]  # a swap in each minute
    seeded = m.seed_estimates(fair, swaps(rows, MIN, 361 * MIN))
    assert seeded.bounce.share == 1.0 and not seeded.sigma_from_closes
    assert m.meter.vol.samples == 0 and m.meter.sigma_annual() == PARAMS.initial_sigma
    assert m.meter.fee_window_vol.samples == 0
    assert m.meter.carry_batches.moments.weight == 0.0  # nor the entry gate's error
    # the closes are still the grid of the pool's side: its prices and the fee flow
    assert (seeded.pool_prices, seeded.fee_intervals) == (360, 360)
    assert m.meter.fee_flow_token1_per_s == pytest.approx(1.0 / 60)


def test_bounce_free_closes_seed_sigma_unchanged():
    m = manager()
    seeded = m.seed_estimates(zigzag(361), None)  # ±R returns without lag-1 autocovariance
    assert seeded.bounce == NO_BOUNCE and seeded.sigma_from_closes
    assert m.meter.vol.samples == 360


def raw_sigma(history: PriceHistory, m: PoolLpManager, monkeypatch: pytest.MonkeyPatch) -> float:
    """What seeding read from the same closes before the bounce was taken out."""
    with monkeypatch.context() as patch:
        patch.setattr("strategies.lp.seeding.bounce_of", lambda prices: NO_BOUNCE)
        return bench.seeded_sigma(m, history)[0]


def test_sigma_from_traded_closes_is_the_latent_sigma_not_the_bounce(monkeypatch):
    # σ 60 % traded across a 10 bp spread (the mock exchange's default market): a third of the
    # closes' variance is bounce. 100 histories of six hours, fixed seeds.
    rng = np.random.default_rng(7)
    histories = [bench.closes(rng, 0.6, 5e-4, 361, 60) for _ in range(100)]
    m = manager()
    seeded = np.array([bench.seeded_sigma(m, h)[0] for h in histories])
    raw = np.array([raw_sigma(h, m, monkeypatch) for h in histories])
    error = seeded.std() / math.sqrt(len(seeded))
    assert abs(seeded.mean() - 0.6) < 3 * error < 0.03  # unbiased within its standard error
    assert raw.mean() > 0.75  # √(0.36 + 2·(5e-4)²·year/60 s) ≈ 0.78: what seeding read before


def test_bounce_free_random_closes_mostly_keep_their_sigma(monkeypatch):
    rng = np.random.default_rng(8)
    histories = [bench.closes(rng, 0.6, 0.0, 361, 60) for _ in range(100)]
    found = [bounce_of(h.price).found for h in histories]
    assert sum(found) <= 2  # a one-sided 3-SE test: about one history in 700, by chance
    m = manager()
    seeded = np.array([bench.seeded_sigma(m, h)[0] for h in histories])
    raw = np.array([raw_sigma(h, m, monkeypatch) for h in histories])
    assert np.array_equal(seeded == raw, ~np.array(found))  # untouched wherever none was found


def test_the_mock_exchanges_closes_seed_its_latent_sigma():
    """The mock exchange's default ETH market (σ 80 %, takers crossing a 10 bp ladder each second):
    six hours of its one-minute closes, which are those takers' trades. Before the bounce was taken
    out they seeded σ̂ 1.04 (the last hours weigh most: 0.91 over the whole span); now 0.86."""
    market = {
        "symbol": "ETH/USDT",
        "tick_size": "0.01",
        "lot_size": "0.01",
        "initial_price": "3000",
        "volatility_annual": 0.8,
        "noise_taker_rate_per_s": 1.0,
    }
    params = MockVenueParams.model_validate({"seed": 5, "markets": [market]})

    async def main() -> PriceHistory:
        venue = MockVenue("mock", params, LoopClock(epoch_ns=0))
        await venue.connect()
        await asyncio.sleep(6 * 3600 + 5)
        history = await venue.price_history("ETH/USDT", 0)
        await venue.close()
        return history

    history = run_simulated(main)
    assert len(history) == 360
    m = manager()
    seeded = m.seed_estimates(history, None)
    assert seeded.sigma_from_closes and 0.4 < seeded.bounce.share < 0.75
    assert 0.8 * 0.8 < m.meter.sigma_annual() < 0.8 * 1.2  # σ̂'s error here: 14 % (the bounce's share)
    assert raw_sigma(history, manager(), pytest.MonkeyPatch()) > 1.0
