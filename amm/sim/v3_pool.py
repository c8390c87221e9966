"""In-memory Uniswap v3 pool core: the state and the swap / mint / burn / collect of UniswapV3Pool.

Pure and synchronous; no oracle, no protocol fee (the pools we simulate have feeProtocol = 0).
Integers match the contract step for step: the same step boundaries (tick bitmap words), the same
rounding, the same fee growth and tick crossing, so a chain replay of the same calls agrees.
Every call validates before it writes: a call that would revert on chain raises ValueError and
leaves the pool exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from amm.math.full_math import MAX_INT256, MAX_UINT128, Q256, add_delta, check_uint, to_int128, to_int256
from amm.math.position_math import fee_growth_delta, fees_earned, get_fee_growth_inside
from amm.math.sqrt_price_math import get_amount0_delta_signed, get_amount1_delta_signed
from amm.math.swap_math import compute_swap_step
from amm.math.tick_bitmap import TickBitmap
from amm.math.tick_math import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)
from amm.ports import PoolState


@dataclass(slots=True)
class TickInfo:
    liquidity_gross: int = 0
    liquidity_net: int = 0
    fee_growth_outside0_x128: int = 0
    fee_growth_outside1_x128: int = 0


@dataclass(slots=True)
class PoolPosition:
    """The pool's record of one (owner, tick_lower, tick_upper) position."""

    liquidity: int = 0
    fee_growth_inside0_last_x128: int = 0
    fee_growth_inside1_last_x128: int = 0
    tokens_owed0: int = 0
    tokens_owed1: int = 0


@dataclass(frozen=True, slots=True)
class SwapOutcome:
    """Pool deltas (positive: paid into the pool, negative: paid out) and the state after the swap."""

    amount0: int
    amount1: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee_growth_global0_x128: int
    fee_growth_global1_x128: int
    fee_amount: int
    crossed_ticks: tuple[int, ...] = field(default=())


def max_liquidity_per_tick(tick_spacing: int) -> int:
    """Tick.tickSpacingToMaxLiquidityPerTick (Solidity division truncates toward zero)."""
    max_tick = MAX_TICK // tick_spacing * tick_spacing
    num_ticks = 2 * max_tick // tick_spacing + 1
    return MAX_UINT128 // num_ticks


def check_ticks(tick_lower: int, tick_upper: int) -> None:
    if not (tick_lower < tick_upper and tick_lower >= MIN_TICK and tick_upper <= MAX_TICK):
        raise ValueError(f"invalid range [{tick_lower}, {tick_upper}) (CT)")


class V3Pool:
    """One pool: slot0, liquidity, fee growth, initialized ticks, positions and token reserves."""

    def __init__(self, fee_pips: int, tick_spacing: int, sqrt_price_x96: int) -> None:
        if tick_spacing <= 0:
            raise ValueError(f"tick_spacing must be positive, got {tick_spacing}")
        if not 0 <= fee_pips < 1_000_000:
            raise ValueError(f"fee_pips must be in [0, 1e6), got {fee_pips}")
        self.fee_pips = fee_pips
        self.tick_spacing = tick_spacing
        self.max_liquidity_per_tick = max_liquidity_per_tick(tick_spacing)
        self.sqrt_price_x96 = sqrt_price_x96
        self.tick = get_tick_at_sqrt_ratio(sqrt_price_x96)
        self.liquidity = 0
        self.fee_growth_global0_x128 = 0
        self.fee_growth_global1_x128 = 0
        self.ticks: dict[int, TickInfo] = {}
        self.bitmap = TickBitmap(tick_spacing)
        self.positions: dict[tuple[str, int, int], PoolPosition] = {}
        self.balance0 = 0
        self.balance1 = 0

    # ---- reads ---------------------------------------------------------------------------------

    def state(self) -> PoolState:
        return PoolState(
            self.sqrt_price_x96,
            self.tick,
            self.liquidity,
            self.fee_growth_global0_x128,
            self.fee_growth_global1_x128,
        )

    def position(self, owner: str, tick_lower: int, tick_upper: int) -> PoolPosition:
        return replace(self.positions.get((owner, tick_lower, tick_upper), PoolPosition()))

    def fee_growth_inside(self, tick_lower: int, tick_upper: int) -> tuple[int, int]:
        return self._fee_growth_inside(
            tick_lower,
            tick_upper,
            self.ticks.get(tick_lower, TickInfo()),
            self.ticks.get(tick_upper, TickInfo()),
        )

    def _fee_growth_inside(
        self, tick_lower: int, tick_upper: int, lower: TickInfo, upper: TickInfo
    ) -> tuple[int, int]:
        inside0 = get_fee_growth_inside(
            tick_lower,
            tick_upper,
            self.tick,
            self.fee_growth_global0_x128,
            lower.fee_growth_outside0_x128,
            upper.fee_growth_outside0_x128,
        )
        inside1 = get_fee_growth_inside(
            tick_lower,
            tick_upper,
            self.tick,
            self.fee_growth_global1_x128,
            lower.fee_growth_outside1_x128,
            upper.fee_growth_outside1_x128,
        )
        return inside0, inside1

    # ---- liquidity ------------------------------------------------------------------------------

    def mint(self, owner: str, tick_lower: int, tick_upper: int, amount: int) -> tuple[int, int]:
        """Add `amount` liquidity; returns the token amounts owed to the pool (rounded up), now paid."""
        check_uint(amount, 128, "amount")
        if amount == 0:
            raise ValueError("mint amount must be positive")
        amount0, amount1 = self._modify_position(owner, tick_lower, tick_upper, to_int128(amount))
        self.balance0 += amount0
        self.balance1 += amount1
        return amount0, amount1

    def burn(self, owner: str, tick_lower: int, tick_upper: int, amount: int) -> tuple[int, int]:
        """Remove `amount` liquidity (0 pokes fees); the released amounts (rounded down) become owed."""
        check_uint(amount, 128, "amount")
        amount0, amount1 = self._modify_position(owner, tick_lower, tick_upper, -to_int128(amount))
        amount0, amount1 = -amount0, -amount1
        if amount0 > 0 or amount1 > 0:
            pos = self.positions[(owner, tick_lower, tick_upper)]
            pos.tokens_owed0 = (pos.tokens_owed0 + amount0) & MAX_UINT128
            pos.tokens_owed1 = (pos.tokens_owed1 + amount1) & MAX_UINT128
        return amount0, amount1

    def collect(
        self, owner: str, tick_lower: int, tick_upper: int, amount0_requested: int, amount1_requested: int
    ) -> tuple[int, int]:
        """Pay out owed tokens, at most the requested amounts."""
        pos = self.positions.get((owner, tick_lower, tick_upper))
        if pos is None:
            return 0, 0
        amount0 = min(check_uint(amount0_requested, 128, "amount0_requested"), pos.tokens_owed0)
        amount1 = min(check_uint(amount1_requested, 128, "amount1_requested"), pos.tokens_owed1)
        pos.tokens_owed0 -= amount0
        pos.tokens_owed1 -= amount1
        self.balance0 -= amount0
        self.balance1 -= amount1
        return amount0, amount1

    def liquidity_delta_amounts(
        self, tick_lower: int, tick_upper: int, liquidity_delta: int
    ) -> tuple[int, int]:
        """Signed token amounts a liquidity change moves now: owed to the pool (> 0, rounded up) when
        adding, paid out (< 0, rounded down) when removing. Pure: lets callers check before minting."""
        check_ticks(tick_lower, tick_upper)
        if liquidity_delta == 0:
            return 0, 0
        sqrt_lower = get_sqrt_ratio_at_tick(tick_lower)
        sqrt_upper = get_sqrt_ratio_at_tick(tick_upper)
        if self.tick < tick_lower:
            return get_amount0_delta_signed(sqrt_lower, sqrt_upper, liquidity_delta), 0
        if self.tick < tick_upper:
            return (
                get_amount0_delta_signed(self.sqrt_price_x96, sqrt_upper, liquidity_delta),
                get_amount1_delta_signed(sqrt_lower, self.sqrt_price_x96, liquidity_delta),
            )
        return 0, get_amount1_delta_signed(sqrt_lower, sqrt_upper, liquidity_delta)

    def _updated_tick(self, tick: int, liquidity_delta: int, upper: bool) -> tuple[TickInfo, bool]:
        """Tick.update on a copy: the new tick info and whether it flipped (in)to initialized."""
        info = replace(self.ticks.get(tick, TickInfo()))
        gross_before = info.liquidity_gross
        gross_after = add_delta(gross_before, liquidity_delta)
        if gross_after > self.max_liquidity_per_tick:
            raise ValueError(f"liquidity at tick {tick} would exceed the maximum per tick (LO)")
        flipped = (gross_after == 0) != (gross_before == 0)
        if gross_before == 0 and tick <= self.tick:
            # By convention all growth before initialization happened below the tick.
            info.fee_growth_outside0_x128 = self.fee_growth_global0_x128
            info.fee_growth_outside1_x128 = self.fee_growth_global1_x128
        info.liquidity_gross = gross_after
        net = info.liquidity_net - liquidity_delta if upper else info.liquidity_net + liquidity_delta
        info.liquidity_net = to_int128(net)
        if flipped and tick % self.tick_spacing:
            raise ValueError(f"tick {tick} is not a multiple of the tick spacing {self.tick_spacing}")
        return info, flipped

    def _modify_position(
        self, owner: str, tick_lower: int, tick_upper: int, liquidity_delta: int
    ) -> tuple[int, int]:
        check_ticks(tick_lower, tick_upper)
        key = (owner, tick_lower, tick_upper)
        lower = self.ticks.get(tick_lower, TickInfo())
        upper = self.ticks.get(tick_upper, TickInfo())
        flipped_lower = flipped_upper = False
        if liquidity_delta != 0:
            lower, flipped_lower = self._updated_tick(tick_lower, liquidity_delta, upper=False)
            upper, flipped_upper = self._updated_tick(tick_upper, liquidity_delta, upper=True)
        inside0, inside1 = self._fee_growth_inside(tick_lower, tick_upper, lower, upper)

        pos = self.positions.get(key, PoolPosition())
        if liquidity_delta == 0:
            if pos.liquidity == 0:
                raise ValueError(f"position {key} has no liquidity to poke (NP)")
            liquidity_next = pos.liquidity
        else:
            liquidity_next = add_delta(pos.liquidity, liquidity_delta)
        owed0 = fees_earned(inside0, pos.fee_growth_inside0_last_x128, pos.liquidity)
        owed1 = fees_earned(inside1, pos.fee_growth_inside1_last_x128, pos.liquidity)
        new_pos = PoolPosition(
            liquidity_next,
            inside0,
            inside1,
            (pos.tokens_owed0 + owed0) & MAX_UINT128,
            (pos.tokens_owed1 + owed1) & MAX_UINT128,
        )

        amount0, amount1 = self.liquidity_delta_amounts(tick_lower, tick_upper, liquidity_delta)
        pool_liquidity = self.liquidity
        if liquidity_delta != 0 and tick_lower <= self.tick < tick_upper:
            pool_liquidity = add_delta(self.liquidity, liquidity_delta)

        # Everything validated: commit.
        self.positions[key] = new_pos
        self.liquidity = pool_liquidity
        if liquidity_delta != 0:
            for tick, info, flipped in (
                (tick_lower, lower, flipped_lower),
                (tick_upper, upper, flipped_upper),
            ):
                if flipped:
                    self.bitmap.flip_tick(tick)
                if liquidity_delta < 0 and flipped:
                    self.ticks.pop(tick, None)
                else:
                    self.ticks[tick] = info
        return amount0, amount1

    # ---- swaps ----------------------------------------------------------------------------------

    def swap(self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int) -> SwapOutcome:
        """UniswapV3Pool.swap: exact input when amount_specified > 0, exact output when < 0.

        The caller pays the positive delta into the pool and receives the negative one.
        """
        outcome, crossings = self._run_swap(zero_for_one, amount_specified, sqrt_price_limit_x96)
        for tick, global0, global1 in crossings:
            info = self.ticks[tick]
            info.fee_growth_outside0_x128 = (global0 - info.fee_growth_outside0_x128) % Q256
            info.fee_growth_outside1_x128 = (global1 - info.fee_growth_outside1_x128) % Q256
        self.sqrt_price_x96 = outcome.sqrt_price_x96
        self.tick = outcome.tick
        self.liquidity = outcome.liquidity
        self.fee_growth_global0_x128 = outcome.fee_growth_global0_x128
        self.fee_growth_global1_x128 = outcome.fee_growth_global1_x128
        self.balance0 += outcome.amount0
        self.balance1 += outcome.amount1
        return outcome

    def simulate_swap(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int
    ) -> SwapOutcome:
        """The same swap without changing any state (what QuoterV2 answers)."""
        return self._run_swap(zero_for_one, amount_specified, sqrt_price_limit_x96)[0]

    def _check_swap_args(self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int) -> None:
        if not -MAX_INT256 - 1 <= amount_specified <= MAX_INT256:
            raise ValueError(f"amount_specified must fit int256, got {amount_specified}")
        # Solidity precedence: `amount != 0 && zeroForOne ? A : B`, so a zero amount is checked as B.
        if amount_specified != 0 and zero_for_one:
            if not MIN_SQRT_RATIO < sqrt_price_limit_x96 < self.sqrt_price_x96:
                raise ValueError(
                    f"sqrt_price_limit_x96 {sqrt_price_limit_x96} must be in (MIN_SQRT_RATIO, current "
                    f"{self.sqrt_price_x96}) for a zero_for_one swap (SPL)"
                )
        elif not self.sqrt_price_x96 < sqrt_price_limit_x96 < MAX_SQRT_RATIO:
            raise ValueError(
                f"sqrt_price_limit_x96 {sqrt_price_limit_x96} must be in (current {self.sqrt_price_x96}, "
                "MAX_SQRT_RATIO) for a one_for_zero swap (SPL)"
            )

    def _run_swap(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int
    ) -> tuple[SwapOutcome, list[tuple[int, int, int]]]:
        """The swap loop on local state; returns the outcome and the (tick, global0, global1) crossings."""
        self._check_swap_args(zero_for_one, amount_specified, sqrt_price_limit_x96)
        exact_input = amount_specified > 0
        remaining = amount_specified
        calculated = 0
        sqrt_price = self.sqrt_price_x96
        tick = self.tick
        liquidity = self.liquidity
        fee_growth_global = self.fee_growth_global0_x128 if zero_for_one else self.fee_growth_global1_x128
        total_fee = 0
        crossings: list[tuple[int, int, int]] = []

        while remaining != 0 and sqrt_price != sqrt_price_limit_x96:
            sqrt_start = sqrt_price
            tick_next, initialized = self.bitmap.next_initialized_tick_within_one_word(tick, zero_for_one)
            tick_next = min(max(tick_next, MIN_TICK), MAX_TICK)
            sqrt_next = get_sqrt_ratio_at_tick(tick_next)
            if zero_for_one:
                target = sqrt_price_limit_x96 if sqrt_next < sqrt_price_limit_x96 else sqrt_next
            else:
                target = sqrt_price_limit_x96 if sqrt_next > sqrt_price_limit_x96 else sqrt_next
            step = compute_swap_step(sqrt_price, target, liquidity, remaining, self.fee_pips)
            sqrt_price = step.sqrt_price_next_x96
            if exact_input:
                remaining -= to_int256(step.amount_in + step.fee_amount)
                calculated -= to_int256(step.amount_out)
            else:
                remaining += to_int256(step.amount_out)
                calculated += to_int256(step.amount_in + step.fee_amount)
            total_fee += step.fee_amount
            fee_growth_global = (fee_growth_global + fee_growth_delta(step.fee_amount, liquidity)) % Q256

            if sqrt_price == sqrt_next:
                if initialized:
                    if zero_for_one:
                        crossings.append((tick_next, fee_growth_global, self.fee_growth_global1_x128))
                        liquidity = add_delta(liquidity, -self.ticks[tick_next].liquidity_net)
                    else:
                        crossings.append((tick_next, self.fee_growth_global0_x128, fee_growth_global))
                        liquidity = add_delta(liquidity, self.ticks[tick_next].liquidity_net)
                tick = tick_next - 1 if zero_for_one else tick_next
            elif sqrt_price != sqrt_start:
                # Unless we stopped on a lower tick boundary without moving, recompute the tick.
                tick = get_tick_at_sqrt_ratio(sqrt_price)

        if zero_for_one == exact_input:
            amount0, amount1 = amount_specified - remaining, calculated
        else:
            amount0, amount1 = calculated, amount_specified - remaining
        global0 = fee_growth_global if zero_for_one else self.fee_growth_global0_x128
        global1 = self.fee_growth_global1_x128 if zero_for_one else fee_growth_global
        outcome = SwapOutcome(
            amount0,
            amount1,
            sqrt_price,
            tick,
            liquidity,
            global0,
            global1,
            total_fee,
            tuple(t for t, _, _ in crossings),
        )
        return outcome, crossings
