"""PoolReader against the real pool: state snapshot, ticks (bitmap and TickLens agree), oracle TWAP."""

from __future__ import annotations

import asyncio

import pytest
from web3 import Web3

from amm.chain.pool import ChainPool
from amm.chain.pool_reader import PoolReader, PoolReadError
from amm.chain.tx_manager import TxRequest
from tests.chain.conftest import cheat

pytestmark = pytest.mark.chain


async def test_state_is_one_block(lp_pool: ChainPool, trader_pool: ChainPool, rpc: Web3) -> None:
    await lp_pool.mint(-887220, 887220, 10**18, 2_000 * 10**6, 0, 0)
    await trader_pool.swap_exact_input(True, 10**16, 0)
    block = rpc.eth.block_number
    state = await lp_pool.reader.state(block)
    pool = rpc.eth.contract(address=lp_pool.address, abi=lp_pool.reader.pool.abi)
    sqrt_price, tick, *_ = pool.functions.slot0().call()
    assert (state.sqrt_price_x96, state.tick) == (sqrt_price, tick)
    assert state.liquidity == pool.functions.liquidity().call() > 0
    assert state.fee_growth_global0_x128 == pool.functions.feeGrowthGlobal0X128().call() > 0
    assert state.fee_growth_global1_x128 == 0  # only token0 went in


async def test_ticks_from_bitmap_and_tick_lens_agree(lp_pool: ChainPool) -> None:
    tick = (await lp_pool.read_state()).tick
    a = await lp_pool.mint(-887220, 887220, 10**18, 2_000 * 10**6, 0, 0)
    b = await lp_pool.mint(tick // 60 * 60 - 600, tick // 60 * 60 + 600, 10**18, 2_000 * 10**6, 0, 0)
    c = await lp_pool.mint(tick // 60 * 60 - 600, tick // 60 * 60 + 30_000, 10**18, 2_000 * 10**6, 0, 0)
    expected_net = {
        -887220: a.liquidity,
        887220: -a.liquidity,
        tick // 60 * 60 - 600: b.liquidity + c.liquidity,
        tick // 60 * 60 + 600: -b.liquidity,
        tick // 60 * 60 + 30_000: -c.liquidity,
    }
    with_lens = lp_pool.reader
    without_lens = PoolReader(lp_pool.w3, lp_pool.address, None)
    assert with_lens.tick_lens is not None
    for reader in (with_lens, without_lens):
        ticks = await reader.populated_ticks(-887272, 887272, 60)
        assert {t.tick: t.liquidity_net for t in ticks} == expected_net
        assert [t.tick for t in ticks] == sorted(expected_net)
    info = await lp_pool.reader.tick(tick // 60 * 60 - 600)
    assert info.initialized and info.liquidity_gross == b.liquidity + c.liquidity


async def test_twap_tick_over_a_window(lp_pool: ChainPool, trader_pool: ChainPool, rpc: Web3) -> None:
    await lp_pool.mint(-887220, 887220, 10 * 10**18, 20_000 * 10**6, 0, 0)
    grow = lp_pool.reader.pool.encode_abi("increaseObservationCardinalityNext", args=[10])
    await lp_pool.tx.send(TxRequest(lp_pool.address, grow, label="grow oracle"))
    t0 = rpc.eth.get_block("latest")["timestamp"]
    tick_before = (await lp_pool.read_state()).tick

    cheat(rpc, "evm_setNextBlockTimestamp", t0 + 1000)
    swap = await trader_pool.swap_exact_input(True, 10**18, 0)
    # measured from the swap's own block: an allowance top-up mined first takes t0 + 1000 and
    # pushes the swap a second later (the window would then hold a second of the old tick)
    t_swap = rpc.eth.get_block("latest")["timestamp"]
    cheat(rpc, "evm_setNextBlockTimestamp", t_swap + 300)
    cheat(rpc, "evm_mine")

    assert await lp_pool.reader.twap_tick(300) == swap.tick_after
    # 300 s at the old tick and 300 s at the new one, rounded towards negative infinity
    assert await lp_pool.reader.twap_tick(600) == (300 * tick_before + 300 * swap.tick_after) // 600
    observations = await lp_pool.reader.observe([600, 0])
    assert observations[1].tick_cumulative - observations[0].tick_cumulative == 300 * (
        tick_before + swap.tick_after
    )
    with pytest.raises(PoolReadError, match=r"OLD \(the observation window is older"):
        await lp_pool.reader.twap_tick(10**6)


async def test_cancelled_reads_do_not_wedge_the_connection(lp_pool: ChainPool) -> None:
    # web3's stock AsyncHTTPProvider deadlocks here (web3.py #3867); amm.rpc's provider must not
    reads = [asyncio.create_task(lp_pool.reader.state()) for _ in range(60)]
    await asyncio.sleep(0.005)
    for task in reads:
        task.cancel()
    await asyncio.gather(*reads, return_exceptions=True)
    # a wedged connection never answers: a generous bound catches it as surely as a tight one, and
    # a loaded CI machine's collector pauses (seen up to 4.4 s) cannot fail a working connection
    state = await asyncio.wait_for(lp_pool.read_state(), timeout=60)
    assert state.sqrt_price_x96 > 0
