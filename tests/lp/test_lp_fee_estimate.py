"""The fee rate's standard error the entry is judged with (`PoolMeter.fee_rel_error`): the
weighted variance of the fee-flow samples over their effective count, 1 while unknown."""

import dataclasses
import math

import pytest

from amm.math.full_math import Q128
from amm.sim.pool import SimulatedPool
from benchmarks.lp.market import pool_params
from bot.core.clock import FixedClock
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import PoolLpManager

ACTIVE_L = 1_000.0
DT_NS = 30 * 10**9


async def test_fee_rel_error_is_the_samples_standard_error_over_their_mean():
    pool = SimulatedPool.from_params(pool_params(3000), FixedClock(0))
    params = LpManagerParams(kind="lp_manager", pools=["uni"], fee_half_life_s=1e15)  # equal weights
    manager = PoolLpManager(
        "t", "uni", pool, lambda: 3000.0, params, FixedClock(0), LpStore(Store("sqlite://"))
    )
    meter = manager.meter
    state = await pool.read_state()
    d0, d1 = pool.token0.decimals, pool.token1.decimals
    per_flow = 10.0**d1 / 10.0 ** ((d0 + d1) / 2) * Q128 / ACTIVE_L * 30.0  # growth for 1 token1/s
    growth, now = 0, 0
    meter._update_fee_flow(dataclasses.replace(state, fee_growth_global1_x128=0), ACTIVE_L, now, 3000.0)
    assert meter.fee_rel_error() == 1.0  # no sample yet
    for i, flow in enumerate((1.0, 3.0, 1.0, 3.0)):
        growth, now = growth + round(flow * per_flow), now + DT_NS
        s = dataclasses.replace(state, fee_growth_global1_x128=growth)
        meter._update_fee_flow(s, ACTIVE_L, now, 3000.0)
        if i == 0:
            assert meter.fee_rel_error() == 1.0  # one sample: no spread to judge it by
    assert meter.fee_flow_token1_per_s == pytest.approx(2.0, rel=1e-9)
    # mean 2, unbiased variance 4/3, over 4 samples: a standard error of √(1/3), 28.9 % of the mean
    assert meter.fee_rel_error() == pytest.approx(math.sqrt(1.0 / 3.0) / 2.0, rel=1e-6)
