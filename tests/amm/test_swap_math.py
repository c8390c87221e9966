import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.math.conversions import encode_sqrt_price_x96
from amm.math.full_math import MAX_UINT128
from amm.math.swap_math import compute_swap_step
from amm.math.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

E18 = 10**18
SQRT_1 = encode_sqrt_price_x96(1, 1)

# Values published in Uniswap v3-core's SwapMath tests.
KNOWN_STEPS = [
    ((SQRT_1, encode_sqrt_price_x96(101, 100), 2 * E18, E18, 600),
     (79623317895830914510639640423, 9975124224178055, 9925619580021728, 5988667735148)),
    ((SQRT_1, encode_sqrt_price_x96(101, 100), 2 * E18, -E18, 600),
     (79623317895830914510639640423, 9975124224178055, 9925619580021728, 5988667735148)),
    ((SQRT_1, encode_sqrt_price_x96(1000, 100), 2 * E18, E18, 600),
     (118818475322642227089037862318, 999400000000000000, 666399946655997866, 600000000000000)),
    ((SQRT_1, encode_sqrt_price_x96(1000, 100), 2 * E18, -E18, 600),
     (158456325028528675187087900672, 2000000000000000000, E18, 1200720432259356)),
    ((417332158212080721273783715441582, 1452870262520218020823638996, 159344665391607089467575320103, -1, 1),
     (417332158212080721273783715441581, 1, 1, 1)),
    ((2, 1, 1, 3915081100057732413702495386755767, 1),
     (1, 39614081257132168796771975168, 0, 39614120871253040049813)),
    ((2413, 79887613182836312, 1985041575832132834610021537970, 10, 1872), (2413, 0, 0, 10)),
]  # fmt: skip


@pytest.mark.parametrize(("args", "expected"), KNOWN_STEPS)
def test_known_swap_steps(args, expected):
    step = compute_swap_step(*args)
    assert (step.sqrt_price_next_x96, step.amount_in, step.amount_out, step.fee_amount) == expected


prices = st.integers(MIN_SQRT_RATIO, MAX_SQRT_RATIO - 1)


@settings(max_examples=1500, deadline=None)
@given(
    prices,
    prices,
    st.integers(1, MAX_UINT128),
    st.integers(-(2**128), 2**128).filter(lambda a: a != 0),
    st.integers(1, 999_999),
)
def test_swap_step_conservation(sqrt_p, sqrt_target, liquidity, amount_remaining, fee_pips):
    try:
        step = compute_swap_step(sqrt_p, sqrt_target, liquidity, amount_remaining, fee_pips)
    except ValueError:
        return  # reverts on chain as well (e.g. output beyond the range's reserve)
    zero_for_one = sqrt_p >= sqrt_target
    if amount_remaining > 0:
        assert step.amount_in + step.fee_amount <= amount_remaining
    else:
        assert step.amount_out <= -amount_remaining
    # The price moves toward the target and never past it.
    if zero_for_one:
        assert sqrt_target <= step.sqrt_price_next_x96 <= sqrt_p
    else:
        assert sqrt_p <= step.sqrt_price_next_x96 <= sqrt_target
    if step.sqrt_price_next_x96 != sqrt_target:
        # Stopping short means the amount was exhausted.
        if amount_remaining > 0:
            assert step.amount_in + step.fee_amount == amount_remaining
        else:
            assert step.amount_out == -amount_remaining
    assert step.fee_amount >= 0 and step.amount_in >= 0 and step.amount_out >= 0


def test_bad_fee_is_refused():
    with pytest.raises(ValueError, match="fee_pips"):
        compute_swap_step(SQRT_1, SQRT_1 + 1, 1, 1, 1_000_000)
