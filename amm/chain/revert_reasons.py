"""Turn EVM revert data into a sentence an operator can act on.

Uniswap v3 core reverts with terse codes ("STF", "SPL", "LOK"); the periphery with phrases ("Too
little received", "Price slippage check"). The raw reason always comes first so it can be searched
for; a known code gets its meaning appended.
"""

from __future__ import annotations

from eth_abi import decode

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)

UNISWAP_REASONS: dict[str, str] = {
    # periphery (TransferHelper and the contracts)
    "STF": "a token transfer from the wallet failed: balance or allowance too low",
    "ST": "a token transfer failed",
    "SA": "a token approval failed",
    "STE": "an ETH transfer failed",
    "Too little received": "the swap output is below amountOutMinimum",
    "Too much requested": "the swap input is above amountInMaximum",
    "Price slippage check": "the amounts are below amount0Min/amount1Min: the price moved",
    "Transaction too old": "the deadline has passed",
    "Not approved": "the wallet neither owns nor is approved for this position",
    "Not cleared": "burn needs zero liquidity and everything collected first",
    "Invalid token ID": "no such position",
    # core pool and its libraries
    "LOK": "the pool is locked (reentrancy)",
    "TLU": "tickLower must be below tickUpper",
    "TLM": "tickLower is below the minimum tick",
    "TUM": "tickUpper is above the maximum tick",
    "AI": "the pool is already initialized",
    "M0": "the mint callback did not pay token0",
    "M1": "the mint callback did not pay token1",
    "AS": "the swap amount is zero",
    "SPL": "the price limit is on the wrong side of the current price or out of range",
    "IIA": "the swap callback paid too little input",
    "LO": "the tick's liquidity would exceed its maximum",
    "LS": "liquidity would go below zero",
    "LA": "liquidity would overflow",
    "NP": "a position with no liquidity cannot be poked",
    "T": "the tick is out of range",
    "R": "the sqrt price is out of range",
    "OLD": "the observation window is older than the pool's oracle history",
    "I": "the pool's oracle is not initialized",
}

PANIC_CODES: dict[int, str] = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialized function",
}


def explain(reason: str) -> str:
    meaning = UNISWAP_REASONS.get(reason)
    return f"{reason} ({meaning})" if meaning else reason


def decode_revert(data: bytes | str | None) -> str:
    """The revert reason in `data` (as returned by eth_call), explained when it is a known code."""
    if isinstance(data, str):
        data = bytes.fromhex(data.removeprefix("0x"))
    if not data:
        return "reverted without a reason"
    selector, payload = data[:4], data[4:]
    try:
        if selector == _ERROR_STRING:
            return explain(decode(["string"], payload)[0])
        if selector == _PANIC:
            code = decode(["uint256"], payload)[0]
            return f"panic 0x{code:02x} ({PANIC_CODES.get(code, 'unknown panic')})"
    except Exception:  # malformed payload: fall through to the raw bytes
        pass
    return f"custom error 0x{data.hex()}"
