"""Runs the active strategies (LP manager, hedger, XEMM, arbitrage) as tasks, and swaps one for a
rebuilt instance when a config reload changes its parameters.

Each strategy runs under the bot's supervisor: an exception is logged once and the strategy is
restarted with backoff (STRATEGY_RESTARTS); one that keeps failing is given up: its event hook and
jobs are removed, its resting orders on the markets it owns are cancelled, a `strategy_failed`
event is stored and /health reports it until a reload replaces it or the bot restarts.

A swap or a bot stop never cuts work in half: a strategy that `Drains` is drained first (it stops
starting new work and returns once in-flight hedges or arbitrage legs are done), then its task is
cancelled, its resting orders on the markets it owns are cancelled, and the new instance starts
from the store (pending hedges and LP positions are adopted from their rows, as after a restart).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, runtime_checkable

from bot.core.events import VenueEvent
from bot.core.supervision import RestartPolicy, Supervisor, TaskChange, TaskState
from bot.kernel.context import ActiveStrategy, BotContext
from bot.ops.scheduler import JobScheduler

log = logging.getLogger("mmbot.strategies")

# Three deaths in a row (each within a minute of its restart): the strategy is given up.
STRATEGY_RESTARTS = RestartPolicy(base_s=1.0, max_s=30.0, give_up_after=3, healthy_after_s=60.0)

CancelOrdersOn = Callable[[list[str]], Coroutine[Any, Any, None]]


def strategy_task(name: str) -> str:
    """The supervisor's name for an active strategy's task."""
    return f"strategy:{name}"


@runtime_checkable
class ScheduledJobs(Protocol):
    """A strategy woken periodically by the bot's scheduler (LP rounds): (job name, interval, job)."""

    def scheduled_jobs(self) -> list[tuple[str, float, Callable[[], Awaitable[None]]]]: ...


@runtime_checkable
class Drains(Protocol):
    """A strategy with work in flight (hedges, arbitrage legs) that must finish before it stops."""

    async def drain(self) -> None:
        """Start no new work; return once the work in flight is done."""
        ...


@dataclass(frozen=True, slots=True)
class OwningStrategy:
    """An active strategy and the "venue:symbol" markets whose resting orders are its alone."""

    strategy: ActiveStrategy
    owned_markets: list[str]


class ActiveRunner:
    def __init__(
        self,
        listeners: list[Callable[[VenueEvent], None]],
        scheduler: JobScheduler,
        supervisor: Supervisor,
        cancel_orders_on: CancelOrdersOn | None = None,
    ) -> None:
        """`cancel_orders_on` cancels our orders on "venue:symbol" markets (a strategy given up)."""
        self.strategies: list[ActiveStrategy] = []
        self.failed: dict[str, str] = {}  # strategy name -> why it was given up
        self._listeners = listeners  # the engine's: each strategy's on_event sees every event
        self._scheduler = scheduler  # periodic wake-ups some strategies ask for (LP rounds)
        self._supervisor = supervisor
        self._cancel_orders_on = cancel_orders_on
        self._jobs: dict[str, list[str]] = {}
        self._owned: dict[str, list[str]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._giving_up: set[asyncio.Task[None]] = set()
        self._ctx: BotContext | None = None  # set by `start`: strategies added later start at once
        supervisor.listeners.append(self._on_task_change)

    def add(self, owning: OwningStrategy) -> None:
        strategy = owning.strategy
        self.strategies.append(strategy)
        self._listeners.append(strategy.on_event)
        jobs = strategy.scheduled_jobs() if isinstance(strategy, ScheduledJobs) else []
        for name, interval_s, job in jobs:
            self._scheduler.add(name, interval_s, job)
        self._jobs[strategy.name] = [name for name, _, _ in jobs]
        self._owned[strategy.name] = owning.owned_markets

    def get(self, name: str) -> ActiveStrategy | None:
        return next((s for s in self.strategies if s.name == name), None)

    def start(self, ctx: BotContext) -> None:
        self._ctx = ctx
        for strategy in self.strategies:
            self._start(strategy, ctx)

    def _start(self, strategy: ActiveStrategy, ctx: BotContext) -> None:
        self.failed.pop(strategy.name, None)
        self._tasks[strategy.name] = self._supervisor.spawn(
            strategy_task(strategy.name),
            partial(strategy.run, ctx),
            STRATEGY_RESTARTS,
            context=f"strategy {strategy.name} ({type(strategy).__name__})",
        )

    async def stop_all(self, drain_timeout_s: float) -> None:
        """Bot stop: every strategy drains (bounded) before its task is cancelled."""
        await asyncio.gather(*(self._drain(s, drain_timeout_s) for s in self.strategies))
        for name in list(self._tasks):
            await self._supervisor.cancel(strategy_task(name))
        self._tasks.clear()
        await asyncio.gather(*self._giving_up, return_exceptions=True)

    # ---- a strategy that keeps failing -------------------------------------------------------

    def _on_task_change(self, change: TaskChange) -> None:
        if change.state is not TaskState.FAILED:
            return
        strategy = next((s for s in self.strategies if strategy_task(s.name) == change.name), None)
        if strategy is None:
            return
        task = asyncio.get_running_loop().create_task(self._give_up(strategy, change.reason))
        self._giving_up.add(task)
        task.add_done_callback(self._giving_up.discard)

    async def _give_up(self, strategy: ActiveStrategy, reason: str) -> None:
        """Stop feeding it, stop its jobs, cancel its resting orders: nothing is left unmanaged."""
        name = strategy.name
        self.failed[name] = reason
        self._tasks.pop(name, None)
        if strategy.on_event in self._listeners:
            self._listeners.remove(strategy.on_event)
        for job_name in self._jobs.get(name, []):
            self._scheduler.remove(job_name)
        markets = self._owned.get(name, [])
        log.warning(
            "strategy %s given up (%s): its orders on %s are cancelled; a reload that changes it "
            "or a restart starts it again",
            name,
            reason,
            ", ".join(markets) or "no market of its own",
        )
        if self._ctx is not None:
            self._ctx.store.record_event(
                "strategy_failed", self._ctx.clock.now_ns(), strategy=name, reason=reason, markets=markets
            )
        if markets and self._cancel_orders_on is not None:
            await self._cancel_orders_on(markets)

    async def replace(
        self,
        name: str,
        new: OwningStrategy | None,
        cancel_orders_on: Callable[[list[str]], Coroutine[Any, Any, None]],
        drain_timeout_s: float,
    ) -> None:
        """Stop the running strategy `name` (if any) cleanly, then start `new` (if any)."""
        old = self.get(name)
        if old is not None:
            await self._stop(old, cancel_orders_on, drain_timeout_s)
        if new is not None:
            self.add(new)
            if self._ctx is not None:
                self._start(new.strategy, self._ctx)

    async def _stop(
        self,
        old: ActiveStrategy,
        cancel_orders_on: Callable[[list[str]], Coroutine[Any, Any, None]],
        drain_timeout_s: float,
    ) -> None:
        await self._drain(old, drain_timeout_s)
        self._tasks.pop(old.name, None)
        self.failed.pop(old.name, None)
        await self._supervisor.cancel(strategy_task(old.name))
        if old.on_event in self._listeners:
            self._listeners.remove(old.on_event)
        for job_name in self._jobs.pop(old.name, []):
            self._scheduler.remove(job_name)
        self.strategies.remove(old)
        markets = self._owned.pop(old.name, [])
        if markets:
            await cancel_orders_on(markets)

    async def _drain(self, strategy: ActiveStrategy, timeout_s: float) -> None:
        task = self._tasks.get(strategy.name)
        if not isinstance(strategy, Drains) or task is None or task.done():
            return
        try:
            await asyncio.wait_for(strategy.drain(), timeout=timeout_s)
        except TimeoutError:
            log.warning(
                "strategies.%s: in-flight work not done in %.0f s; stopping it anyway "
                "(its stored rows resume it)",
                strategy.name,
                timeout_s,
            )
