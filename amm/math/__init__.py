"""Exact integer Uniswap v3/v2 libraries, one job per module (Python ints with Solidity rounding)."""
