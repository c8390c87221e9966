"""Per-position books (`strategies.lp.accounts`): the manager's in-memory accounts against what it
stored (the rows `mmbot status` attributes), and the hedge's costs shared out over positions."""

import asyncio
import math
from collections import defaultdict

import numpy as np
import pytest

from amm.sim.flow import SimPoolFlow
from amm.sim.params import NoiseParams, SimPoolParams
from amm.sim.pool import SimulatedPool
from bot.core.clock import FixedClock
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from bot.reports.lp_status import owns_gas, position_attribution
from strategies.lp.accounts import HedgeCosts
from strategies.lp.hedger import Hedger, HedgerParams
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import PoolLpManager
from strategies.lp.rules import Action, Decision, PoolView, Rules

POOL = SimPoolParams(
    initial_price=3000.0, wallet_token0=5.0, wallet_token1=15_000.0, gas_price_gwei=1.0,
    background=({"value_token1": 5_000_000.0},), noise=NoiseParams(rate_per_s=0.2, mean_size_token1=5_000.0),
)  # fmt: skip
PARAMS = LpManagerParams(kind="lp_manager", pools=["uni"], min_swap_token1=1.0)
# Round → what the scripted policy does: two positions, each compounded once, the second opened
# by a recentre that needs a ratio swap after the price moved, then a withdrawal.
SCRIPT = {0: (Action.OPEN, 0.02), 20: (Action.COMPOUND, 0.0), 40: (Action.RECENTRE, 0.03),
          60: (Action.COMPOUND, 0.0), 80: (Action.WITHDRAW, 0.0)}  # fmt: skip


def scripted(round_of: list[int]):
    def policy(view: PoolView, rules: Rules) -> Decision:
        action, w = SCRIPT.get(round_of[0], (Action.HOLD, 0.0))
        return Decision(action, "scripted", action is not Action.HOLD, w)

    return policy


def run(tmp_path) -> tuple[PoolLpManager, LpStore]:
    store = LpStore(Store(f"sqlite:///{tmp_path}/lp.sqlite"))
    steps = np.random.default_rng(5).normal(0.0, 0.001, 100)
    steps[40] += 0.015  # the recentre at round 40 follows a 1.5 % move
    prices = 3000.0 * np.exp(np.cumsum(steps))
    clock = FixedClock(0)
    fair = [float(prices[0])]
    pool = SimulatedPool.from_params(POOL, clock)
    flow = SimPoolFlow(pool, lambda: fair[0], POOL, clock, rng=np.random.default_rng(3))
    manager = PoolLpManager("lp", "uni", pool, lambda: fair[0], PARAMS, clock, store)
    round_of = [0]

    async def main() -> None:
        for r, price in enumerate(prices):
            round_of[0], fair[0] = r, float(price)
            for _ in range(5):
                clock.advance_ns(12 * 10**9)
                flow.on_block(12)
            await manager.step(scripted(round_of))

    asyncio.run(main())
    return manager, store


def test_each_position_account_is_what_was_stored_for_it(tmp_path):
    manager, store = run(tmp_path)
    ledger = manager.ledger
    accounts = sorted(ledger.accounts.values(), key=lambda a: a.row_id)
    positions = store.positions("lp")
    assert [a.token_id for a in accounts] == [p.token_id for p in positions] and len(positions) == 2
    assert not any(a.open for a in accounts) and ledger.current is None
    assert [p.close_reason for p in positions] == ["scripted", "scripted"]
    assert store.swaps(), "the recentre after the move must swap"
    # Exact: fees in raw units per token id, gas in wei by the status's ownership rule.
    fees = defaultdict(lambda: [0, 0])
    for row in store.fees():
        fees[row.token_id][0] += int(row.amount0)
        fees[row.token_id][1] += int(row.amount1)
    for a, p in zip(accounts, positions, strict=True):
        assert [a.fees0_raw, a.fees1_raw] == fees[p.token_id] and min(fees[p.token_id]) > 0
        assert a.gas_wei == sum(int(g.gas_wei) for g in store.gas() if owns_gas(p, g))
    # Valued: the same figures `mmbot status` attributes from the rows.
    status = {s["token_id"]: s for s in position_attribution(store)}
    for a in accounts:
        s, mine = status[a.token_id], a.attribution()
        assert mine.fees_token1 == pytest.approx(s["fees_token1"], rel=1e-12)
        assert mine.gas_token1 == pytest.approx(s["gas_token1"], rel=1e-12)
        assert mine.swap_cost_token1 == pytest.approx(s["swap_cost_token1"], rel=1e-12)
        assert mine.lvr_token1 == pytest.approx(s["lvr_token1"], rel=1e-12) and mine.lvr_token1 > 0
    # Nothing was spent outside a position here: the accounts add up to the pool's totals.
    books = ledger.attribution()
    for field in ("fees_token1", "gas_token1", "swap_cost_token1", "lvr_token1"):
        assert sum(getattr(a.attribution(), field) for a in accounts) == pytest.approx(getattr(books, field))
    swaps = store.swaps()
    assert sum(a.swap_cost_token1 for a in accounts) == pytest.approx(sum(s.cost_token1 for s in swaps))
    assert accounts[1].swap_cost_token1 > 0  # the recentre's swap is the new position's


def test_hedge_costs_are_shared_over_the_positions_open_then():
    costs = HedgeCosts()
    costs.share(0.6, [1])
    costs.share(0.4, [1, 2])
    costs.share(0.3, [])
    assert dict(costs.by_row_id) == {1: 0.8, 2: 0.2} and costs.unowned_quote == 0.3


def test_the_hedger_accrues_funding_on_its_position_for_the_positions_it_hedges():
    params = HedgerParams(kind="hedger", market="va:ETH/USDT", pools=["uni"], funding_per_year=0.1)
    hedger = Hedger("hedge", params)
    hedger.book.record_fill(-1, 2.0, 3000.0, 0.0, 3000.0)  # short 2 ETH
    hedger._open_rows = [5]
    hedger._accrue_carry(3000.0, 0)  # the first round only starts the clock
    year_ns = int(365 * 86_400 * 1e9)
    hedger._accrue_carry(3000.0, year_ns // 100)
    assert hedger.book.carry == pytest.approx(2 * 3000.0 * 0.1 / 100)
    assert hedger.costs.by_row_id[5] == pytest.approx(hedger.book.carry)
    assert hedger.costs.carry_by_row_id[5] == pytest.approx(hedger.book.carry)
    off = Hedger("hedge", params.model_copy(update={"funding_per_year": 0.0}))
    off.book.record_fill(-1, 2.0, 3000.0, 0.0, 3000.0)
    off._accrue_carry(3000.0, 0)
    off._accrue_carry(3000.0, year_ns)
    assert off.book.carry == 0.0 and math.isclose(off.book.total_cost, 0.0)


def test_the_hedger_stores_each_positions_carry_a_minute_behind_and_at_once_when_closed():
    params = HedgerParams(kind="hedger", market="va:ETH/USDT", pools=["uni"], funding_per_year=0.1)
    hedger = Hedger("hedge", params)
    hedger._store = store = LpStore(Store("sqlite://"))
    hedger.book.record_fill(-1, 2.0, 3000.0, 0.0, 3000.0)
    hedger._open_rows = [5]
    s_ns = 10**9
    for t in (0, 30, 60, 90):
        hedger._accrue_carry(3000.0, t * s_ns)
    per_30s = 2 * 3000.0 * 0.1 * 30 / (365 * 86_400)
    assert store.hedge_carry() == pytest.approx({5: 2 * per_30s})  # stored at 60 s, not at 90 s yet
    hedger._open_rows = [6]  # #5 closed: its last total is stored at once
    hedger._accrue_carry(3000.0, 100 * s_ns)
    assert store.hedge_carry() == pytest.approx({5: 3 * per_30s})
    hedger._accrue_carry(3000.0, 120 * s_ns)  # a minute since the last full write: #6 too
    assert store.hedge_carry()[6] == pytest.approx(per_30s)  # 10 s + 20 s of it
