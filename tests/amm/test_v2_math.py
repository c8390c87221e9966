import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.math.v2_math import get_amount_in, get_amount_out, quote

E18 = 10**18


def test_known_amount_out():
    assert get_amount_out(E18, 5 * E18, 10 * E18) == 1662497915624478906


def test_known_amount_in_rounds_up():
    # Inverse of the known value: ⌊5e18·1662497915624478906·1000 / ((10e18 − out)·997)⌋ + 1.
    needed = get_amount_in(1662497915624478906, 5 * E18, 10 * E18)
    assert needed == 5 * E18 * 1662497915624478906 * 1000 // ((10 * E18 - 1662497915624478906) * 997) + 1
    assert needed <= E18
    assert get_amount_out(needed, 5 * E18, 10 * E18) == 1662497915624478906


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="INSUFFICIENT_INPUT_AMOUNT"):
        get_amount_out(0, 1, 1)
    with pytest.raises(ValueError, match="INSUFFICIENT_LIQUIDITY"):
        get_amount_out(1, 0, 1)
    with pytest.raises(ValueError, match="output reserve"):
        get_amount_in(10, 100, 10)
    assert quote(10, 100, 300) == 30


@settings(max_examples=800, deadline=None)
@given(st.integers(1, 2**112), st.integers(1, 2**112), st.integers(1, 2**112))
def test_constant_product_with_fee_never_decreases(amount_in, reserve_in, reserve_out):
    out = get_amount_out(amount_in, reserve_in, reserve_out)
    assert out < reserve_out
    # The pair's check: (R_in·1000 + in·997)·(R_out − out) ≥ R_in·R_out·1000.
    assert (reserve_in * 1000 + amount_in * 997) * (reserve_out - out) >= reserve_in * reserve_out * 1000
    if out > 0:
        # getAmountIn always adds 1 (even when the division is exact), so it may exceed the
        # original input by one wei, and paying it always buys at least `out`.
        needed = get_amount_in(out, reserve_in, reserve_out)
        assert needed <= amount_in + 1
        assert get_amount_out(needed, reserve_in, reserve_out) >= out
