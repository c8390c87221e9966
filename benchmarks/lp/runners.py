"""LP strategies as the benchmark drives them: one round per check, token0 for the hedge, and the
closing figures from the LP accounting the bot keeps (`LpTotals`, `LvrMeter`, `PoolLedger`).

`ManagedLp` is the bot's own runner, `PoolLpManager.step(policy)`: ours with
`strategies.lp.rules.decide`, the full-range and fixed-width baselines with the policies below
(every open, close, swap and compound goes through the same lifecycle and gas accounting).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from amm.attribution import exact_position_amounts
from amm.sim.pool import SimulatedPool
from bot.core.clock import NS_PER_S, Clock
from bot.kernel.lp_store import LpStore
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import Policy, PoolLpManager
from strategies.lp.rules import Action, Decision, PoolView, Rules, decide

FULL_RANGE_HALF_WIDTH = 60.0  # e^±60 around the price: the usable full range to within a tick
FIXED_MIN_INTERVAL_S = 600.0  # the fixed-width baseline recentres at most this often


@dataclass(frozen=True, slots=True)
class LpFigures:
    """One strategy's LP side at the end of a run, token1 at the final fair price."""

    fees_token1: float  # collected (valued when collected) + uncollected
    lvr_token1: float  # realised, closed positions + open ones
    gas_token1: float
    swap_cost_token1: float
    value_token1: float  # wallet + positions + uncollected fees (gas is paid outside the wallet)
    actions: int


class LpRunner(Protocol):
    """What the benchmark loop needs of a strategy."""

    async def round(self) -> None: ...

    def token0(self) -> float:
        """Position token0 + its uncollected token0 fees + idle wallet token0 (what is hedged)."""
        ...

    def figures(self, fair: float, now_ns: int, sigma_annual: float) -> LpFigures: ...


def wallet_human(pool: SimulatedPool) -> tuple[float, float]:
    return pool.wallet0 / 10.0**pool.token0.decimals, pool.wallet1 / 10.0**pool.token1.decimals


def position_amounts(pool: SimulatedPool, ticks: tuple[int, int], liquidity_raw: int) -> tuple[float, float]:
    """(token0, token1) a position holds at the pool price (human)."""
    d0, d1 = pool.token0.decimals, pool.token1.decimals
    return exact_position_amounts(pool.core.sqrt_price_x96, *ticks, liquidity_raw, d0, d1)


def pending_fees(pool: SimulatedPool, token_id: int | None) -> tuple[float, float]:
    """A position's uncollected fees (human); (0, 0) without one."""
    if token_id is None:
        return 0.0, 0.0
    owed0, owed1 = pool.manager.pending(token_id)
    return owed0 / 10.0**pool.token0.decimals, owed1 / 10.0**pool.token1.decimals


def full_range_policy(view: PoolView, rules: Rules) -> Decision:
    """Passive: open once over the whole price range, never touch it again."""
    if view.liquidity is None and view.last_action_ns is None:
        return Decision(Action.OPEN, "passive full range", True, FULL_RANGE_HALF_WIDTH)
    return Decision(Action.HOLD, "passive", False)


def fixed_width_policy(half_width: float) -> Policy:
    """±half_width (log price) around the price; recentre once out of range (at most every 10 min)."""

    def policy(view: PoolView, rules: Rules) -> Decision:
        if view.liquidity is None:
            return Decision(Action.OPEN, "enter", True, half_width)
        since_s = math.inf if view.last_action_ns is None else (view.now_ns - view.last_action_ns) / NS_PER_S
        out = not view.price_lower < view.price < view.price_upper
        if out and since_s >= FIXED_MIN_INTERVAL_S:
            return Decision(Action.RECENTRE, "out of range", True, half_width)
        return Decision(Action.HOLD, "in range or too soon", False)

    return policy


class ManagedLp:
    """A `PoolLpManager` stepped with `policy` (ours: the rules' `decide`)."""

    def __init__(
        self,
        name: str,
        pool: SimulatedPool,
        fair: Callable[[], float],
        params: LpManagerParams,
        clock: Clock,
        store: LpStore,
        policy: Policy = decide,
    ) -> None:
        self.pool, self.policy = pool, policy
        # Marks are for `mmbot status`; a SQLite write every round would dominate the run time.
        self.manager = PoolLpManager(name, "uni", pool, fair, params, clock, store, mark_interval_s=86_400.0)
        self.owed0 = 0.0
        self._amounts_key: tuple[int, int, int] | None = None
        self._amounts_now = (0.0, 0.0)

    async def round(self) -> None:
        await self.manager.step(self.policy)
        # The hedge counts uncollected token0 fees too: refreshed every round, not every block
        # (they move by far less than the band between two rounds, and cost a fee-growth walk).
        self.owed0 = self._pending()[0]

    def _pending(self) -> tuple[float, float]:
        pos = self.manager.position
        return pending_fees(self.pool, None if pos is None else pos.token_id)

    def _amounts(self) -> tuple[float, float]:
        pos = self.manager.position
        if pos is None:
            return 0.0, 0.0
        # The hedge asks every block; most blocks of a 0.3 % pool see no swap: the same answer.
        key = (self.pool.core.sqrt_price_x96, pos.token_id, pos.liquidity_raw)
        if key != self._amounts_key:
            ticks = (pos.choice.tick_lower, pos.choice.tick_upper)
            self._amounts_key, self._amounts_now = key, position_amounts(self.pool, ticks, pos.liquidity_raw)
        return self._amounts_now

    def token0(self) -> float:
        return wallet_human(self.pool)[0] + self._amounts()[0] + self.owed0

    def figures(self, fair: float, now_ns: int, sigma_annual: float) -> LpFigures:
        """The bot's own books (`PoolLedger.attribution`), the open position brought to the end."""
        ledger, pos = self.manager.ledger, self.manager.position
        (x, y), (f0, f1) = self._amounts(), self._pending()
        if pos is not None:
            pos.lvr.observe(fair, now_ns, sigma_annual)
            pos.account.lvr_token1, pos.account.pending_fees_token1 = pos.lvr.realized_token1, f0 * fair + f1
        books = ledger.attribution()
        w0, w1 = wallet_human(self.pool)
        return LpFigures(
            fees_token1=books.fees_token1,
            lvr_token1=books.lvr_token1,
            gas_token1=books.gas_token1,
            swap_cost_token1=books.swap_cost_token1,
            value_token1=(w0 + x + f0) * fair + w1 + y + f1,
            actions=sum(self.manager.totals.actions.values()),
        )
