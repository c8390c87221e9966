"""Read-only views of a Uniswap v3 pool: price, liquidity, fee growth, ticks, oracle.

Multi-call reads are pinned to one block number, so a `PoolState` never mixes two blocks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from amm.chain.artifacts import load_abi
from amm.ports import PoolState

if TYPE_CHECKING:  # web3 is imported when a chain venue is built, not by whoever names PoolReadError
    from web3 import AsyncWeb3


class PoolReadError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Slot0:
    sqrt_price_x96: int
    tick: int
    observation_index: int
    observation_cardinality: int
    observation_cardinality_next: int
    fee_protocol: int
    unlocked: bool


@dataclass(frozen=True, slots=True)
class TickInfo:
    tick: int
    liquidity_gross: int
    liquidity_net: int
    fee_growth_outside0_x128: int
    fee_growth_outside1_x128: int
    initialized: bool


@dataclass(frozen=True, slots=True)
class PopulatedTick:
    tick: int
    liquidity_net: int
    liquidity_gross: int


@dataclass(frozen=True, slots=True)
class Observation:
    """Oracle accumulators `seconds_ago` seconds before the read block."""

    seconds_ago: int
    tick_cumulative: int
    seconds_per_liquidity_cumulative_x128: int


def bitmap_word(tick: int, tick_spacing: int) -> int:
    """Index of the tickBitmap word holding `tick` (floor division, as TickBitmap.position does)."""
    return (tick // tick_spacing) >> 8


class PoolReader:
    def __init__(self, w3: AsyncWeb3, pool_address: str, tick_lens_address: str | None = None) -> None:
        self.w3 = w3
        self.pool = w3.eth.contract(address=pool_address, abi=load_abi("UniswapV3Pool"))  # type: ignore[call-overload]
        self.tick_lens = (
            None
            if tick_lens_address is None
            else w3.eth.contract(address=tick_lens_address, abi=load_abi("TickLens"))  # type: ignore[call-overload]
        )
        self.address = pool_address

    async def block_number(self) -> int:
        return await self.w3.eth.block_number

    async def slot0(self, block: int | str = "latest") -> Slot0:
        return Slot0(*await self.pool.functions.slot0().call(block_identifier=block))

    async def state(self, block: int | None = None) -> PoolState:
        block = await self.block_number() if block is None else block
        fns = self.pool.functions
        slot0, liquidity, growth0, growth1 = await asyncio.gather(
            self.slot0(block),
            fns.liquidity().call(block_identifier=block),
            fns.feeGrowthGlobal0X128().call(block_identifier=block),
            fns.feeGrowthGlobal1X128().call(block_identifier=block),
        )
        return PoolState(slot0.sqrt_price_x96, slot0.tick, liquidity, growth0, growth1)

    async def tick_spacing(self) -> int:
        return await self.pool.functions.tickSpacing().call()

    async def tick(self, tick: int, block: int | str = "latest") -> TickInfo:
        gross, net, outside0, outside1, _, _, _, initialized = await self.pool.functions.ticks(tick).call(
            block_identifier=block
        )
        return TickInfo(tick, gross, net, outside0, outside1, initialized)

    async def tick_bitmap(self, word: int, block: int | str = "latest") -> int:
        return await self.pool.functions.tickBitmap(word).call(block_identifier=block)

    async def populated_ticks_in_word(
        self, word: int, tick_spacing: int, block: int | str = "latest"
    ) -> list[PopulatedTick]:
        """Initialized ticks of one bitmap word, ascending (TickLens if configured: one call)."""
        if self.tick_lens is not None:
            rows = await self.tick_lens.functions.getPopulatedTicksInWord(self.address, word).call(
                block_identifier=block
            )
            return sorted((PopulatedTick(*row) for row in rows), key=lambda t: t.tick)
        bitmap = await self.tick_bitmap(word, block)
        ticks = [((word << 8) + bit) * tick_spacing for bit in range(256) if bitmap >> bit & 1]
        infos = await asyncio.gather(*(self.tick(t, block) for t in ticks))
        return [PopulatedTick(i.tick, i.liquidity_net, i.liquidity_gross) for i in infos]

    async def populated_ticks(
        self, tick_lower: int, tick_upper: int, tick_spacing: int, block: int | None = None
    ) -> list[PopulatedTick]:
        """Initialized ticks in [tick_lower, tick_upper], ascending, read at one block."""
        block = await self.block_number() if block is None else block
        words = range(bitmap_word(tick_lower, tick_spacing), bitmap_word(tick_upper, tick_spacing) + 1)
        per_word = await asyncio.gather(
            *(self.populated_ticks_in_word(w, tick_spacing, block) for w in words)
        )
        return sorted(
            (t for ticks in per_word for t in ticks if tick_lower <= t.tick <= tick_upper),
            key=lambda t: t.tick,
        )

    async def observe(self, seconds_agos: list[int], block: int | str = "latest") -> list[Observation]:
        """The oracle at each `seconds_ago`; reverts with OLD beyond the pool's stored history."""
        from web3.exceptions import ContractLogicError  # loaded already: self.pool is a web3 contract

        from amm.chain.revert_reasons import decode_revert

        try:
            ticks, per_liquidity = await self.pool.functions.observe(seconds_agos).call(
                block_identifier=block
            )
        except ContractLogicError as exc:
            reason = decode_revert(exc.data)  # type: ignore[arg-type]  # revert data: hex str or None
            raise PoolReadError(f"observe({seconds_agos}) on {self.address}: {reason}") from None
        return [Observation(s, t, p) for s, t, p in zip(seconds_agos, ticks, per_liquidity, strict=True)]

    async def twap_tick(self, window_s: int, block: int | str = "latest") -> int:
        """Arithmetic mean tick over the last `window_s` seconds, rounded towards negative infinity
        (as OracleLibrary.consult)."""
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        old, new = await self.observe([window_s, 0], block)
        return (new.tick_cumulative - old.tick_cumulative) // window_s
