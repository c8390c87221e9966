"""NonfungiblePositionManager semantics on top of the in-memory pool: NFT ids and per-id fees.

The manager owns every pool position it creates (positions with the same range share one pool
position) and keeps its own per-id fee snapshots, as the periphery contract does; collect pokes
the pool first, so pending fees are never stale. Slippage checks run before the pool is touched,
which is what a reverted transaction amounts to.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from amm.math.full_math import MAX_UINT128, check_uint
from amm.math.liquidity_amounts import get_liquidity_for_amounts
from amm.math.position_math import fees_earned
from amm.math.tick_math import get_sqrt_ratio_at_tick
from amm.sim.v3_pool import V3Pool

POSITION_MANAGER_OWNER = "nonfungible_position_manager"


@dataclass(slots=True)
class NftPosition:
    tick_lower: int
    tick_upper: int
    liquidity: int
    fee_growth_inside0_last_x128: int
    fee_growth_inside1_last_x128: int
    tokens_owed0: int = 0
    tokens_owed1: int = 0


class PositionManager:
    def __init__(self, pool: V3Pool, owner: str = POSITION_MANAGER_OWNER) -> None:
        self.pool = pool
        self.owner = owner
        self.positions: dict[int, NftPosition] = {}
        self._next_id = 1

    def position(self, token_id: int) -> NftPosition:
        return replace(self._get(token_id))

    def _get(self, token_id: int) -> NftPosition:
        try:
            return self.positions[token_id]
        except KeyError:
            raise ValueError(f"token_id {token_id}: no such position (Invalid token ID)") from None

    def quote_add(
        self, tick_lower: int, tick_upper: int, amount0_desired: int, amount1_desired: int
    ) -> tuple[int, int, int]:
        """(liquidity, amount0, amount1) an add of these budgets would mint and pay now."""
        liquidity = get_liquidity_for_amounts(
            self.pool.sqrt_price_x96,
            get_sqrt_ratio_at_tick(tick_lower),
            get_sqrt_ratio_at_tick(tick_upper),
            check_uint(amount0_desired, 256, "amount0_desired"),
            check_uint(amount1_desired, 256, "amount1_desired"),
        )
        if liquidity == 0:
            raise ValueError("the desired amounts buy no liquidity in this range at the current price")
        amount0, amount1 = self.pool.liquidity_delta_amounts(tick_lower, tick_upper, liquidity)
        return liquidity, amount0, amount1

    def _add_liquidity(
        self, tick_lower: int, tick_upper: int, a0_desired: int, a1_desired: int, a0_min: int, a1_min: int
    ) -> tuple[int, int, int]:
        liquidity, amount0, amount1 = self.quote_add(tick_lower, tick_upper, a0_desired, a1_desired)
        if amount0 < a0_min or amount1 < a1_min:
            raise ValueError(
                f"Price slippage check: would pay ({amount0}, {amount1}), minimum ({a0_min}, {a1_min})"
            )
        paid = self.pool.mint(self.owner, tick_lower, tick_upper, liquidity)
        return liquidity, *paid

    def mint(
        self,
        tick_lower: int,
        tick_upper: int,
        amount0_desired: int,
        amount1_desired: int,
        amount0_min: int,
        amount1_min: int,
    ) -> tuple[int, int, int, int]:
        """(token_id, liquidity, amount0, amount1) of a new position; amounts are paid to the pool."""
        liquidity, amount0, amount1 = self._add_liquidity(
            tick_lower, tick_upper, amount0_desired, amount1_desired, amount0_min, amount1_min
        )
        token_id = self._next_id
        self._next_id += 1
        pool_pos = self.pool.position(self.owner, tick_lower, tick_upper)
        self.positions[token_id] = NftPosition(
            tick_lower,
            tick_upper,
            liquidity,
            pool_pos.fee_growth_inside0_last_x128,
            pool_pos.fee_growth_inside1_last_x128,
        )
        return token_id, liquidity, amount0, amount1

    def _accrue(self, pos: NftPosition) -> None:
        """Credit fees since the last snapshot, reading the pool position just updated."""
        pool_pos = self.pool.position(self.owner, pos.tick_lower, pos.tick_upper)
        owed0 = fees_earned(
            pool_pos.fee_growth_inside0_last_x128, pos.fee_growth_inside0_last_x128, pos.liquidity
        )
        owed1 = fees_earned(
            pool_pos.fee_growth_inside1_last_x128, pos.fee_growth_inside1_last_x128, pos.liquidity
        )
        pos.tokens_owed0 = (pos.tokens_owed0 + owed0) & MAX_UINT128
        pos.tokens_owed1 = (pos.tokens_owed1 + owed1) & MAX_UINT128
        pos.fee_growth_inside0_last_x128 = pool_pos.fee_growth_inside0_last_x128
        pos.fee_growth_inside1_last_x128 = pool_pos.fee_growth_inside1_last_x128

    def increase_liquidity(
        self, token_id: int, amount0_desired: int, amount1_desired: int, amount0_min: int, amount1_min: int
    ) -> tuple[int, int, int]:
        pos = self._get(token_id)
        liquidity, amount0, amount1 = self._add_liquidity(
            pos.tick_lower, pos.tick_upper, amount0_desired, amount1_desired, amount0_min, amount1_min
        )
        self._accrue(pos)
        pos.liquidity += liquidity
        return liquidity, amount0, amount1

    def quote_decrease(self, token_id: int, liquidity: int) -> tuple[int, int]:
        """Amounts a decrease of `liquidity` would release now (rounded down)."""
        pos = self._get(token_id)
        if liquidity <= 0:
            raise ValueError(f"token_id {token_id}: liquidity to remove must be positive")
        if liquidity > pos.liquidity:
            raise ValueError(
                f"token_id {token_id}: cannot remove {liquidity}, position holds {pos.liquidity}"
            )
        amount0, amount1 = self.pool.liquidity_delta_amounts(pos.tick_lower, pos.tick_upper, -liquidity)
        return -amount0, -amount1

    def decrease_liquidity(
        self, token_id: int, liquidity: int, amount0_min: int, amount1_min: int
    ) -> tuple[int, int]:
        """Burn liquidity; the released amounts are credited to tokens owed (collect pays them)."""
        amount0, amount1 = self.quote_decrease(token_id, liquidity)
        if amount0 < amount0_min or amount1 < amount1_min:
            raise ValueError(
                f"Price slippage check: would release ({amount0}, {amount1}), minimum ({amount0_min}, "
                f"{amount1_min})"
            )
        pos = self._get(token_id)
        self.pool.burn(self.owner, pos.tick_lower, pos.tick_upper, liquidity)
        self._accrue(pos)
        pos.tokens_owed0 = (pos.tokens_owed0 + amount0) & MAX_UINT128
        pos.tokens_owed1 = (pos.tokens_owed1 + amount1) & MAX_UINT128
        pos.liquidity -= liquidity
        return amount0, amount1

    def pending(self, token_id: int) -> tuple[int, int]:
        """What collect(max, max) would pay now (the static collect call), without changing state."""
        pos = self._get(token_id)
        owed0, owed1 = pos.tokens_owed0, pos.tokens_owed1
        pool_pos = self.pool.position(self.owner, pos.tick_lower, pos.tick_upper)
        pool_owed0, pool_owed1 = pool_pos.tokens_owed0, pool_pos.tokens_owed1
        if pos.liquidity > 0:
            inside0, inside1 = self.pool.fee_growth_inside(pos.tick_lower, pos.tick_upper)
            owed0 += fees_earned(inside0, pos.fee_growth_inside0_last_x128, pos.liquidity)
            owed1 += fees_earned(inside1, pos.fee_growth_inside1_last_x128, pos.liquidity)
            pool_owed0 += fees_earned(inside0, pool_pos.fee_growth_inside0_last_x128, pool_pos.liquidity)
            pool_owed1 += fees_earned(inside1, pool_pos.fee_growth_inside1_last_x128, pool_pos.liquidity)
        return min(owed0 & MAX_UINT128, pool_owed0), min(owed1 & MAX_UINT128, pool_owed1)

    def collect(
        self, token_id: int, amount0_max: int = MAX_UINT128, amount1_max: int = MAX_UINT128
    ) -> tuple[int, int]:
        check_uint(amount0_max, 128, "amount0_max")
        check_uint(amount1_max, 128, "amount1_max")
        if amount0_max == 0 and amount1_max == 0:
            raise ValueError("collect needs amount0_max or amount1_max above zero")
        pos = self._get(token_id)
        if pos.liquidity > 0:
            self.pool.burn(self.owner, pos.tick_lower, pos.tick_upper, 0)
            self._accrue(pos)
        collect0 = min(amount0_max, pos.tokens_owed0)
        collect1 = min(amount1_max, pos.tokens_owed1)
        paid = self.pool.collect(self.owner, pos.tick_lower, pos.tick_upper, collect0, collect1)
        # As the contract: subtract what was asked, even if the pool paid a few wei less.
        pos.tokens_owed0 -= collect0
        pos.tokens_owed1 -= collect1
        return paid

    def burn(self, token_id: int) -> None:
        pos = self._get(token_id)
        if pos.liquidity or pos.tokens_owed0 or pos.tokens_owed1:
            raise ValueError(
                f"token_id {token_id}: Not cleared (liquidity {pos.liquidity}, owed "
                f"{pos.tokens_owed0}/{pos.tokens_owed1}); decrease and collect first"
            )
        del self.positions[token_id]
