"""One pool's LP position, one round at a time: measure, decide, price the excess routes, act.

`PoolLpManager` works through the AmmPool port (simulated pool or chain client): `PoolMeter`
measures what the rules see, the pure rules of `strategies.lp.rules` decide, `PositionLifecycle`
opens, closes and compounds, `ExcessSwaps` trades a new range's excess, and `PoolLedger` logs
and stores every decision that fires, positions, fees, gas and swaps.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from typing import Literal

from pydantic import ValidationError

from amm.chain.tx_errors import TxRevertedOnChain
from amm.ports import AmmPool, SwapHistory
from bot.core.clock import Clock
from bot.core.history import PriceHistory
from bot.kernel.lp_store import LpPositionRow, LpStore
from strategies.lp.estimates import MeterEstimates
from strategies.lp.excess import CexExcessRoute, Excess, Route
from strategies.lp.ledger import PoolLedger
from strategies.lp.lifecycle import PositionLifecycle
from strategies.lp.measure import PoolMeter
from strategies.lp.params import LpManagerParams
from strategies.lp.position import LivePosition, LpTotals
from strategies.lp.rules import Action, Decision, PoolView, Rules, decide
from strategies.lp.seeding import Seeded, seed_meter
from strategies.lp.swaps import ExcessSwaps

OPENING = frozenset({Action.OPEN, Action.RECENTRE, Action.WIDEN})

log = logging.getLogger("mmbot.lp")
Policy = Callable[[PoolView, Rules], Decision]
# where a pool's estimates started: from scratch, from the store, from history read at a first start
EstimatesOrigin = Literal["measured", "resumed", "seeded"]
MARK_INTERVAL_S = 300.0  # how often an open position's LVR and pending fees (and the estimates) are stored
# Stored estimates older than this many fee half-lives are not resumed: their weight would be
# below 1/1000 of a fresh sample's.
ESTIMATES_MAX_AGE_HALF_LIVES = 10.0


class PoolLpManager:
    """One pool's LP position under the rules; `step()` is one evaluate-and-act round."""

    def __init__(
        self,
        strategy: str,
        pool_name: str,
        pool: AmmPool,
        fair_price: Callable[[], float],
        params: LpManagerParams,
        clock: Clock,
        store: LpStore,
        *,
        mark_interval_s: float = MARK_INTERVAL_S,
        cex: CexExcessRoute | None = None,
    ) -> None:
        self.strategy, self.pool_name, self.pool = strategy, pool_name, pool
        self.mark_interval_ns = mark_interval_s * 1e9
        self.fair_price, self.params, self.clock, self.store = fair_price, params, clock, store
        self.rules = params.rules()
        decimals = (pool.token0.decimals, pool.token1.decimals)
        self.totals = LpTotals()
        self.ledger = PoolLedger(
            strategy, pool_name, store, decimals, params.native_price_token1, self.totals
        )
        self.swaps = ExcessSwaps(pool, params, self.ledger, cex)
        self.meter = PoolMeter(pool, params, self.ledger, self.swaps)
        self.lifecycle = PositionLifecycle(
            pool, params, self.ledger, self.swaps, self.meter.sigma_annual, clock
        )
        self.last_action_ns: int | None = None
        self.last_decision: Decision | None = None
        self.estimates_saved_ns: int | None = None
        self.estimates_origin: EstimatesOrigin = "measured"  # /metrics shows it beside their errors

    @property
    def position(self) -> LivePosition | None:
        """The open position (None when flat)."""
        return self.lifecycle.position

    def restore_last_action(self, opened_ns: int = 0) -> None:
        """At a restart or reload, flat or not: the time of the pool's last executed action from
        the store (or of the adopted position's open, if later), so the minimum interval between
        actions holds across it (a re-entry right after an exit would otherwise not wait)."""
        last = max(opened_ns, self.store.last_executed_ns(self.strategy, self.pool_name) or 0)
        if last > 0:
            # A clock behind the store (a replay on another start time) waits one interval, not longer.
            self.last_action_ns = min(last, self.clock.now_ns())

    def resume_estimates(self) -> bool:
        """At a start or reload: take over the pool's stored estimates (σ̂, fee flow), unless
        there are none, they are too old or unreadable (logged: the pool is measured afresh)."""
        row = self.store.estimates(self.strategy, self.pool_name)
        if row is None:
            return False
        now, where = self.clock.now_ns(), f"{self.strategy}/{self.pool_name}"
        age_s = (now - row.ts_ns) / 1e9
        if age_s > ESTIMATES_MAX_AGE_HALF_LIVES * self.params.fee_half_life_s:
            log.info("%s: stored estimates are %.1f h old: measuring the pool afresh", where, age_s / 3600)
            return False
        try:
            estimates = MeterEstimates.model_validate_json(row.estimates)
        except ValidationError as exc:
            log.warning("%s: stored estimates unreadable, measuring the pool afresh: %s", where, exc)
            return False
        self.meter.resume(estimates, now)
        self.estimates_origin = "resumed"
        log.info("%s: resumed estimates %.0f s old (σ̂ %.3f)", where, age_s, self.meter.sigma_annual())
        return True

    def seed_estimates(self, fair: PriceHistory | None, swaps: SwapHistory | None) -> Seeded:
        """At a first start (nothing to resume): σ̂ from the fair market's recent closes, σ̂ₚ and
        the fee flow from the pool's recent swaps (`strategies.lp.seeding`)."""
        seeded = seed_meter(self.meter, fair, swaps, self.params.history_interval_s)
        self.estimates_origin = "seeded"
        log.info(
            "%s/%s: estimates seeded from history: %d closes, %d pool prices, fee flow over %.1f h "
            "(σ̂ %.3f ± %.0f %%, fee rel. error %.0f %%; bid-ask bounce %.0f %% of the closes' variance%s)",
            self.strategy, self.pool_name, seeded.closes, seeded.pool_prices, seeded.fee_span_s / 3600,
            self.meter.sigma_annual(), 100 * self.meter.sigma_rel_error(), 100 * self.meter.fee_rel_error(),
            100 * seeded.bounce.share, "" if seeded.sigma_from_closes or not seeded.closes
            else ": too much to seed σ̂, measured live",
        )  # fmt: skip
        return seeded

    def save_estimates(self, now_ns: int) -> None:
        estimates = self.meter.estimates(now_ns).model_dump_json()
        self.store.save_estimates(self.strategy, self.pool_name, now_ns, estimates)
        self.estimates_saved_ns = now_ns

    async def adopt(self, row: LpPositionRow) -> None:
        """Take over a stored open position with the time of the pool's last action: the minimum
        interval between actions holds across a restart or reload. Without it an adopted position
        could move at once; just after an entry priced on the fee rate less its error, the rules
        judging the held range on the measured rate would narrow it straight away."""
        await self.lifecycle.adopt(row)
        if self.lifecycle.position is not None:
            self.restore_last_action(row.opened_ns)

    async def view(self, fair: float, now_ns: int) -> PoolView:
        return await self.meter.view(fair, now_ns, self.lifecycle.position, self.last_action_ns)

    async def step(self, policy: Policy = decide) -> Decision | None:
        """Measure, decide with `policy` (the rules; benchmarks pass baseline policies), act."""
        fair = self.fair_price()
        if not (math.isfinite(fair) and fair > 0):
            return None
        if self.swaps.waiting_for_cex_book():
            return None  # the CEX route is configured: no decision before its book has been seen
        now = self.clock.now_ns()
        life = self.lifecycle
        if not await life.settle(fair, now):
            return None  # a transaction of ours is still pending: acting now could duplicate it
        if life.position is not None and life.position.released is not None:
            await life.close(fair, now, "finishing a close that failed half-way")
        self.meter.observe_price(fair, now)
        view = await self.view(fair, now)
        if self.estimates_saved_ns is None or now - self.estimates_saved_ns >= self.mark_interval_ns:
            self.save_estimates(now)
        pos = life.position
        if pos is not None and (pos.marked_ns is None or now - pos.marked_ns >= self.mark_interval_ns):
            self.ledger.mark(pos, now, view.pending_fees_token1)
        decision = policy(view, self.rules)
        route: Route = "pool"
        if decision.executed_gate and decision.action in OPENING:
            # Both routes priced for the range about to open, stored with the decision's numbers.
            choice = life.range_for(decision.half_width, fair)
            excess = Excess.for_range(*self.meter.deployable, fair, choice.price_lower, choice.price_upper)
            costs = await self.swaps.route_costs(excess, fair)
            route = costs.pick(self.params.excess_swap_venue)
            numbers = {**decision.numbers, **costs.numbers(self.params.excess_swap_venue)}
            decision = dataclasses.replace(decision, numbers=numbers)
        self.last_decision = decision
        self.ledger.decision(decision, now, {"twap": self.meter.twap_state})
        if decision.executed_gate:
            await self.act(decision, fair, now, route)
        return decision

    async def act(self, d: Decision, fair: float, now_ns: int, route: Route = "pool") -> None:
        actions = self.totals.actions
        actions[d.action.value] = actions.get(d.action.value, 0) + 1
        self.last_action_ns = now_ns
        # Our own ratio swap moves the pool: not the pool's volatility, which the hedge cost reads.
        self.meter.pool_vol.forget_price()
        self.meter.band_trading.forget_price()
        try:
            await self._act(d, fair, now_ns, route)
        except TxRevertedOnChain:
            # Mined but reverted (the pool moved between preview and inclusion): its gas is spent,
            # booked from the journal like every mined transaction.
            await self.lifecycle.book(fair, now_ns)
            raise

    async def _act(self, d: Decision, fair: float, now_ns: int, route: Route) -> None:
        life = self.lifecycle
        if d.action is Action.COMPOUND:
            await life.compound(fair, now_ns)
            return
        if life.position is not None:
            await life.close(fair, now_ns, d.reason)
        if d.action in OPENING:
            await life.open(d.half_width, fair, now_ns, route)
