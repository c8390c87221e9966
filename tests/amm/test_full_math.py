import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.math.full_math import (
    MAX_UINT128,
    MAX_UINT256,
    Q128,
    add_delta,
    div_rounding_up,
    mul_div,
    mul_div_rounding_up,
    to_int128,
    to_uint160,
)

u256 = st.integers(0, MAX_UINT256)


def test_mul_div_uses_the_full_512_bit_product():
    assert mul_div(Q128, Q128, Q128) == Q128
    assert mul_div(MAX_UINT256, MAX_UINT256, MAX_UINT256) == MAX_UINT256
    assert mul_div(Q128, 35 * Q128, 8 * Q128) == 4375 * Q128 // 1000


def test_mul_div_reverts_like_the_contract():
    with pytest.raises(ValueError, match="overflows"):
        mul_div(Q128, Q128, 1)
    with pytest.raises(ValueError, match="denominator"):
        mul_div(1, 1, 0)
    with pytest.raises(ValueError, match="overflows"):
        mul_div_rounding_up(
            535006138814359, 432862656469423142931042426214547535783388063929571229938474969, 2
        )
    with pytest.raises(ValueError, match="uint256"):
        mul_div(-1, 1, 1)


@settings(max_examples=1000, deadline=None)
@given(u256, u256, st.integers(1, MAX_UINT256))
def test_rounding_up_is_down_plus_remainder_flag(a, b, d):
    if a * b // d > MAX_UINT256 - 1:
        return
    down, up = mul_div(a, b, d), mul_div_rounding_up(a, b, d)
    assert up - down == (1 if (a * b) % d else 0)
    assert down * d <= a * b < (down + 1) * d


def test_div_rounding_up_and_casts():
    assert div_rounding_up(7, 2) == 4
    assert div_rounding_up(8, 2) == 4
    assert div_rounding_up(0, 5) == 0
    with pytest.raises(ValueError):
        to_uint160(2**160)
    with pytest.raises(ValueError):
        to_int128(2**127)
    assert to_int128(-(2**127)) == -(2**127)


def test_add_delta_reverts_with_the_contract_codes():
    assert add_delta(10, -3) == 7
    with pytest.raises(ValueError, match="LS"):
        add_delta(1, -2)
    with pytest.raises(ValueError, match="LA"):
        add_delta(MAX_UINT128, 1)
