"""A Charm Alpha Vault-style rebalancer, per its published rules, on the AmmPool port.

The rule implemented (Charm's PassiveStrategy.sol, charmfinance/alpha-vaults-contracts, and
learn.charm.fi "How the strategy works"): with X the pool's tick floored to the tick spacing TS,
  1. a base order over [X − B, X + TS + B] takes as much of the vault's tokens as it can;
  2. the leftover (one token, mostly) goes into a single-sided limit order, the bid
     [X − L, X] or the ask [X + TS, X + TS + L], whichever gets more liquidity (AlphaVault's
     choice), which sells the surplus back toward 50:50 without a swap in the pool;
  3. `rebalance()` withdraws both and places them again every `period` (the docs: every 48 h,
     "decreased if the strategy performs well"; we use 12 h so it acts within a 1-day run), if the
     tick moved at least `minTickMove` (0 here). No swaps, no hedge of its own.
B = 3,600 and L = 1,200 ticks are the thresholds of Charm's mainnet ETH vault deployment
(scripts/deploy_mainnet.py). The TWAP-deviation guard is left out: nobody manipulates this pool.
Gas, fees and LVR go through the bot's `PoolLedger` and `LvrMeter`, as for every strategy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from amm.attribution import LvrMeter, human_liquidity
from amm.math.conversions import floor_tick, tick_to_price
from amm.math.liquidity_amounts import get_liquidity_for_amounts
from amm.math.tick_math import get_sqrt_ratio_at_tick
from amm.sim.pool import SimulatedPool
from benchmarks.lp.runners import LpFigures, pending_fees, position_amounts, wallet_human
from bot.core.clock import NS_PER_S, Clock
from bot.kernel.lp_store import LpStore
from strategies.lp.ledger import PoolLedger
from strategies.lp.position import LpTotals

Ticks = tuple[int, int]


@dataclass(frozen=True, slots=True)
class CharmParams:
    base_threshold_ticks: int = 3600
    limit_threshold_ticks: int = 1200
    period_s: float = 43_200.0
    min_tick_move: int = 0


@dataclass(frozen=True, slots=True)
class CharmRanges:
    base: Ticks
    bid: Ticks  # token1 only: below the price
    ask: Ticks  # token0 only: above the price


def charm_ranges(tick: int, tick_spacing: int, base_ticks: int, limit_ticks: int) -> CharmRanges:
    """The three candidate ranges around the pool tick (thresholds are multiples of the spacing)."""
    for name, value in (("base_threshold_ticks", base_ticks), ("limit_threshold_ticks", limit_ticks)):
        if value <= 0 or value % tick_spacing:
            raise ValueError(f"{name} must be a positive multiple of the tick spacing {tick_spacing}")
    floor = floor_tick(tick, tick_spacing)
    ceil = floor + tick_spacing
    return CharmRanges(
        (floor - base_ticks, ceil + base_ticks), (floor - limit_ticks, floor), (ceil, ceil + limit_ticks)
    )


@dataclass(slots=True)
class CharmOrder:
    token_id: int
    ticks: Ticks
    liquidity_raw: int
    lvr: LvrMeter


class CharmVault:
    """Base + limit order, rebalanced on a schedule (see the module docstring)."""

    def __init__(
        self,
        name: str,
        pool: SimulatedPool,
        fair: Callable[[], float],
        clock: Clock,
        store: LpStore,
        params: CharmParams,
    ) -> None:
        self.pool, self.fair, self.clock, self.params = pool, fair, clock, params
        self.d0, self.d1 = pool.token0.decimals, pool.token1.decimals
        self.totals = LpTotals()
        self.ledger = PoolLedger(name, "uni", store, (self.d0, self.d1), None, self.totals)
        self.orders: list[CharmOrder] = []
        self.last_rebalance_ns: int | None = None
        self.last_tick: int | None = None
        self.rebalances = 0
        self.owed0 = 0.0

    async def round(self) -> None:
        fair, now = self.fair(), self.clock.now_ns()
        for order in self.orders:
            order.lvr.observe(fair, now, 0.0)
        due = (
            self.last_rebalance_ns is None or now - self.last_rebalance_ns >= self.params.period_s * NS_PER_S
        )
        tick = (await self.pool.read_state()).tick
        moved = self.last_tick is None or abs(tick - self.last_tick) >= self.params.min_tick_move
        if due and moved:
            await self.rebalance(fair, now, tick)
        self.owed0 = self._holdings(True)[2]  # as ManagedLp: uncollected token0, once a round

    async def rebalance(self, fair: float, now_ns: int, tick: int) -> None:
        for order in self.orders:
            await self._withdraw(order, fair, now_ns)
        self.orders = []
        p = self.params
        ranges = charm_ranges(tick, self.pool.tick_spacing, p.base_threshold_ticks, p.limit_threshold_ticks)
        await self._place(ranges.base, fair, now_ns)
        w0, w1 = await self.pool.wallet_balances()
        sqrt_p = self.pool.core.sqrt_price_x96

        def liquidity(ticks: Ticks) -> int:
            sa, sb = get_sqrt_ratio_at_tick(ticks[0]), get_sqrt_ratio_at_tick(ticks[1])
            return get_liquidity_for_amounts(sqrt_p, sa, sb, w0, w1)

        limit = ranges.bid if liquidity(ranges.bid) > liquidity(ranges.ask) else ranges.ask
        await self._place(limit, fair, now_ns)
        self.last_rebalance_ns, self.last_tick = now_ns, tick
        self.rebalances += 1
        self.totals.actions["rebalance"] = self.rebalances

    async def _place(self, ticks: Ticks, fair: float, now_ns: int) -> None:
        w0, w1 = await self.pool.wallet_balances()
        # The mint rounds what it takes up: a hair under the wallet keeps it payable.
        try:
            minted = await self.pool.mint(*ticks, int(w0 * (1 - 1e-6)), int(w1 * (1 - 1e-6)), 0, 0)
        except ValueError:
            return  # dust left over: no limit order this time
        self.ledger.gas("mint", minted.gas_cost_wei, fair, now_ns)
        lower, upper = (tick_to_price(t, self.d0, self.d1) for t in ticks)
        meter = LvrMeter(human_liquidity(minted.liquidity, self.d0, self.d1), lower, upper, fair, now_ns)
        self.orders.append(CharmOrder(minted.token_id, ticks, minted.liquidity, meter))

    async def _withdraw(self, order: CharmOrder, fair: float, now_ns: int) -> None:
        released = await self.pool.decrease_liquidity(order.token_id, order.liquidity_raw, 0, 0)
        self.ledger.gas("decrease_liquidity", released.gas_cost_wei, fair, now_ns)
        collected = await self.pool.collect(order.token_id)
        self.ledger.gas("collect", collected.gas_cost_wei, fair, now_ns)
        fee0, fee1 = collected.amount0 - released.amount0, collected.amount1 - released.amount1
        self.ledger.fees(order.token_id, now_ns, fee0, fee1, fair)
        self.ledger.gas("burn", await self.pool.burn(order.token_id), fair, now_ns)
        order.lvr.observe(fair, now_ns, 0.0)
        self.totals.lvr_token1 += order.lvr.realized_token1

    def _holdings(self, with_fees: bool) -> tuple[float, float, float, float]:
        x = y = f0 = f1 = 0.0
        for o in self.orders:
            ox, oy = position_amounts(self.pool, o.ticks, o.liquidity_raw)
            of0, of1 = pending_fees(self.pool, o.token_id) if with_fees else (0.0, 0.0)
            x, y, f0, f1 = x + ox, y + oy, f0 + of0, f1 + of1
        return x, y, f0, f1

    def token0(self) -> float:
        return wallet_human(self.pool)[0] + self._holdings(False)[0] + self.owed0

    def figures(self, fair: float, now_ns: int, sigma_annual: float) -> LpFigures:
        lvr = self.totals.lvr_token1
        for order in self.orders:
            order.lvr.observe(fair, now_ns, sigma_annual)
            lvr += order.lvr.realized_token1
        x, y, f0, f1 = self._holdings(True)
        w0, w1 = wallet_human(self.pool)
        return LpFigures(
            fees_token1=self.totals.fees_token1 + f0 * fair + f1,
            lvr_token1=lvr,
            gas_token1=self.totals.gas_token1,
            swap_cost_token1=0.0,
            value_token1=(w0 + x + f0) * fair + w1 + y + f1,
            actions=self.rebalances,
        )
