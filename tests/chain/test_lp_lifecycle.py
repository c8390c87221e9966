"""A whole LP lifecycle through ChainPool on real Uniswap v3 contracts."""

from __future__ import annotations

import pytest

from amm.chain.pool import ChainPool
from amm.ports import AmmPool

pytestmark = pytest.mark.chain

FULL_RANGE = (-887220, 887220)  # widest ticks on spacing 60


def around(tick: int, spacing: int, half_width: int) -> tuple[int, int]:
    base = tick // spacing * spacing
    return base - half_width * spacing, base + (half_width + 1) * spacing


async def test_chain_pool_implements_the_port(lp_pool: ChainPool) -> None:
    assert isinstance(lp_pool, AmmPool)
    assert (lp_pool.token0.symbol, lp_pool.token1.symbol) == ("tWETH", "tUSD")
    assert (lp_pool.fee_pips, lp_pool.tick_spacing) == (3000, 60)


async def test_mint_pulls_exactly_what_it_reports(lp_pool: ChainPool) -> None:
    state = await lp_pool.read_state()
    lower, upper = around(state.tick, 60, 5)
    before = await lp_pool.wallet_balances()

    minted = await lp_pool.mint(lower, upper, 10**18, 5_000 * 10**6, 0, 0)

    after = await lp_pool.wallet_balances()
    assert minted.liquidity > 0 and minted.gas_cost_wei > 0
    assert (before[0] - after[0], before[1] - after[1]) == (minted.amount0, minted.amount1)
    position = await lp_pool.position(minted.token_id)
    assert (position.tick_lower, position.tick_upper, position.liquidity) == (lower, upper, minted.liquidity)
    assert (await lp_pool.read_state()).liquidity == minted.liquidity  # the only in-range liquidity


async def test_single_lp_earns_the_whole_swap_fee(lp_pool: ChainPool, trader_pool: ChainPool) -> None:
    state = await lp_pool.read_state()
    lower, upper = around(state.tick, 60, 50)
    minted = await lp_pool.mint(lower, upper, 10 * 10**18, 20_000 * 10**6, 0, 0)
    amount_in = 10**17  # 0.1 tWETH: stays well inside the position

    swap = await trader_pool.swap_exact_input(True, amount_in, 0)

    assert swap.amount_in == amount_in and lower <= swap.tick_after < upper
    fee0, fee1 = await lp_pool.pending_fees(minted.token_id)
    # SwapMath charges ceil(amount * fee / 1e6); the LP's share is floored twice through feeGrowth
    charged = -(-amount_in * 3000 // 1_000_000)
    assert charged - 1 <= fee0 <= charged and fee1 == 0


async def test_full_lifecycle_price_through_the_range(lp_pool: ChainPool, trader_pool: ChainPool) -> None:
    # background liquidity everywhere, so swaps can leave the LP's range
    await trader_pool.mint(*FULL_RANGE, 50 * 10**18, 100_000 * 10**6, 0, 0)
    state = await lp_pool.read_state()
    lower, upper = around(state.tick, 60, 2)
    minted = await lp_pool.mint(lower, upper, 10**18, 2_000 * 10**6, 0, 0)
    token_id = minted.token_id

    up = await trader_pool.swap_exact_input(False, 20_000 * 10**6, 0)  # buy tWETH: price up
    assert up.tick_after >= upper
    down = await trader_pool.swap_exact_input(True, 15 * 10**18, 0)  # sell tWETH: price down
    assert down.tick_after < lower
    back = await trader_pool.swap_exact_input(False, 5_000 * 10**6, 0)
    assert back.tick_after > down.tick_after

    fees = await lp_pool.pending_fees(token_id)
    assert fees[0] > 0 and fees[1] > 0
    stale = await lp_pool.position(token_id)
    assert (stale.tokens_owed0, stale.tokens_owed1) == (0, 0)  # why pending_fees uses a static collect

    balances_before = await lp_pool.wallet_balances()
    collected = await lp_pool.collect(token_id)
    assert (collected.amount0, collected.amount1) == fees
    balances = await lp_pool.wallet_balances()
    assert (balances[0] - balances_before[0], balances[1] - balances_before[1]) == fees
    assert await lp_pool.pending_fees(token_id) == (0, 0)

    released = await lp_pool.decrease_liquidity(token_id, minted.liquidity, 0, 0)
    assert released.liquidity == minted.liquidity
    assert (await lp_pool.position(token_id)).liquidity == 0
    # after decrease the principal waits in tokensOwed until collected
    assert await lp_pool.pending_fees(token_id) == (released.amount0, released.amount1)
    final = await lp_pool.collect(token_id)
    assert (final.amount0, final.amount1) == (released.amount0, released.amount1)

    await lp_pool.burn(token_id)
    with pytest.raises(Exception, match="Invalid token ID"):
        await lp_pool.position(token_id)


async def test_increase_liquidity_adds_to_the_position(lp_pool: ChainPool) -> None:
    state = await lp_pool.read_state()
    lower, upper = around(state.tick, 60, 3)
    minted = await lp_pool.mint(lower, upper, 10**18, 3_000 * 10**6, 0, 0)
    before = await lp_pool.wallet_balances()

    added = await lp_pool.increase_liquidity(minted.token_id, 10**18, 3_000 * 10**6, 0, 0)

    after = await lp_pool.wallet_balances()
    assert added.token_id == minted.token_id
    assert (before[0] - after[0], before[1] - after[1]) == (added.amount0, added.amount1)
    assert (await lp_pool.position(minted.token_id)).liquidity == minted.liquidity + added.liquidity


async def test_quote_equals_the_swap(lp_pool: ChainPool, trader_pool: ChainPool) -> None:
    state = await lp_pool.read_state()
    await lp_pool.mint(*around(state.tick, 60, 20), 10 * 10**18, 20_000 * 10**6, 0, 0)
    for zero_for_one, amount in ((True, 3 * 10**17), (False, 700 * 10**6)):
        quote = await trader_pool.quote_exact_input(zero_for_one, amount)
        swap = await trader_pool.swap_exact_input(zero_for_one, amount, quote.amount_out)
        assert (swap.amount_in, swap.amount_out) == (quote.amount_in, quote.amount_out)
        assert (swap.sqrt_price_x96_after, swap.tick_after) == (quote.sqrt_price_x96_after, quote.tick_after)
        assert quote.gas_cost_wei > 0
        state = await trader_pool.read_state()
        assert (state.sqrt_price_x96, state.tick) == (swap.sqrt_price_x96_after, swap.tick_after)


async def test_ticks_must_sit_on_the_spacing(lp_pool: ChainPool) -> None:
    with pytest.raises(ValueError, match="tick_lower 61 is not a multiple of the pool's tick spacing 60"):
        await lp_pool.mint(61, 120, 1, 1, 0, 0)
    with pytest.raises(ValueError, match="must be below"):
        await lp_pool.mint(120, 60, 1, 1, 0, 0)
