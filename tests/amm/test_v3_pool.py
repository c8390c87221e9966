import copy

import pytest

from amm.math.full_math import Q128, Q256, mul_div
from amm.math.position_math import fees_earned, get_fee_growth_inside
from amm.math.sqrt_price_math import get_amount0_delta, get_amount1_delta
from amm.math.swap_math import compute_swap_step
from amm.math.tick_math import (
    MAX_SQRT_RATIO,
    MIN_SQRT_RATIO,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)
from amm.sim.v3_pool import V3Pool, max_liquidity_per_tick

E18 = 10**18
Q96 = 2**96


def two_range_pool() -> V3Pool:
    pool = V3Pool(3000, 60, Q96)
    pool.mint("a", -120, 120, E18)
    pool.mint("b", 60, 180, 2 * E18)
    return pool


def snapshot(pool: V3Pool) -> tuple:
    return (
        pool.state(),
        pool.balance0,
        pool.balance1,
        copy.deepcopy(pool.ticks),
        copy.deepcopy(pool.positions),
        dict(pool.bitmap.words),
    )


def test_mint_initializes_ticks_and_pays_rounded_up():
    pool = two_range_pool()
    assert pool.liquidity == E18  # only "a" is active at tick 0
    assert {t: (i.liquidity_gross, i.liquidity_net) for t, i in pool.ticks.items()} == {
        -120: (E18, E18),
        120: (E18, -E18),
        60: (2 * E18, 2 * E18),
        180: (2 * E18, -2 * E18),
    }
    s = [get_sqrt_ratio_at_tick(t) for t in (-120, 60, 120, 180)]
    expected0 = get_amount0_delta(Q96, s[2], E18, True) + get_amount0_delta(s[1], s[3], 2 * E18, True)
    expected1 = get_amount1_delta(s[0], Q96, E18, True)
    assert (pool.balance0, pool.balance1) == (expected0, expected1)
    assert pool.bitmap.is_initialized(-120) and pool.bitmap.is_initialized(180)
    assert not pool.bitmap.is_initialized(0)


def test_multi_tick_swap_crossing_initialized_ticks_matches_the_hand_composed_steps():
    pool = two_range_pool()
    amount = 15 * 10**15
    s0, s60, s120, s180 = Q96, *(get_sqrt_ratio_at_tick(t) for t in (60, 120, 180))
    # Hand composition: [0→60] at L = 1e18, cross 60 (+2e18), [60→120] at 3e18, cross 120 (−1e18),
    # then inside [120, 180) at 2e18 until the input runs out.
    step1 = compute_swap_step(s0, s60, E18, amount, 3000)
    rem = amount - step1.amount_in - step1.fee_amount
    step2 = compute_swap_step(s60, s120, 3 * E18, rem, 3000)
    rem -= step2.amount_in + step2.fee_amount
    step3 = compute_swap_step(s120, s180, 2 * E18, rem, 3000)
    assert step1.sqrt_price_next_x96 == s60 and step2.sqrt_price_next_x96 == s120
    assert step3.sqrt_price_next_x96 < s180 and step3.amount_in + step3.fee_amount == rem
    g1 = mul_div(step1.fee_amount, Q128, E18)
    g2 = g1 + mul_div(step2.fee_amount, Q128, 3 * E18)
    g3 = g2 + mul_div(step3.fee_amount, Q128, 2 * E18)

    out = pool.swap(False, amount, MAX_SQRT_RATIO - 1)

    assert out.amount1 == amount
    assert out.amount0 == -(step1.amount_out + step2.amount_out + step3.amount_out)
    assert out.crossed_ticks == (60, 120)
    assert pool.sqrt_price_x96 == step3.sqrt_price_next_x96
    assert pool.tick == get_tick_at_sqrt_ratio(step3.sqrt_price_next_x96)
    assert 120 <= pool.tick < 180
    assert pool.liquidity == 2 * E18
    assert (pool.fee_growth_global0_x128, pool.fee_growth_global1_x128) == (0, g3)
    # Crossing flips "outside" to global − outside (both were 0: initialized above the price).
    assert pool.ticks[60].fee_growth_outside1_x128 == g1
    assert pool.ticks[120].fee_growth_outside1_x128 == g2
    assert pool.ticks[180].fee_growth_outside1_x128 == 0
    # Float sanity of the output: Σ L·(1/√P_start − 1/√P_end) in token0.
    float_out = sum(
        liq * (Q96 / a - Q96 / b)
        for liq, a, b in ((E18, s0, s60), (3 * E18, s60, s120), (2 * E18, s120, pool.sqrt_price_x96))
    )
    assert -out.amount0 == pytest.approx(float_out, rel=1e-12)

    # Positions earn exactly their fee growth inside.
    pool.burn("a", -120, 120, 0)
    pool.burn("b", 60, 180, 0)
    owed_a = pool.position("a", -120, 120).tokens_owed1
    owed_b = pool.position("b", 60, 180).tokens_owed1
    assert owed_a == mul_div(g2, E18, Q128)
    assert owed_b == mul_div(g3 - g1, 2 * E18, Q128)
    total_fee = step1.fee_amount + step2.fee_amount + step3.fee_amount
    assert out.fee_amount == total_fee
    assert total_fee - 3 <= owed_a + owed_b <= total_fee


def test_swap_back_recrosses_and_restores_liquidity():
    pool = two_range_pool()
    pool.swap(False, 15 * 10**15, MAX_SQRT_RATIO - 1)
    g1_up = pool.fee_growth_global1_x128
    out60, out120 = pool.ticks[60].fee_growth_outside1_x128, pool.ticks[120].fee_growth_outside1_x128
    out = pool.swap(True, 10**17, get_sqrt_ratio_at_tick(-60))
    assert out.crossed_ticks == (120, 60)
    assert pool.sqrt_price_x96 == get_sqrt_ratio_at_tick(-60)
    assert pool.tick == -60
    assert pool.liquidity == E18
    # Token1's global does not move in a zero_for_one swap: re-crossing gives global1 − previous.
    assert pool.fee_growth_global1_x128 == g1_up
    assert pool.ticks[60].fee_growth_outside1_x128 == g1_up - out60
    assert pool.ticks[120].fee_growth_outside1_x128 == g1_up - out120
    # Token0's outside takes the global at each crossing: 120 was crossed first, then 60.
    o120, o60 = pool.ticks[120].fee_growth_outside0_x128, pool.ticks[60].fee_growth_outside0_x128
    assert 0 < o120 < o60 < pool.fee_growth_global0_x128


def test_swap_ending_exactly_on_a_tick_going_down_reports_the_tick_below():
    pool = two_range_pool()
    s60 = get_sqrt_ratio_at_tick(60)
    pool.swap(False, 10**17, s60)
    assert pool.sqrt_price_x96 == s60 and pool.tick == 60  # crossed upward: tick = 60
    pool.swap(True, 10**17, get_sqrt_ratio_at_tick(-120))
    assert pool.tick == -121  # stopped on -120 moving down: slot0.tick is one below
    assert get_tick_at_sqrt_ratio(pool.sqrt_price_x96) == -120
    assert pool.liquidity == 0


def test_exact_output_swap_delivers_the_exact_amount():
    pool = two_range_pool()
    out = pool.swap(True, -(10**15), MIN_SQRT_RATIO + 1)
    assert out.amount1 == -(10**15)
    assert out.amount0 > 10**15  # price ≈ 1 plus fee
    step = compute_swap_step(Q96, get_sqrt_ratio_at_tick(-120), E18, -(10**15), 3000)
    assert out.amount0 == step.amount_in + step.fee_amount


def test_steps_stop_at_tick_bitmap_word_boundaries():
    pool = V3Pool(100, 1, Q96)
    pool.mint("lp", -10_000, 10_000, E18)
    limit = get_sqrt_ratio_at_tick(-600)
    out = pool.swap(True, 10**18, limit)
    # The contract's steps: 0→0 (empty), 0→-256, -256→-512, -512→limit, each rounded on its own.
    g = 0
    sqrt_p = Q96
    rem = 10**18
    total_in = 0
    for target in (Q96, get_sqrt_ratio_at_tick(-256), get_sqrt_ratio_at_tick(-512), limit):
        step = compute_swap_step(sqrt_p, target, E18, rem, 100)
        rem -= step.amount_in + step.fee_amount
        total_in += step.amount_in + step.fee_amount
        g += mul_div(step.fee_amount, Q128, E18)
        sqrt_p = step.sqrt_price_next_x96
    assert sqrt_p == limit
    assert (out.amount0, pool.fee_growth_global0_x128) == (total_in, g)
    assert pool.tick == -600


def test_fee_growth_inside_wraps_modulo_2_256():
    assert get_fee_growth_inside(-60, 60, 0, 10, 15, 2) == Q256 - 7
    assert get_fee_growth_inside(-60, 60, -100, 10, 15, 2) == (10 - (10 - 15) - 2) % Q256
    assert get_fee_growth_inside(-60, 60, 100, 10, 15, 2) == (10 - 15 - (10 - 2)) % Q256
    # Fees across the wrap: last = 2^256 − 10·2^128, now 5·2^128 → growth 15 per unit of liquidity.
    assert fees_earned(5 * Q128, Q256 - 10 * Q128, 1000) == 15_000
    assert fees_earned(5 * Q128 + Q128 // 2, Q256 - 10 * Q128, 3) == 46


def test_fee_growth_inside_wraps_in_the_pool_and_fees_stay_exact():
    pool = V3Pool(3000, 60, Q96)
    pool.mint("wide", -600, 600, 10 * E18)
    pool.mint("first", -180, -60, E18)  # -60 initialized at global 0
    total_fee0 = pool.swap(True, 10**16, get_sqrt_ratio_at_tick(-30)).fee_amount
    pool.swap(False, 10**16, get_sqrt_ratio_at_tick(30))
    g_now = pool.fee_growth_global0_x128
    assert g_now > 0
    pool.mint("late", -120, -60, E18)  # -120 initialized now, with outside = global
    inside0, _ = pool.fee_growth_inside(-120, -60)
    assert inside0 == (0 - g_now) % Q256 and inside0 > 2**255  # the intended wrap
    assert pool.position("late", -120, -60).fee_growth_inside0_last_x128 == inside0
    # Trade through the range and back; the wrapped snapshot still yields the right fees.
    total_fee0 += pool.swap(True, 10**17, get_sqrt_ratio_at_tick(-150)).fee_amount
    pool.swap(False, 10**17, get_sqrt_ratio_at_tick(0))
    pool.burn("late", -120, -60, 0)
    pool.burn("first", -180, -60, 0)
    pool.burn("wide", -600, 600, 0)
    late = pool.position("late", -120, -60)
    first = pool.position("first", -180, -60)
    wide = pool.position("wide", -600, 600)
    assert late.tokens_owed0 > 0
    # "first" also covers [-180, -120), where the price went (down to -150) and "late" did not.
    assert first.tokens_owed0 > late.tokens_owed0
    # A mishandled wrap would credit ~2^128 tokens; fees paid out never exceed fees charged.
    assert total_fee0 - 10 <= late.tokens_owed0 + first.tokens_owed0 + wide.tokens_owed0 <= total_fee0


def test_burn_rounds_down_and_leaves_dust_in_the_pool():
    pool = V3Pool(3000, 60, Q96)
    paid = pool.mint("lp", -60, 60, 10**18 + 7)
    released = pool.burn("lp", -60, 60, 10**18 + 7)
    assert [p - r for p, r in zip(paid, released, strict=True)] == [1, 1]
    assert pool.collect("lp", -60, 60, 2**128 - 1, 2**128 - 1) == released
    assert (pool.balance0, pool.balance1) == (1, 1)
    assert pool.ticks == {} and pool.bitmap.words == {} and pool.liquidity == 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda p: p.mint("x", -61, 60, 1), "multiple of the tick spacing"),
        (lambda p: p.mint("x", 60, -60, 1), "CT"),
        (lambda p: p.mint("x", -60, 60, 0), "positive"),
        (lambda p: p.mint("x", -60, 60, max_liquidity_per_tick(60)), "LO"),
        (lambda p: p.burn("a", -120, 120, E18 + 1), "LS"),
        (lambda p: p.burn("nobody", -120, 120, 0), "NP"),
        (lambda p: p.swap(True, 10, p.sqrt_price_x96), "SPL"),
        (lambda p: p.swap(False, 10, MAX_SQRT_RATIO), "SPL"),
    ],
)
def test_reverting_calls_leave_the_pool_untouched(call, match):
    pool = two_range_pool()
    pool.swap(False, 10**15, MAX_SQRT_RATIO - 1)
    before = snapshot(pool)
    with pytest.raises(ValueError, match=match):
        call(pool)
    assert snapshot(pool) == before


def test_simulate_swap_changes_nothing_and_agrees_with_swap():
    pool = two_range_pool()
    before = snapshot(pool)
    quoted = pool.simulate_swap(False, 15 * 10**15, MAX_SQRT_RATIO - 1)
    assert snapshot(pool) == before
    assert pool.swap(False, 15 * 10**15, MAX_SQRT_RATIO - 1) == quoted


def test_zero_amount_swap_follows_the_contract_precedence():
    pool = two_range_pool()
    # `amount != 0 && zeroForOne ? A : B`: a zero amount is validated as a one_for_zero limit.
    out = pool.swap(True, 0, MAX_SQRT_RATIO - 1)
    assert (out.amount0, out.amount1, out.sqrt_price_x96) == (0, 0, Q96)
