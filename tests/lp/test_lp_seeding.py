"""A first start seeded from history (`strategies.lp.seeding`): candle closes into σ̂, the pool's
swaps into σ̂ₚ and the fee flow, on constructed histories whose answers are known exactly; and the
simulated pool's own swap record (`SimulatedPool.swap_history`) against its fee growth."""

import math

import numpy as np
import pytest

from amm.math.full_math import Q128
from amm.ports import SwapHistory
from amm.sim.flow import SimPoolFlow
from amm.sim.pool import SimulatedPool
from amm.sim.swap_log import SwapLog
from benchmarks.lp.market import pool_params
from bot.core.clock import NS_PER_S, FixedClock
from bot.core.history import PriceHistory
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import PoolLpManager

MIN = 60 * NS_PER_S
R = 0.002  # each close's log return, alternating in sign
PARAMS = LpManagerParams(kind="lp_manager", pools=["uni"])


def manager(clock: FixedClock | None = None) -> PoolLpManager:
    clock = clock or FixedClock(0)
    pool = SimulatedPool.from_params(pool_params(3000), clock)
    return PoolLpManager("t", "uni", pool, lambda: 3000.0, PARAMS, clock, LpStore(Store("sqlite://")))


def zigzag(n: int, start: float = 3000.0, r: float = R, step_ns: int = MIN) -> PriceHistory:
    """Returns +r, +r, −r, −r, …: every one ±r, and no lag-1 autocovariance (no bounce)."""
    prices = tuple(start * math.exp(r * (0, 1, 2, 1)[k % 4]) for k in range(n))
    return PriceHistory(step_ns // NS_PER_S, tuple((k + 1) * step_ns for k in range(n)), prices)


def swaps(rows: list[tuple[int, float, float, float]], start_ns: int, end_ns: int) -> SwapHistory:
    ts, price, f0, f1 = zip(*rows, strict=True) if rows else ((), (), (), ())
    return SwapHistory(start_ns, end_ns, tuple(ts), tuple(price), tuple(f0), tuple(f1))


def test_closes_seed_sigma_with_the_returns_they_hold():
    m = manager()
    seeded = m.seed_estimates(zigzag(361), None)  # six hours of minutes
    # every return is ±R over 60 s; the prior (initial_sigma, 30 s of weight) has decayed 2^-12
    expected = math.sqrt(R * R / 60.0 * 365.25 * 86_400)
    assert m.meter.sigma_annual() == pytest.approx(expected, rel=1e-3)
    assert m.meter.vol.samples == 360 and seeded.closes == 361
    assert (seeded.pool_prices, seeded.fee_intervals, seeded.fee_span_s) == (0, 0, 0.0)
    assert m.meter.fee_rel_error() == 1.0  # the fee rate is still unknown
    # 1,800 s half-life at one return a minute: about 2·1800/(60 ln 2) ≈ 87 returns
    assert m.meter.sigma_rel_error() == pytest.approx(math.sqrt(1 / (2 * 86.6)), rel=0.02)


def test_swaps_between_closes_are_the_fee_flow_valued_at_the_later_close():
    m = manager()
    fair = zigzag(361)  # six hours
    # one swap a minute, 30 s after each close: 0.001 token0 and 2 token1 of fees, alternately
    rows = [
        (k * MIN + MIN // 2, 3000.0 * (1 + 1e-4 * (k % 2)), 0.001 if k % 2 else 0.0, 0.0 if k % 2 else 2.0)
        for k in range(1, 361)
    ]
    seeded = m.seed_estimates(fair, swaps(rows, MIN, 361 * MIN))
    # the swap at minute k + ½ ends in the close at minute k + 1 (index k): valued at its price
    flows = [(0.001 * fair.price[k] if k % 2 else 2.0) / 60.0 for k in range(1, 361)]
    weights = [0.5 ** ((360 - j) * 60 / PARAMS.fee_half_life_s) for j in range(1, 361)]
    expected = sum(w * f for w, f in zip(weights, flows, strict=True)) / sum(weights)
    assert m.meter.fee_flow_token1_per_s == pytest.approx(expected, rel=1e-9)
    assert (seeded.fee_intervals, seeded.fee_span_s, seeded.pool_prices) == (360, 21_600.0, 360)
    assert m.meter.fee_rel_error() < 0.1
    # ... and with the closes' returns into the entry gate's error: 36 batches of 10 minutes,
    # each with ten returns of ±R (R²/60 a second), the flows' batch means varying
    batches = m.meter.carry_batches.moments
    assert batches.effective_samples() > 12 and batches.mean_var == pytest.approx(R * R / 60.0, rel=1e-9)
    batch_flows = [sum(flows[10 * b : 10 * b + 10]) / 10 for b in range(36)]
    assert batches.mean_flow == pytest.approx(
        sum(w * f for w, f in zip(weights[9::10], batch_flows, strict=True)) / sum(weights[9::10]), rel=1e-9
    )
    # the pool's price alternates by 1e-4 each minute: σ̂ₚ from those returns (the prior decayed 2^-12)
    pool_sigma = m.meter.pool_vol.sigma_annual(math.nan)
    assert pool_sigma == pytest.approx(math.sqrt(math.log1p(1e-4) ** 2 / 60 * 365.25 * 86_400), rel=1e-3)


def test_fee_intervals_only_where_the_swap_history_covers_them():
    m = manager()
    fair = zigzag(61)  # closes at minutes 1..61
    rows = [(30 * MIN + 1, 3000.0, 0.0, 5.0), (45 * MIN, 3000.0, 0.0, 7.0)]
    # the pool's history starts at minute 30 (a source keeping less): minutes 30→31 … 60→61 count;
    # the swap at minute 30 + 1 ns falls in the first of them, the one at minute 45 ends interval 44→45
    seeded = m.seed_estimates(fair, swaps(rows, 30 * MIN, 61 * MIN))
    assert (seeded.fee_intervals, seeded.fee_span_s) == (31, 31 * 60.0)
    assert seeded.pool_prices == 31  # from the first swap's close (minute 31) on
    decay = [0.5 ** ((61 - j) * 60 / PARAMS.fee_half_life_s) for j in range(31, 62)]
    per_interval = [5.0 / 60 if j == 31 else 7.0 / 60 if j == 45 else 0.0 for j in range(31, 62)]
    expected = sum(w * f for w, f in zip(decay, per_interval, strict=True)) / sum(decay)
    assert m.meter.fee_flow_token1_per_s == pytest.approx(expected, rel=1e-9)


def test_a_seeded_meter_goes_on_measuring_from_the_live_rounds():
    clock = FixedClock(361 * MIN)
    m = manager(clock)
    m.seed_estimates(zigzag(361), None)
    seeded_samples = m.meter.vol.samples
    m.meter.observe_price(3000.0 * math.exp(R), 361 * MIN + 30 * NS_PER_S)  # the first live round
    assert m.meter.vol.samples == seeded_samples + 1  # a return from the last close, not a restart


def test_a_replay_does_not_vote_volatility_switches_the_first_live_round_does():
    """Five hours and fifty minutes of ±R returns, then ten minutes of ±4R: live rounds would have
    seen a regime switch; the replay leaves it to the first live round (the short σ̂ watched the
    closes)."""
    calm, storm = zigzag(351), zigzag(11, r=4 * R)
    last = calm.price[-1]
    prices = calm.price + tuple(last * p / storm.price[0] for p in storm.price[1:])
    fair = PriceHistory(60, tuple((k + 1) * MIN for k in range(len(prices))), prices)
    m = manager(FixedClock(361 * MIN))
    m.seed_estimates(fair, None)
    assert m.meter.switches == 0 and m.meter.vol.samples == 360
    short = m.meter.switch.short.var_per_s
    assert short > 2.25 * m.meter.vol.var_per_s  # beyond the switch's band (1.5²): live, it would vote
    m.meter.observe_price(prices[-1] * math.exp(4 * R), 361 * MIN + 30 * NS_PER_S)  # the first live round
    assert m.meter.switches == 1
    assert m.meter.vol.var_per_s == m.meter.switch.short.var_per_s  # σ̂ restarted from the short one


def test_bad_histories_are_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"PriceHistory\.ts_ns must increase"):
        PriceHistory(60, (2, 1), (1.0, 1.0))
    with pytest.raises(ValueError, match=r"PriceHistory\.price must be positive and finite, not nan"):
        PriceHistory(60, (1, 2), (1.0, math.nan))
    with pytest.raises(ValueError, match="swaps outside"):
        swaps([(5, 1.0, 0.0, 0.0)], 10, 20)


async def test_the_simulated_pool_records_its_swaps_and_their_fees():
    clock = FixedClock(0)
    params = pool_params(3000)
    pool = SimulatedPool.from_params(params, clock)
    flow = SimPoolFlow(pool, lambda: 3000.0 * (1 + 0.004 * math.sin(clock.now_ns() / 3e12)), params, clock,
                       rng=np.random.default_rng(5))  # fmt: skip
    before = await pool.read_state()
    for _ in range(600):
        clock.advance_ns(12 * NS_PER_S)
        flow.on_block(12)
    after = await pool.read_state()
    history = await pool.swap_history(0)
    assert len(history) == flow.stats.noise_swaps + flow.stats.arbitrage_swaps > 50
    assert (history.start_ns, history.end_ns) == (0, 600 * 12 * NS_PER_S)
    assert history.price[-1] == pytest.approx(pool.price(), rel=1e-12)
    # one in-range liquidity all along (full-range background): fees = Δ fee growth × L exactly
    d0, d1 = pool.token0.decimals, pool.token1.decimals
    for fees, g0, g1, d in (
        (history.fee_token0, before.fee_growth_global0_x128, after.fee_growth_global0_x128, d0),
        (history.fee_token1, before.fee_growth_global1_x128, after.fee_growth_global1_x128, d1),
    ):
        raw = round(sum(fees) * 10.0**d)
        assert raw == pytest.approx((g1 - g0) * after.liquidity / Q128, rel=1e-9)  # fmt: skip
    later = await pool.swap_history(300 * 12 * NS_PER_S)
    assert later.start_ns == 300 * 12 * NS_PER_S and all(t >= later.start_ns for t in later.ts_ns)
    assert 0 < len(later) < len(history)


def test_a_full_swap_log_serves_only_what_it_still_holds():
    clock = FixedClock(0)
    pool = SimulatedPool.from_params(pool_params(500), clock)
    log = SwapLog(clock, (18, 6), max_swaps=3)
    for _ in range(5):
        clock.advance_ns(NS_PER_S)
        log.record(True, pool.core.simulate_swap(True, 10**15, 1 << 60))
    history = log.history(0)
    assert history.ts_ns == (3 * NS_PER_S, 4 * NS_PER_S, 5 * NS_PER_S)
    assert history.start_ns == 3 * NS_PER_S  # the two oldest swaps are gone: the span starts later


def test_without_closes_the_swaps_alone_seed_the_pool_side_on_their_own_grid():
    m = manager()
    # a swap every 90 s over an hour (minute boundaries from the span's start), 1 token1 of fees
    # each, alternate prices; no candles: σ̂ is left to the live rounds
    rows = [(k * 90 * NS_PER_S, 3000.0 * (1 + 1e-4 * (k % 2)), 0.0, 1.0) for k in range(1, 41)]
    seeded = m.seed_estimates(None, swaps(rows, 0, 3600 * NS_PER_S))
    assert (seeded.closes, seeded.fee_intervals, seeded.fee_span_s) == (0, 59, 59 * 60.0)
    assert m.meter.vol.samples == 0 and m.meter.sigma_annual() == PARAMS.initial_sigma
    # grid points at minutes 1..60: the first starts the intervals; minute j holds the swaps in (j − 1, j]
    per_minute = [sum(1.0 for k in range(1, 41) if (j - 1) * MIN < k * 90 * NS_PER_S <= j * MIN) / 60.0
                  for j in range(2, 61)]  # fmt: skip
    weights = [0.5 ** ((60 - j) * 60 / PARAMS.fee_half_life_s) for j in range(2, 61)]
    expected = sum(w * f for w, f in zip(weights, per_minute, strict=True)) / sum(weights)
    assert m.meter.fee_flow_token1_per_s == pytest.approx(expected, rel=1e-9)
    assert seeded.pool_prices == 59  # from minute 2, the first after a swap
