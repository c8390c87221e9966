import pytest

from amm.math.full_math import Q128, mul_div
from amm.math.liquidity_amounts import get_liquidity_for_amounts
from amm.math.sqrt_price_math import get_amount0_delta, get_amount1_delta
from amm.math.swap_math import compute_swap_step
from amm.math.tick_math import get_sqrt_ratio_at_tick
from amm.ports import AmmPool, TokenInfo
from amm.sim.params import GasUnits, SimPoolParams
from amm.sim.pool import SimulatedPool
from bot.core.clock import FixedClock

E18 = 10**18
Q96 = 2**96
GWEI = 10**9
GAS = GasUnits()


def new_pool(wallet: int = 10 * E18) -> SimulatedPool:
    return SimulatedPool(
        TokenInfo("0xA", "AAA", 18),
        TokenInfo("0xB", "BBB", 18),
        3000,
        Q96,
        clock=FixedClock(0),
        gas_units=GAS,
        gas_price_wei=10 * GWEI,
        wallet0=wallet,
        wallet1=wallet,
    )


def test_is_an_amm_pool():
    assert isinstance(new_pool(), AmmPool)
    assert new_pool().tick_spacing == 60


async def test_mint_swap_collect_decrease_burn_lifecycle_with_exact_amounts():
    pool = new_pool()
    s_lo, s_hi = get_sqrt_ratio_at_tick(-600), get_sqrt_ratio_at_tick(600)

    # mint: liquidity from LiquidityAmounts (rounded down), amounts paid rounded up.
    minted = await pool.mint(-600, 600, E18, E18, 0, 0)
    liquidity = get_liquidity_for_amounts(Q96, s_lo, s_hi, E18, E18)
    paid0 = get_amount0_delta(Q96, s_hi, liquidity, True)
    paid1 = get_amount1_delta(s_lo, Q96, liquidity, True)
    assert (minted.token_id, minted.liquidity, minted.amount0, minted.amount1) == (1, liquidity, paid0, paid1)
    assert paid0 <= E18 and paid1 <= E18 and max(paid0, paid1) >= E18 - 1
    assert minted.gas_cost_wei == GAS.mint * 10 * GWEI
    assert await pool.wallet_balances() == (10 * E18 - paid0, 10 * E18 - paid1)

    # quote, then the same swap: one step inside the range, our liquidity is all there is.
    quote = await pool.quote_exact_input(False, 10**16)
    state_before = await pool.read_state()
    assert await pool.read_state() == state_before
    step = compute_swap_step(Q96, s_hi, liquidity, 10**16, 3000)
    swapped = await pool.swap_exact_input(False, 10**16, step.amount_out)
    assert swapped == quote
    assert (swapped.amount_in, swapped.amount_out, swapped.sqrt_price_x96_after) == (
        10**16,
        step.amount_out,
        step.sqrt_price_next_x96,
    )
    assert swapped.gas_cost_wei == GAS.swap * 10 * GWEI

    # pending fees are exact and current; the stored tokensOwed stay stale like on chain.
    fee_growth = mul_div(step.fee_amount, Q128, liquidity)
    expected_fee1 = mul_div(fee_growth, liquidity, Q128)
    assert expected_fee1 in (step.fee_amount, step.fee_amount - 1)
    assert await pool.pending_fees(1) == (0, expected_fee1)
    assert (await pool.position(1)).tokens_owed1 == 0

    wallet_before = await pool.wallet_balances()
    collected = await pool.collect(1)
    assert (collected.amount0, collected.amount1) == (0, expected_fee1)
    assert await pool.wallet_balances() == (wallet_before[0], wallet_before[1] + expected_fee1)
    assert await pool.pending_fees(1) == (0, 0)

    # decrease: released amounts (rounded down) become owed; collect pays them; then burn.
    sqrt_now = step.sqrt_price_next_x96
    released = await pool.decrease_liquidity(1, liquidity, 0, 0)
    out0 = get_amount0_delta(sqrt_now, s_hi, liquidity, False)
    out1 = get_amount1_delta(s_lo, sqrt_now, liquidity, False)
    assert (released.amount0, released.amount1) == (out0, out1)
    pos = await pool.position(1)
    assert (pos.liquidity, pos.tokens_owed0, pos.tokens_owed1) == (0, out0, out1)
    with pytest.raises(ValueError, match="Not cleared"):
        await pool.burn(1)
    final = await pool.collect(1)
    assert (final.amount0, final.amount1) == (out0, out1)
    await pool.burn(1)
    with pytest.raises(ValueError, match="no such position"):
        await pool.position(1)

    # Conservation: the wallet (LP and swapper here) and the pool hold every token; the pool keeps dust.
    w0, w1 = await pool.wallet_balances()
    assert w0 == 10 * E18 - paid0 + step.amount_out + out0
    assert w1 == 10 * E18 - paid1 - 10**16 + expected_fee1 + out1
    assert (pool.core.balance0, pool.core.balance1) == (10 * E18 - w0, 10 * E18 - w1)
    assert 0 <= pool.core.balance0 <= 2 and 0 <= pool.core.balance1 <= 2
    assert pool.gas_spent_wei == 10 * GWEI * (
        GAS.mint + GAS.swap + GAS.collect * 2 + GAS.decrease_liquidity + GAS.burn
    )


async def test_refused_calls_change_nothing():
    pool = new_pool(wallet=E18)
    await pool.mint(-600, 600, E18 // 2, E18 // 2, 0, 0)
    before = (await pool.read_state(), await pool.wallet_balances(), pool.gas_spent_wei)
    with pytest.raises(ValueError, match="Too little received"):
        await pool.swap_exact_input(True, 10**15, 10**15)
    with pytest.raises(ValueError, match="wallet"):
        await pool.swap_exact_input(True, 2 * E18, 0)
    with pytest.raises(ValueError, match="wallet"):
        await pool.mint(-600, 600, E18, E18, 0, 0)
    with pytest.raises(ValueError, match="Price slippage check"):
        await pool.mint(-600, 600, E18 // 4, E18 // 4, E18 // 4 + 1, 0)
    with pytest.raises(ValueError, match="cannot remove"):
        await pool.decrease_liquidity(1, 10**30, 0, 0)
    with pytest.raises(ValueError, match="no such position"):
        await pool.collect(7)
    assert (await pool.read_state(), await pool.wallet_balances(), pool.gas_spent_wei) == before


async def test_two_ids_in_one_range_share_the_pool_position_and_split_fees():
    pool = new_pool()
    a = await pool.mint(-600, 600, E18, E18, 0, 0)
    b = await pool.mint(-600, 600, E18 // 3, E18 // 3, 0, 0)
    await pool.swap_exact_input(True, 10**16, 0)
    await pool.increase_liquidity(b.token_id, E18 // 3, E18 // 3, 0, 0)
    await pool.swap_exact_input(False, 2 * 10**16, 0)
    fa, fb = await pool.pending_fees(a.token_id), await pool.pending_fees(b.token_id)
    assert fa[0] > 2 * fb[0] > 0 and fa[1] > fb[1] > 0
    ca, cb = await pool.collect(a.token_id), await pool.collect(b.token_id)
    assert (ca.amount0, ca.amount1) == fa and (cb.amount0, cb.amount1) == fb
    assert len(pool.core.positions) == 1


async def test_from_params_builds_background_liquidity_and_wallet():
    params = SimPoolParams(initial_price=3000.0, wallet_token0=2.5, wallet_token1=1234.5, gas_price_gwei=3)
    pool = SimulatedPool.from_params(params, FixedClock(0))
    assert pool.price() == pytest.approx(3000.0, rel=1e-12)
    assert await pool.wallet_balances() == (25 * 10**17, 1_234_500_000)
    assert await pool.gas_price_wei() == 3 * GWEI
    state = await pool.read_state()
    assert state.liquidity > 0 and state.tick == -196257
    # Full-range background worth 10M token1: about half in each token.
    assert pool.core.balance1 == pytest.approx(5e6 * 1e6, rel=1e-6)
    assert pool.core.balance0 * 3000 / 1e12 == pytest.approx(5e6 * 1e6, rel=1e-6)
