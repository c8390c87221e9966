"""Integer primitives of Uniswap v3 (FullMath, UnsafeMath, SafeCast, LiquidityMath) on Python ints.

Python ints never overflow, so every place where the Solidity code reverts on an out-of-range value
is an explicit check here that raises `ValueError` naming the quantity at fault. Divisions are
floor divisions of non-negative values unless the name says `rounding_up`.
"""

from __future__ import annotations

Q96 = 1 << 96
Q128 = 1 << 128
Q192 = 1 << 192
Q256 = 1 << 256
MAX_UINT128 = (1 << 128) - 1
MAX_UINT160 = (1 << 160) - 1
MAX_UINT256 = Q256 - 1
MIN_INT128 = -(1 << 127)
MAX_INT128 = (1 << 127) - 1
MAX_INT256 = (1 << 255) - 1


def check_uint(value: int, bits: int, name: str) -> int:
    """Return `value` if it fits an unsigned `bits`-bit word, else raise naming `name`."""
    if value < 0 or value >> bits:
        raise ValueError(f"{name} must fit uint{bits}, got {value}")
    return value


def mul_div(a: int, b: int, denominator: int) -> int:
    """floor(a·b / denominator) with the full 512-bit product; reverts (ValueError) like FullMath."""
    check_uint(a, 256, "mul_div a")
    check_uint(b, 256, "mul_div b")
    if denominator <= 0:
        raise ValueError("mul_div denominator must be positive")
    result = a * b // denominator
    if result > MAX_UINT256:
        raise ValueError("mul_div result overflows uint256")
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """ceil(a·b / denominator); reverts when the rounded result would overflow uint256."""
    result = mul_div(a, b, denominator)
    if (a * b) % denominator:
        if result >= MAX_UINT256:
            raise ValueError("mul_div_rounding_up result overflows uint256")
        result += 1
    return result


def div_rounding_up(x: int, y: int) -> int:
    """UnsafeMath.divRoundingUp: ceil(x / y) for x ≥ 0, y > 0 (Solidity returns 0 for y == 0; we refuse)."""
    if y <= 0:
        raise ValueError("div_rounding_up divisor must be positive")
    return -(-x // y)


def to_uint160(value: int) -> int:
    return check_uint(value, 160, "uint160 value")


def to_int128(value: int) -> int:
    if not MIN_INT128 <= value <= MAX_INT128:
        raise ValueError(f"value must fit int128, got {value}")
    return value


def to_int256(value: int) -> int:
    """SafeCast.toInt256 of a uint256: must be below 2^255."""
    if not 0 <= value <= MAX_INT256:
        raise ValueError(f"value must be a uint256 below 2^255, got {value}")
    return value


def add_delta(liquidity: int, delta: int) -> int:
    """LiquidityMath.addDelta: uint128 + int128, reverting 'LS' on underflow and 'LA' on overflow."""
    result = liquidity + delta
    if result < 0:
        raise ValueError(f"liquidity underflow (LS): {liquidity} + ({delta}) < 0")
    if result > MAX_UINT128:
        raise ValueError(f"liquidity overflow (LA): {liquidity} + {delta} exceeds uint128")
    return result


def most_significant_bit(x: int) -> int:
    if x <= 0:
        raise ValueError("most_significant_bit needs x > 0")
    return x.bit_length() - 1


def least_significant_bit(x: int) -> int:
    if x <= 0:
        raise ValueError("least_significant_bit needs x > 0")
    return (x & -x).bit_length() - 1
