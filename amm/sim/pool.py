"""SimulatedPool: the AmmPool port over the exact in-memory pool, with a wallet and gas accounting.

Behaves like the chain client through the periphery: mint / increase / decrease / collect / burn
follow NonfungiblePositionManager, swaps follow SwapRouter.exactInputSingle with no price limit,
quotes follow QuoterV2. Each operation is charged `gas units × gas price` (reported as
`gas_cost_wei` and summed in `gas_spent_wei`; the gas token itself is not in the wallet).
Checks happen before any state changes, so a refused call leaves pool and wallet untouched.
"""

from __future__ import annotations

from decimal import Decimal

from amm.math.conversions import price_range_to_ticks, price_to_sqrt_price_x96, tick_spacing_for_fee
from amm.math.full_math import MAX_INT256, MAX_UINT128
from amm.math.liquidity_amounts import get_amounts_for_liquidity
from amm.math.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO, get_sqrt_ratio_at_tick
from amm.ports import Collected, LiquidityChange, PoolState, PositionInfo, SwapHistory, SwapResult, TokenInfo
from amm.sim.params import GasUnits, SimPoolParams
from amm.sim.position_manager import PositionManager
from amm.sim.swap_log import SwapLog
from amm.sim.v3_pool import SwapOutcome, V3Pool
from bot.core.clock import Clock

BACKGROUND_OWNER = "background_lps"


def _to_raw(amount_human: float, decimals: int) -> int:
    return int(Decimal(str(amount_human)).scaleb(decimals))


class SimulatedPool:
    def __init__(
        self,
        token0: TokenInfo,
        token1: TokenInfo,
        fee_pips: int,
        sqrt_price_x96: int,
        *,
        clock: Clock,
        gas_units: GasUnits | None = None,
        gas_price_wei: int = 0,
        wallet0: int = 0,
        wallet1: int = 0,
    ) -> None:
        if gas_price_wei < 0 or wallet0 < 0 or wallet1 < 0:
            raise ValueError("gas_price_wei and wallet balances must be non-negative")
        self.token0 = token0
        self.token1 = token1
        self.fee_pips = fee_pips
        self.tick_spacing = tick_spacing_for_fee(fee_pips)
        self.core = V3Pool(fee_pips, self.tick_spacing, sqrt_price_x96)
        self.manager = PositionManager(self.core)
        self.gas_units = gas_units or GasUnits()
        self.gas_price = gas_price_wei
        self.wallet0 = wallet0
        self.wallet1 = wallet1
        self.gas_spent_wei = 0
        self.swap_log = SwapLog(clock, (token0.decimals, token1.decimals))

    @classmethod
    def from_params(cls, params: SimPoolParams, clock: Clock) -> SimulatedPool:
        d0, d1 = params.token0_decimals, params.token1_decimals
        pool = cls(
            TokenInfo(f"sim:{params.token0_symbol}", params.token0_symbol, d0),
            TokenInfo(f"sim:{params.token1_symbol}", params.token1_symbol, d1),
            params.fee_pips,
            price_to_sqrt_price_x96(params.initial_price, d0, d1),
            clock=clock,
            gas_units=params.gas_units,
            gas_price_wei=params.gas_price_wei,
            wallet0=_to_raw(params.wallet_token0, d0),
            wallet1=_to_raw(params.wallet_token1, d1),
        )
        for rng in params.background:
            low, high = price_range_to_ticks(rng.lower_price, rng.upper_price, d0, d1, pool.tick_spacing)
            pool.add_background_liquidity(low, high, value_token1_raw=_to_raw(rng.value_token1, d1))
        return pool

    # ---- outside actors (background LPs, arbitrageurs, noise traders) ----------------------------

    def add_background_liquidity(self, tick_lower: int, tick_upper: int, *, value_token1_raw: int) -> int:
        """Mint other LPs' liquidity worth about `value_token1_raw` at the current price; returns L."""
        sqrt_p = self.core.sqrt_price_x96
        sa, sb = get_sqrt_ratio_at_tick(tick_lower), get_sqrt_ratio_at_tick(tick_upper)
        probe = 10**18
        amount0, amount1 = get_amounts_for_liquidity(sqrt_p, sa, sb, probe)
        value_per_probe = amount0 * sqrt_p * sqrt_p / 2**192 + amount1
        if value_per_probe <= 0:
            raise ValueError(f"range [{tick_lower}, {tick_upper}) holds no value at the current price")
        liquidity = min(int(value_token1_raw * probe / value_per_probe), self.core.max_liquidity_per_tick)
        if liquidity <= 0:
            raise ValueError("background liquidity value too small for one unit of liquidity")
        self.core.mint(BACKGROUND_OWNER, tick_lower, tick_upper, liquidity)
        return liquidity

    def external_swap(
        self, zero_for_one: bool, amount_specified: int, sqrt_price_limit_x96: int
    ) -> SwapOutcome:
        """A swap by someone else (no wallet, no gas on our books)."""
        outcome = self.core.swap(zero_for_one, amount_specified, sqrt_price_limit_x96)
        self.swap_log.record(zero_for_one, outcome)
        return outcome

    # ---- the AmmPool port ------------------------------------------------------------------------

    def _gas(self, units: int) -> int:
        return units * self.gas_price

    def _charge(self, units: int) -> int:
        cost = self._gas(units)
        self.gas_spent_wei += cost
        return cost

    async def read_state(self) -> PoolState:
        return self.core.state()

    async def swap_history(self, since_ns: int) -> SwapHistory:
        """The swaps since `since_ns` this pool has seen (it has no past before it was built)."""
        return self.swap_log.history(since_ns)

    async def gas_price_wei(self) -> int:
        return self.gas_price

    async def wallet_balances(self) -> tuple[int, int]:
        return self.wallet0, self.wallet1

    def _simulate_exact_input(
        self, zero_for_one: bool, amount_in: int, sqrt_price_limit_x96: int = 0
    ) -> tuple[SwapOutcome, int]:
        if amount_in <= 0:
            raise ValueError(f"amount_in must be positive, got {amount_in}")
        if amount_in > MAX_INT256:
            raise ValueError("amount_in must fit int256")
        # The router's default limit when none is given: just inside the representable range.
        limit = sqrt_price_limit_x96 or (MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1)
        outcome = self.core.simulate_swap(zero_for_one, amount_in, limit)
        amount_out = -(outcome.amount1 if zero_for_one else outcome.amount0)
        return outcome, amount_out

    def _swap_result(
        self, zero_for_one: bool, outcome: SwapOutcome, amount_out: int, gas_cost: int
    ) -> SwapResult:
        amount_in = outcome.amount0 if zero_for_one else outcome.amount1
        return SwapResult(amount_in, amount_out, outcome.sqrt_price_x96, outcome.tick, gas_cost)

    async def quote_exact_input(
        self, zero_for_one: bool, amount_in: int, sqrt_price_limit_x96: int = 0
    ) -> SwapResult:
        outcome, amount_out = self._simulate_exact_input(zero_for_one, amount_in, sqrt_price_limit_x96)
        return self._swap_result(zero_for_one, outcome, amount_out, self._gas(self.gas_units.swap))

    async def swap_exact_input(
        self, zero_for_one: bool, amount_in: int, amount_out_min: int, sqrt_price_limit_x96: int = 0
    ) -> SwapResult:
        outcome, amount_out = self._simulate_exact_input(zero_for_one, amount_in, sqrt_price_limit_x96)
        if amount_out < amount_out_min:
            raise ValueError(f"Too little received: {amount_out} < amount_out_min {amount_out_min}")
        balance = self.wallet0 if zero_for_one else self.wallet1
        paid = outcome.amount0 if zero_for_one else outcome.amount1
        if paid > balance:
            raise ValueError(f"wallet holds {balance} of the input token, swap needs {paid}")
        limit = sqrt_price_limit_x96 or (MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1)
        outcome = self.core.swap(zero_for_one, amount_in, limit)
        self.swap_log.record(zero_for_one, outcome)
        self.wallet0 -= outcome.amount0
        self.wallet1 -= outcome.amount1
        return self._swap_result(zero_for_one, outcome, amount_out, self._charge(self.gas_units.swap))

    def _check_can_pay(self, amount0: int, amount1: int) -> None:
        if amount0 > self.wallet0 or amount1 > self.wallet1:
            raise ValueError(f"wallet ({self.wallet0}, {self.wallet1}) cannot pay ({amount0}, {amount1})")

    async def mint(
        self,
        tick_lower: int,
        tick_upper: int,
        amount0_desired: int,
        amount1_desired: int,
        amount0_min: int,
        amount1_min: int,
    ) -> LiquidityChange:
        _, amount0, amount1 = self.manager.quote_add(tick_lower, tick_upper, amount0_desired, amount1_desired)
        self._check_can_pay(amount0, amount1)
        token_id, liquidity, amount0, amount1 = self.manager.mint(
            tick_lower, tick_upper, amount0_desired, amount1_desired, amount0_min, amount1_min
        )
        self.wallet0 -= amount0
        self.wallet1 -= amount1
        return LiquidityChange(token_id, liquidity, amount0, amount1, self._charge(self.gas_units.mint))

    async def increase_liquidity(
        self, token_id: int, amount0_desired: int, amount1_desired: int, amount0_min: int, amount1_min: int
    ) -> LiquidityChange:
        pos = self.manager.position(token_id)
        _, amount0, amount1 = self.manager.quote_add(
            pos.tick_lower, pos.tick_upper, amount0_desired, amount1_desired
        )
        self._check_can_pay(amount0, amount1)
        liquidity, amount0, amount1 = self.manager.increase_liquidity(
            token_id, amount0_desired, amount1_desired, amount0_min, amount1_min
        )
        self.wallet0 -= amount0
        self.wallet1 -= amount1
        return LiquidityChange(
            token_id, liquidity, amount0, amount1, self._charge(self.gas_units.increase_liquidity)
        )

    async def decrease_liquidity(
        self, token_id: int, liquidity: int, amount0_min: int, amount1_min: int
    ) -> LiquidityChange:
        """Released amounts join tokens owed, as on chain: collect moves them to the wallet."""
        amount0, amount1 = self.manager.decrease_liquidity(token_id, liquidity, amount0_min, amount1_min)
        return LiquidityChange(
            token_id, liquidity, amount0, amount1, self._charge(self.gas_units.decrease_liquidity)
        )

    async def pending_fees(self, token_id: int) -> tuple[int, int]:
        return self.manager.pending(token_id)

    async def collect(self, token_id: int) -> Collected:
        amount0, amount1 = self.manager.collect(token_id, MAX_UINT128, MAX_UINT128)
        self.wallet0 += amount0
        self.wallet1 += amount1
        return Collected(token_id, amount0, amount1, self._charge(self.gas_units.collect))

    async def burn(self, token_id: int) -> int:
        self.manager.burn(token_id)
        return self._charge(self.gas_units.burn)

    async def position(self, token_id: int) -> PositionInfo:
        pos = self.manager.position(token_id)
        return PositionInfo(
            token_id, pos.tick_lower, pos.tick_upper, pos.liquidity, pos.tokens_owed0, pos.tokens_owed1
        )

    # ---- helpers for the flow and for reports -----------------------------------------------------

    def price(self) -> float:
        """Current human price (token1 per token0)."""
        sqrt_p = self.core.sqrt_price_x96 / 2**96
        return sqrt_p * sqrt_p * 10.0 ** (self.token0.decimals - self.token1.decimals)
