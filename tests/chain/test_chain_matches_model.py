"""Property tests: the real contracts and our exact integer model agree to the wei.

Every example replays random operations on anvil (through ChainPool, so through the position
manager, SwapRouter and QuoterV2) and on the in-memory `V3Pool` + `PositionManager`, from the same
fresh pool, and compares every amount, price, tick, liquidity and fee growth.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from web3 import Web3

from amm.chain.local_chain import UniswapDeployment
from amm.chain.pool import MAX_UINT256, ChainPool
from amm.chain.tx_manager import TxRequest
from amm.math.conversions import floor_tick, usable_tick_bounds
from amm.math.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from amm.sim.position_manager import PositionManager
from amm.sim.v3_pool import V3Pool
from bot.core.clock import LoopClock
from tests.chain.conftest import LP_ACCOUNT, TRADER_ACCOUNT, cheat

pytestmark = pytest.mark.chain
T = TypeVar("T")

FEE_PIPS, SPACING = 3000, 60
FULL_RANGE = usable_tick_bounds(SPACING)
# The suite runs a few hundred cases against the chain (~40 s); MMBOT_CHAIN_EXAMPLES_SCALE=10 runs
# thousands for a soak (minutes).
SCALE = int(os.environ.get("MMBOT_CHAIN_EXAMPLES_SCALE", "1"))
PROPERTY = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],  # explain: minutes on a chain
)


@dataclass
class World:
    runner: asyncio.Runner
    rpc: Web3
    lp: ChainPool
    trader: ChainPool
    sqrt_price_x96: int
    snapshot: str = ""

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    def fresh(self) -> tuple[V3Pool, PositionManager]:
        """Back to the freshly deployed pool on chain, and the same pool in memory."""
        assert cheat(self.rpc, "evm_revert", self.snapshot) is True
        self.snapshot = cheat(self.rpc, "evm_snapshot")
        for pool in (self.lp, self.trader):
            pool.tx.nonces.mark_stale()  # the revert rewound the accounts' nonces
        model = V3Pool(FEE_PIPS, SPACING, self.sqrt_price_x96)
        return model, PositionManager(model)


async def _connect(uniswap: UniswapDeployment, account: int) -> ChainPool:
    env = f"MMBOT_TEST_KEY_{account}"
    pool = await ChainPool.connect(
        uniswap.venue_params(env, deadline_s=3600),
        LoopClock(),
        environ={env: uniswap.accounts[account].private_key},
    )
    for token in (pool.token0, pool.token1):  # approvals once, outside every example
        erc20 = pool.erc20[token.address]
        for spender in (pool.npm.address, pool.router.address):
            data = erc20.encode_abi("approve", args=[spender, MAX_UINT256])
            await pool.tx.send(TxRequest(token.address, data, label="approve"))
    return pool


@pytest.fixture(scope="module")
def world(uniswap: UniswapDeployment, rpc: Web3) -> Iterator[World]:
    before = cheat(rpc, "evm_snapshot")
    runner = asyncio.Runner()
    try:
        lp = runner.run(_connect(uniswap, LP_ACCOUNT))
        trader = runner.run(_connect(uniswap, TRADER_ACCOUNT))
        sqrt_price = runner.run(lp.read_state()).sqrt_price_x96
        state = World(runner, rpc, lp, trader, sqrt_price, cheat(rpc, "evm_snapshot"))
        yield state
        runner.run(lp.close())
        runner.run(trader.close())
    finally:
        runner.close()
        cheat(rpc, "evm_revert", before)  # leave the session chain as other modules expect it


def price_limit(zero_for_one: bool) -> int:
    """What SwapRouter and QuoterV2 use for sqrtPriceLimitX96 = 0."""
    return MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1


def mint_both(
    world: World, pm: PositionManager, pool: ChainPool, lower: int, upper: int, a0: int, a1: int
) -> tuple[int, int, int, int]:
    """Mint on chain and in the model; (token_id, liquidity, amount0, amount1), equal on both."""
    expected = pm.mint(lower, upper, a0, a1, 0, 0)
    minted = world.run(pool.mint(lower, upper, a0, a1, 0, 0))
    assert (minted.token_id, minted.liquidity, minted.amount0, minted.amount1) == expected
    return expected


def swap_both(world: World, model: V3Pool, zero_for_one: bool, amount_in: int) -> None:
    expected = model.simulate_swap(zero_for_one, amount_in, price_limit(zero_for_one))
    expected_out = -(expected.amount1 if zero_for_one else expected.amount0)
    expected_in = expected.amount0 if zero_for_one else expected.amount1
    quote = world.run(world.trader.quote_exact_input(zero_for_one, amount_in))
    assert (quote.amount_out, quote.sqrt_price_x96_after, quote.tick_after) == (
        expected_out,
        expected.sqrt_price_x96,
        expected.tick,
    )
    swapped = world.run(world.trader.swap_exact_input(zero_for_one, amount_in, quote.amount_out))
    assert (swapped.amount_in, swapped.amount_out) == (expected_in, expected_out)
    assert (swapped.sqrt_price_x96_after, swapped.tick_after) == (expected.sqrt_price_x96, expected.tick)
    model.swap(zero_for_one, amount_in, price_limit(zero_for_one))


def buys_liquidity(pm: PositionManager, lower: int, upper: int, amount0: int, amount1: int) -> bool:
    try:
        return pm.quote_add(lower, upper, amount0, amount1)[0] > 0
    except ValueError:  # the chain would revert too: NPM mints zero liquidity
        return False


def background(world: World, pm: PositionManager) -> None:
    mint_both(world, pm, world.trader, *FULL_RANGE, 20 * 10**18, 40_000 * 10**6)


ticks_away = st.integers(-150, 150)
widths = st.integers(1, 150)
# tWETH has 18 decimals, tUSD 6: sizes from dust to a large share of the background liquidity
amounts0 = st.integers(1, 5 * 10**18)
amounts1 = st.integers(1, 10_000 * 10**6)
# (zero_for_one, amount_in): up to 10 tWETH in, or up to 20,000 tUSD in
one_swap = st.one_of(
    st.tuples(st.just(True), st.integers(1, 10 * 10**18)),
    st.tuples(st.just(False), st.integers(1, 20_000 * 10**6)),
)
swaps = st.lists(one_swap, min_size=1, max_size=4)


def usable_range(tick: int, away: int, width: int) -> tuple[int, int]:
    low, high = FULL_RANGE
    lower = min(max(floor_tick(tick, SPACING) + away * SPACING, low), high - SPACING)
    return lower, min(lower + width * SPACING, high)


@settings(PROPERTY, max_examples=100 * SCALE)
@given(
    pre_swap=st.none() | one_swap,
    away=ticks_away,
    width=widths,
    by_liquidity=st.booleans(),
    liquidity=st.integers(1, 10**22),
    amount0=amounts0,
    amount1=amounts1,
)
def test_mint_pulls_what_the_model_computes(
    world: World,
    pre_swap: tuple[bool, int] | None,
    away: int,
    width: int,
    by_liquidity: bool,
    liquidity: int,
    amount0: int,
    amount1: int,
) -> None:
    model, pm = world.fresh()
    background(world, pm)
    if pre_swap is not None:
        swap_both(world, model, *pre_swap)
    lower, upper = usable_range(model.tick, away, width)
    if by_liquidity:  # the amounts a given liquidity needs, rounded up as the pool charges them
        amount0, amount1 = (max(a, 0) for a in model.liquidity_delta_amounts(lower, upper, liquidity))
    assume(buys_liquidity(pm, lower, upper, amount0, amount1))
    before = world.run(world.lp.wallet_balances())

    _, _, paid0, paid1 = mint_both(world, pm, world.lp, lower, upper, amount0, amount1)

    after = world.run(world.lp.wallet_balances())
    assert (before[0] - after[0], before[1] - after[1]) == (paid0, paid1)
    assert world.run(world.lp.read_state()) == model.state()


@settings(PROPERTY, max_examples=70 * SCALE)
@given(
    positions=st.lists(st.tuples(ticks_away, widths, amounts0, amounts1), max_size=3),
    trades=swaps,
)
def test_swaps_match_quoter_and_model(
    world: World, positions: list[tuple[int, int, int, int]], trades: list[tuple[bool, int]]
) -> None:
    model, pm = world.fresh()
    background(world, pm)
    for away, width, amount0, amount1 in positions:  # initialized ticks for the swaps to cross
        lower, upper = usable_range(model.tick, away, width)
        if buys_liquidity(pm, lower, upper, amount0, amount1):
            mint_both(world, pm, world.lp, lower, upper, amount0, amount1)
    for zero_for_one, amount_in in trades:
        swap_both(world, model, zero_for_one, amount_in)
    assert world.run(world.trader.read_state()) == model.state()


@settings(PROPERTY, max_examples=70 * SCALE)
@given(
    positions=st.lists(st.tuples(ticks_away, widths, amounts0, amounts1), min_size=1, max_size=2),
    trades=swaps,
    decrease_share=st.integers(0, 100),
)
def test_fees_owed_equal_what_collect_pays(
    world: World,
    positions: list[tuple[int, int, int, int]],
    trades: list[tuple[bool, int]],
    decrease_share: int,
) -> None:
    model, pm = world.fresh()
    background(world, pm)
    token_ids = []
    for away, width, amount0, amount1 in positions:
        lower, upper = usable_range(model.tick, away // 10, width)  # near the price: fees to earn
        if buys_liquidity(pm, lower, upper, amount0, amount1):
            token_ids.append(mint_both(world, pm, world.lp, lower, upper, amount0, amount1)[0])
    assume(token_ids)
    for zero_for_one, amount_in in trades:
        swap_both(world, model, zero_for_one, amount_in)

    for token_id in token_ids:
        assert world.run(world.lp.pending_fees(token_id)) == pm.pending(token_id)
        liquidity = pm.position(token_id).liquidity * decrease_share // 100
        if liquidity:
            released = world.run(world.lp.decrease_liquidity(token_id, liquidity, 0, 0))
            assert (released.amount0, released.amount1) == pm.decrease_liquidity(token_id, liquidity, 0, 0)
            assert world.run(world.lp.pending_fees(token_id)) == pm.pending(token_id)
        expected = pm.collect(token_id)
        collected = world.run(world.lp.collect(token_id))
        assert (collected.amount0, collected.amount1) == expected
        owed = world.run(world.lp.position(token_id))
        assert (owed.tokens_owed0, owed.tokens_owed1, owed.liquidity) == (
            0,
            0,
            pm.position(token_id).liquidity,
        )
    assert world.run(world.lp.read_state()) == model.state()
