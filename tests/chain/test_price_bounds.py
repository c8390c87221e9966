"""Execution prices bounded by the CEX fair (#21 item 4), on the real contracts: a ±5 % mint whose
floors come from the fair survives a 5 bp move and is refused after a push beyond the slippage;
a ratio swap is refused when the pool was pushed past fair − slippage before it."""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3

from amm.chain.pool import ChainPool
from amm.chain.tx_manager import SimulationReverted
from amm.math.conversions import price_to_sqrt_price_x96, sqrt_price_x96_to_price
from bot.core.clock import LoopClock
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from strategies.lp.bounds import liquidity_floors
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import PoolLpManager
from tests.chain.conftest import LP_ACCOUNT

pytestmark = pytest.mark.chain
SLIPPAGE_BPS = 50


async def price_of(pool: ChainPool) -> float:
    state = await pool.read_state()
    return sqrt_price_x96_to_price(state.sqrt_price_x96, pool.token0.decimals, pool.token1.decimals)


async def push(trader: ChainPool, factor: float) -> None:
    """Swap until the pool's price is `factor` × what it is (a searcher's push)."""
    target = await price_of(trader) * factor
    limit = price_to_sqrt_price_x96(target, trader.token0.decimals, trader.token1.decimals)
    await trader.swap_exact_input(factor < 1, 10**30 if factor < 1 else 10**18, 0, limit)


@pytest.fixture
async def pools(connect_pool: Any) -> tuple[ChainPool, ChainPool]:
    trader = await connect_pool(2)
    await trader.mint(-887220, 887220, 50 * 10**18, 100_000 * 10**6, 0, 0)
    lp = await connect_pool(LP_ACCOUNT)
    await lp._approve_both(10**30, 10**30)
    return lp, trader


@pytest.mark.parametrize(("move", "minted"), [(1.0005, True), (0.9995, True), (1.01, False), (0.99, False)])
async def test_mint_floors_from_the_fair_hold_a_5bp_move_and_refuse_a_push(
    move: float, minted: bool, pools: tuple[ChainPool, ChainPool], rpc: Web3
) -> None:
    lp, trader = pools
    fair = await price_of(lp)
    spacing = lp.tick_spacing
    tick = (await lp.read_state()).tick
    lower, upper = (tick - 488) // spacing * spacing, (tick + 488) // spacing * spacing  # about ±5 %
    a0, a1 = 10**18, 2_000 * 10**6
    floors = liquidity_floors(lower, upper, a0, a1, fair, SLIPPAGE_BPS, 18, 6)
    await push(trader, move)  # lands between the floors' computation and the mint

    if minted:
        change = await lp.mint(lower, upper, a0, a1, *floors)
        assert change.liquidity > 0 and change.amount0 >= floors[0] and change.amount1 >= floors[1]
    else:
        nonce = rpc.eth.get_transaction_count(lp.tx.address)
        with pytest.raises(SimulationReverted, match="Price slippage check"):
            await lp.mint(lower, upper, a0, a1, *floors)
        assert rpc.eth.get_transaction_count(lp.tx.address) == nonce  # nothing sent


async def test_a_ratio_swap_after_a_push_past_the_fair_band_is_refused_and_recorded(
    pools: tuple[ChainPool, ChainPool], rpc: Web3, tmp_path: Any
) -> None:
    lp, trader = pools
    fair = await price_of(lp)
    store = LpStore(Store(f"sqlite:///{tmp_path}/lp.sqlite"))
    params = LpManagerParams(kind="lp_manager", pools=["uni"], capital_token1=5_000, min_swap_token1=1.0)
    manager = PoolLpManager("lp", "uni", lp, lambda: fair, params, LoopClock(), store)
    await push(
        trader, 0.98
    )  # the price the ratio swap (selling tWETH: the LP wallet is mostly tWETH) would sell into
    nonce = rpc.eth.get_transaction_count(lp.tx.address)

    await manager.lifecycle.open(0.05, fair, LoopClock().now_ns())

    assert manager.position is None and store.swaps() == [] and store.positions("lp") == []
    assert rpc.eth.get_transaction_count(lp.tx.address) == nonce
    (refusal,) = store.actions("lp")
    assert refusal.action == "open_refused" and "SPL" in refusal.reason, refusal.reason
