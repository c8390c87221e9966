"""Order flow around the simulated pool: arbitrageurs that track a fair price, and noise swappers.

Runs on the asyncio loop (virtual time under `run_simulated`): once per block, Poisson noise swaps
arrive, then an arbitrageur back-runs the block. The arbitrageur swaps with the exact price limit
at which the next unit stops paying (fair price pushed out by the fee band) and only trades when
the profit at the fair price beats gas plus its minimum. Randomness comes from one seeded numpy
Generator, so a run is reproducible.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from amm.math.conversions import ratio_to_sqrt_price_x96
from amm.math.full_math import MAX_INT256
from amm.math.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from amm.sim.params import SimPoolParams
from amm.sim.pool import SimulatedPool
from amm.sim.v3_pool import SwapOutcome
from bot.core.clock import Clock

FlowKind = Literal["arbitrage", "noise"]


@dataclass(frozen=True, slots=True)
class FlowTrade:
    kind: FlowKind
    zero_for_one: bool
    amount0: int  # pool deltas: positive paid into the pool
    amount1: int
    sqrt_price_x96_after: int
    ts_ns: int


@dataclass(slots=True)
class FlowStats:
    blocks: int = 0
    arbitrage_swaps: int = 0
    noise_swaps: int = 0
    arbitrage_profit_token1: float = 0.0
    skipped_unprofitable: int = 0


class SimPoolFlow:
    def __init__(
        self,
        pool: SimulatedPool,
        fair_price: Callable[[], float],
        params: SimPoolParams,
        clock: Clock,
        *,
        rng: np.random.Generator | None = None,
        on_trade: Callable[[FlowTrade], None] | None = None,
    ) -> None:
        self.pool = pool
        self.fair_price = fair_price
        self.params = params
        self.clock = clock
        self.rng = rng if rng is not None else np.random.default_rng(params.seed)
        self.on_trade = on_trade
        self.stats = FlowStats()
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        """One block every `block_time_s` until `stop()`."""
        block_s = self.params.block_time_s
        while not self._stopped.is_set():
            try:
                await asyncio.wait_for(self._stopped.wait(), timeout=block_s)
            except TimeoutError:
                self.on_block(block_s)

    def stop(self) -> None:
        self._stopped.set()

    def on_block(self, dt_s: float) -> None:
        self.stats.blocks += 1
        n_noise = int(self.rng.poisson(self.params.noise.rate_per_s * dt_s))
        for _ in range(n_noise):
            self.noise_swap()
        if self.params.arbitrage.enabled:
            self.arbitrage()

    # ---- arbitrage -----------------------------------------------------------------------------

    def _gas_cost_token1(self, fair_human: float) -> float:
        native_price = self.params.native_price_token1 or fair_human
        return self.pool.gas_units.swap * self.pool.gas_price / 1e18 * native_price

    def arbitrage_target(self, fair_human: float) -> tuple[bool, int] | None:
        """(zero_for_one, sqrt price limit) that brings the pool to the edge of the fee band, or None."""
        d0, d1 = self.pool.token0.decimals, self.pool.token1.decimals
        sqrt_now = self.pool.core.sqrt_price_x96
        # Clearly inside the band in floats (a 1e-9 margin, far above their error): no arbitrage,
        # and no exact maths (the integer square roots below cost most of a quiet block).
        keep_f = 1.0 - self.pool.fee_pips / 1e6
        ratio = (sqrt_now / 2**96) ** 2 * 10.0 ** (d0 - d1) / fair_human
        if keep_f * (1 + 1e-9) < ratio < (1 - 1e-9) / keep_f:
            return None
        # Selling token0 pays while P·(1 − γ) > fair; buying token0 pays while P/(1 − γ) < fair:
        # the band's edges fair/(1 − γ) and fair·(1 − γ) as exact ratios of integers.
        fair_n, fair_d = fair_human.as_integer_ratio()
        keep_n, pips = 1_000_000 - self.pool.fee_pips, 1_000_000
        upper = ratio_to_sqrt_price_x96(fair_n * pips, fair_d * keep_n, d0, d1)
        if sqrt_now > upper:
            return True, max(upper, MIN_SQRT_RATIO + 1)
        lower = ratio_to_sqrt_price_x96(fair_n * keep_n, fair_d * pips, d0, d1)
        if sqrt_now < lower:
            return False, min(lower, MAX_SQRT_RATIO - 1)
        return None

    def arbitrage(self) -> SwapOutcome | None:
        fair_human = self.fair_price()
        if not (math.isfinite(fair_human) and fair_human > 0):
            return None  # no usable fair price (venue down, no book yet): arbitrageurs wait
        target = self.arbitrage_target(fair_human)
        if target is None:
            return None
        zero_for_one, limit = target
        # Exact input bounded only by the limit: the swap takes exactly what reaches the band edge.
        quote = self.pool.core.simulate_swap(zero_for_one, MAX_INT256, limit)
        d0, d1 = self.pool.token0.decimals, self.pool.token1.decimals
        fair_raw = fair_human * 10.0 ** (d1 - d0)
        profit_raw = -(quote.amount1 + quote.amount0 * fair_raw)
        profit_token1 = profit_raw / 10.0**d1
        hurdle = self._gas_cost_token1(fair_human) + self.params.arbitrage.min_profit_token1
        if profit_token1 <= hurdle:
            self.stats.skipped_unprofitable += 1
            return None
        outcome = self.pool.external_swap(zero_for_one, MAX_INT256, limit)
        self.stats.arbitrage_swaps += 1
        self.stats.arbitrage_profit_token1 += profit_token1
        self._publish("arbitrage", zero_for_one, outcome)
        return outcome

    # ---- noise ---------------------------------------------------------------------------------

    def noise_swap(self) -> SwapOutcome | None:
        noise = self.params.noise
        zero_for_one = bool(self.rng.random() < 0.5)
        size_token1 = noise.mean_size_token1 * float(
            self.rng.lognormal(-0.5 * noise.size_sigma**2, noise.size_sigma)
        )
        d0, d1 = self.pool.token0.decimals, self.pool.token1.decimals
        if zero_for_one:
            amount_in = int(size_token1 / self.pool.price() * 10.0**d0)
        else:
            amount_in = int(size_token1 * 10.0**d1)
        if amount_in <= 0:
            return None
        sqrt_now = self.pool.core.sqrt_price_x96
        move = noise.max_impact_bps / 10_000
        if zero_for_one:
            limit = max(int(sqrt_now * math.sqrt(max(1.0 - move, 1e-12))), MIN_SQRT_RATIO + 1)
            if limit >= sqrt_now:
                return None
        else:
            limit = min(int(sqrt_now * math.sqrt(1.0 + move)), MAX_SQRT_RATIO - 1)
            if limit <= sqrt_now:
                return None
        outcome = self.pool.external_swap(zero_for_one, amount_in, limit)
        self.stats.noise_swaps += 1
        self._publish("noise", zero_for_one, outcome)
        return outcome

    def _publish(self, kind: FlowKind, zero_for_one: bool, outcome: SwapOutcome) -> None:
        if self.on_trade is not None:
            trade = FlowTrade(
                kind,
                zero_for_one,
                outcome.amount0,
                outcome.amount1,
                outcome.sqrt_price_x96,
                self.clock.now_ns(),
            )
            self.on_trade(trade)
