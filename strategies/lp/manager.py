"""The LP manager strategy (kind "lp_manager"): one `PoolLpManager` per configured pool.

Evaluates every pool on the bot's job scheduler (apscheduler on the wall clock, every
`check_interval_s`) and early when the fair price moved more than `event_trigger_bps` since the
last round (book events of the fair market). Both only wake the strategy's own task, which runs
the rounds one at a time (a timer stands in when no scheduler drives it). The fair price
is the CEX mid when the fair market is traded by the bot, else the mock venue's latent price.
Positions stay open at stop (an LP position is long-lived): on restart the store's open rows are
adopted when the pool still holds them, else closed (a fresh simulated pool holds none).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from amm.ports import LatentFairPrice
from bot.core.domain import MarketKey
from bot.core.events import BookSnapshot
from bot.kernel.lp_store import LpStore
from strategies.lp.excess import CexExcessRoute
from strategies.lp.first_start import seed_from_history
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import PoolLpManager
from strategies.xvenue.store import XvenueLedger

if TYPE_CHECKING:
    from bot.core.events import VenueEvent
    from bot.kernel.context import BotContext

log = logging.getLogger("mmbot.lp")


def fair_price_reader(ctx: BotContext, venue: str, symbol: str) -> Callable[[], float]:
    """CEX mid of a traded market, or the venue's latent fair price (mock venues)."""
    slot = ctx.state.slot(venue, symbol)
    source = ctx.venues.get(venue)
    latent = source if isinstance(source, LatentFairPrice) else None

    def read() -> float:
        if slot is not None:
            mid = float(ctx.state.mid_price[slot])
            if math.isfinite(mid):
                return mid
        if latent is not None:
            try:
                return float(latent.fair_price(symbol))
            except (RuntimeError, KeyError):
                return math.nan
        return math.nan

    return read


class LpManager:
    def __init__(self, name: str, params: LpManagerParams) -> None:
        self.name = name
        self.params = params
        self.managers: dict[str, PoolLpManager] = {}
        self.cex_route: CexExcessRoute | None = None  # shared by the pools (one CEX market)
        self._fair_keys: set[tuple[str, str]] = set()
        self._last_fair: dict[tuple[str, str], float] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set between rounds: no transaction of ours in flight
        self._idle.set()
        self._draining = False
        self.scheduled = False  # True once a job scheduler wakes the rounds
        self.unadoptable: dict[str, list[int]] = {}  # pool -> stored positions it could not adopt
        self._unadoptable_why: dict[tuple[str, int], str] = {}
        self.rounds = 0

    def scheduled_jobs(self) -> list[tuple[str, float, Callable[[], Awaitable[None]]]]:
        """(name, interval_s, job) for the bot's scheduler: the periodic re-evaluation."""
        self.scheduled = True

        async def wake() -> None:
            self._wake.set()

        return [(f"lp:{self.name}", self.params.check_interval_s, wake)]

    def _build_cex_route(self, ctx: BotContext) -> CexExcessRoute | None:
        key = self.params.cex_market
        if self.params.excess_swap_venue == "pool" or key is None:
            return None
        venue, symbol = MarketKey.parse(key)
        slot = ctx.state.slot(venue, symbol)
        if slot is None:
            raise ValueError(f"strategies.{self.name}.cex_market: {key} is not a traded market")
        market = ctx.state.markets[slot]
        ledger = XvenueLedger(ctx.store)
        return CexExcessRoute(ctx.orders, ledger, slot, market, self.params.slippage_bps)

    def build(self, ctx: BotContext) -> None:
        store = LpStore(ctx.store)
        self.cex_route = self._build_cex_route(ctx)
        for pool_name in self.params.pools:
            pool = ctx.pools.get(pool_name)
            if pool is None:
                raise ValueError(f"strategies.{self.name}.pools: no pool named {pool_name!r}")
            key = ctx.pool_fair_markets[pool_name]
            self._fair_keys.add(key)
            fair = fair_price_reader(ctx, *key)
            self.managers[pool_name] = PoolLpManager(
                self.name, pool_name, pool, fair, self.params, ctx.clock, store, cex=self.cex_route
            )

    async def _adopt_stored_positions(self) -> list[str]:
        """Positions left open by a previous run: adopted when the pool still holds them. A row
        that cannot be adopted stops its pool only (flagged: `unadoptable`, an alert event, an
        action row); the other pools are managed as usual. Every pool, flat or not, resumes the
        time of its last action (the minimum interval between actions holds across a restart)
        and its stored estimates (σ̂, fee flow: no hours of measuring again before an entry).
        Returns the pools that had none to resume (a first start)."""
        fresh = []
        for pool_name, manager in self.managers.items():
            manager.restore_last_action()
            if not manager.resume_estimates():
                fresh.append(pool_name)
            for row in manager.store.positions(self.name, open_only=True):
                if row.pool != manager.pool_name:
                    continue
                try:
                    await manager.adopt(row)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._flag_unadoptable(manager, row.token_id, exc)
        return fresh

    async def _seed_first_starts(self, ctx: BotContext, pools: list[str]) -> None:
        """Pools with no stored estimates: seeded from the history their venues serve
        (`strategies.lp.first_start`) instead of hours of measuring before an entry."""
        for pool_name in pools:
            venue, symbol = ctx.pool_fair_markets[pool_name]
            await seed_from_history(self.managers[pool_name], ctx.venues.get(venue), symbol)

    def _flag_unadoptable(self, manager: PoolLpManager, token_id: int, exc: Exception) -> None:
        reason = f"position #{token_id} cannot be adopted ({type(exc).__name__}: {exc}); pool not managed"
        log.error("%s/%s: %s", self.name, manager.pool_name, reason)
        self.unadoptable.setdefault(manager.pool_name, []).append(token_id)
        self._unadoptable_why[(manager.pool_name, token_id)] = reason
        now = manager.clock.now_ns()
        manager.ledger.action(now, "adopt_failed", reason, False, {"token_id": float(token_id)})
        manager.store.store.record_event(
            "alert", now, strategy=self.name, reason=f"{manager.pool_name}: {reason}"
        )

    def degradations(self) -> list[str]:
        """What /health reports (`bot.ops.health.Degradations`): each pool left unmanaged and why."""
        return [
            f"pool {pool}: {self._unadoptable_why[(pool, token_id)]}"
            for pool, token_ids in self.unadoptable.items()
            for token_id in token_ids
        ]

    async def run(self, ctx: BotContext) -> None:
        self.build(ctx)
        await self._seed_first_starts(ctx, await self._adopt_stored_positions())
        # With a scheduler the job sets the wake; the timeout is only a fallback without one.
        timeout = None if self.scheduled else self.params.check_interval_s
        while not self._draining:
            self.rounds += 1
            self._wake.clear()  # before the round: a wake during a slow (chain) round is not lost
            self._idle.clear()
            try:
                for manager in self.managers.values():
                    if manager.pool_name in self.unadoptable:
                        continue  # an untracked position of ours may be live there
                    try:
                        await manager.step()
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("%s/%s: LP round failed", self.name, manager.pool_name)
            finally:
                self._idle.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    async def drain(self) -> None:
        """Before a hot-reload swap: let the round in progress (and its transactions) finish;
        the positions stay open and the new instance adopts them from the store."""
        self._draining = True
        self._wake.set()
        await self._idle.wait()
        for manager in self.managers.values():  # the new instance resumes them
            manager.save_estimates(manager.clock.now_ns())

    def on_event(self, event: VenueEvent) -> None:
        if self.cex_route is not None:
            self.cex_route.on_event(event)
        if not isinstance(event, BookSnapshot) or (event.venue, event.symbol) not in self._fair_keys:
            return
        if not event.bids or not event.asks:
            return
        key = (event.venue, event.symbol)
        mid = (event.bids[0][0] + event.asks[0][0]) / 2
        last = self._last_fair.get(key)
        if last is None:
            self._last_fair[key] = mid
        elif abs(mid / last - 1) * 1e4 >= self.params.event_trigger_bps:
            self._last_fair[key] = mid
            self._wake.set()
