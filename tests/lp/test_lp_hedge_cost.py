"""The hedge-cost term of the expected carry (`carry.HedgeCosting`) against the band hedger itself:
the bot's `Hedger` rule and `HedgeBook` (through the benchmark's `SimHedge`, no latency, no funding)
hedging a range's token0 along GBM paths, checked every 12 s block; and what the term does to the
best width and to the config."""

from __future__ import annotations

import math

import numpy as np
import pytest

from amm.attribution import SECONDS_PER_YEAR
from benchmarks.lp.hedge import HedgeCosts, SimHedge
from bot.app.config import validate_config
from strategies.lp.carry import HedgeCosting, PoolEconomics, optimal_half_width
from tests.lp.lp_kit import lp_hedge_config_dict
from tests.lp.lp_views import CAPITAL, FEE_RATE, OTHERS_L, PRICE

BLOCK_S = 12.0
COSTS = HedgeCosts(taker_fee_bps=4.5, half_spread_bps=1.0, funding_per_year=0.0, latency_s=0.0)
COSTING = HedgeCosting(COSTS.band_token0, (COSTS.taker_fee_bps + COSTS.half_spread_bps) / 1e4, BLOCK_S)


def simulated_vs_model(liquidity: float, sigma: float, paths: int, seed: int) -> tuple[float, float]:
    """(mean hedge cost per path, the model's rate integrated along the same paths), token1."""
    rng = np.random.default_rng(seed)
    upper_sqrt = math.sqrt(PRICE * 20.0)  # a range the price never leaves in a day
    n = int(43_200 / BLOCK_S)  # half a day
    var = sigma**2 * BLOCK_S / SECONDS_PER_YEAR
    simulated, modelled = [], []
    for _ in range(paths):
        prices = PRICE * np.exp(np.cumsum(rng.normal(-0.5 * var, math.sqrt(var), n)))
        hedge = SimHedge(COSTS)
        token0 = [liquidity * (1.0 / math.sqrt(p) - 1.0 / upper_sqrt) for p in (PRICE, *prices)]
        hedge.check(token0[0], PRICE, PRICE, BLOCK_S)  # the initial hedge: not what the rate is about
        initial = hedge.book.total_cost
        for x, p in zip(token0[1:], prices, strict=True):
            hedge.check(x, float(p), float(p), BLOCK_S)
        simulated.append(hedge.book.total_cost - initial)
        modelled.append(sum(COSTING.rate_per_s(sigma, liquidity, float(p)) for p in prices) * BLOCK_S)
    return float(np.mean(simulated)), float(np.mean(modelled))


@pytest.mark.parametrize(
    ("liquidity", "sigma"),
    [
        (20_000.0, 0.6),  # ~400 trades a day, the 12 s checks overshoot the band by ~15 %
        (80_000.0, 0.6),  # ~3,000 a day, the overshoot ~60 % of the band: the correction matters
        (40_000.0, 1.2),
    ],
)
def test_hedge_cost_rate_matches_the_band_hedger_on_gbm_paths(liquidity, sigma):
    simulated, modelled = simulated_vs_model(liquidity, sigma, paths=8, seed=17)
    assert simulated == pytest.approx(modelled, rel=0.06)
    # Without the discrete-check correction the model would be off by far more than that.
    continuous = COSTING.cost_fraction * sigma**2 * liquidity**2 / (4 * COSTING.band_token0) / 730
    assert abs(continuous / simulated - 1.0) > 0.1


def test_hedge_cost_is_quadratic_in_liquidity_and_zero_unhedged():
    low, high = (COSTING.rate_per_s(0.6, lq, PRICE) for lq in (1_000.0, 2_000.0))
    assert high == pytest.approx(4 * low, rel=0.01)  # the overshoot is tiny at this L
    assert HedgeCosting().rate_per_s(0.6, 2_000.0, PRICE) == 0.0
    assert HedgeCosting().rehedge_token1(CAPITAL) == 0.0
    assert COSTING.rehedge_token1(CAPITAL) == pytest.approx(CAPITAL / 2 * 5.5e-4)


@pytest.mark.parametrize("sigma", [0.3, 0.6])
def test_a_hedged_position_takes_a_wider_range(sigma):
    def best(hedge: HedgeCosting) -> float:
        e = PoolEconomics(PRICE, sigma, FEE_RATE, OTHERS_L, 0.0, CAPITAL, 25.0, 30.0, hedge)
        return optimal_half_width(e, 0.005, 1.0).half_width

    unhedged, hedged = best(HedgeCosting()), best(COSTING)
    assert hedged > 1.5 * unhedged


def test_a_pool_hedged_by_a_hedger_must_be_known_to_the_carry(tmp_path):
    data = lp_hedge_config_dict(f"sqlite:///{tmp_path / 'bot.db'}")
    assert validate_config(data).strategies["lp"].hedge_band_token0 == 0.3
    data["strategies"]["lp"]["hedge_band_token0"] = 0.0
    with pytest.raises(ValueError, match=r"strategies\.lp\.hedge_band_token0: 0 \(not hedged\), but "):
        validate_config(data)
    data["strategies"]["hedge"]["hedge_ratio"] = 0.0  # a hedger switched off hedges nothing
    validate_config(data)
