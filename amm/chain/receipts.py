"""What a mined transaction did, read from its receipt's events (never from a preview)."""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes
from web3.contract import AsyncContract

from amm.chain.tx_manager import TxOutcome
from amm.ports import Collected, EntryResult, LiquidityChange, SwapResult

LIQUIDITY_EVENTS = {
    "mint": "IncreaseLiquidity",
    "increase": "IncreaseLiquidity",
    "decrease": "DecreaseLiquidity",
}


def events(contract: AsyncContract, event_name: str, outcome: TxOutcome) -> list[Any]:
    event = contract.events[event_name]()
    topic = HexBytes(event.topic)
    return [
        event.process_log(entry)["args"]
        for entry in outcome.logs
        if entry["address"] == contract.address and entry["topics"] and entry["topics"][0] == topic
    ]


def swap_result(pool: AsyncContract, outcome: TxOutcome, extra_gas_wei: int) -> SwapResult:
    swap = events(pool, "Swap", outcome)[0]
    amount0, amount1 = swap["amount0"], swap["amount1"]  # pool's view: positive = paid in
    zero_for_one = amount0 > 0
    return SwapResult(
        amount_in=amount0 if zero_for_one else amount1,
        amount_out=-(amount1 if zero_for_one else amount0),
        sqrt_price_x96_after=swap["sqrtPriceX96"],
        tick_after=swap["tick"],
        gas_cost_wei=extra_gas_wei + outcome.gas_cost_wei,
    )


def liquidity_change(
    npm: AsyncContract, event_name: str, outcome: TxOutcome, extra_gas_wei: int
) -> LiquidityChange:
    event = events(npm, event_name, outcome)[0]
    return LiquidityChange(
        token_id=event["tokenId"],
        liquidity=event["liquidity"],
        amount0=event["amount0"],
        amount1=event["amount1"],
        gas_cost_wei=extra_gas_wei + outcome.gas_cost_wei,
    )


def collected(npm: AsyncContract, outcome: TxOutcome) -> Collected:
    event = events(npm, "Collect", outcome)[0]
    return Collected(event["tokenId"], event["amount0"], event["amount1"], outcome.gas_cost_wei)


def entry_result(kind: str, npm: AsyncContract, pool: AsyncContract, outcome: TxOutcome) -> EntryResult:
    """A journaled transaction's effect by its kind; None for gas only (approve, burn)."""
    if kind == "swap":
        return swap_result(pool, outcome, 0)
    if kind == "collect":
        return collected(npm, outcome)
    if kind in LIQUIDITY_EVENTS:
        return liquidity_change(npm, LIQUIDITY_EVENTS[kind], outcome, 0)
    return None
