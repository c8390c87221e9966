"""Runs the active strategies (LP manager, hedger, XEMM, arbitrage) as tasks, and swaps one for a
rebuilt instance when a config reload changes its parameters.

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
from typing import Any, Protocol, runtime_checkable

from bot.core.events import VenueEvent
from bot.kernel.context import ActiveStrategy, BotContext
from bot.ops.scheduler import JobScheduler

log = logging.getLogger("mmbot.strategies")


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
    def __init__(self, listeners: list[Callable[[VenueEvent], None]], scheduler: JobScheduler) -> None:
        self.strategies: list[ActiveStrategy] = []
        self._listeners = listeners  # the engine's: each strategy's on_event sees every event
        self._scheduler = scheduler  # periodic wake-ups some strategies ask for (LP rounds)
        self._jobs: dict[str, list[str]] = {}
        self._owned: dict[str, list[str]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ctx: BotContext | None = None  # set by `start`: strategies added later start at once

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
        self._tasks[strategy.name] = asyncio.create_task(
            _run_logged(strategy, ctx), name=f"strategy-{strategy.name}"
        )

    async def stop_all(self, drain_timeout_s: float) -> None:
        """Bot stop: every strategy drains (bounded) before its task is cancelled."""
        await asyncio.gather(*(self._drain(s, drain_timeout_s) for s in self.strategies))
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

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
        task = self._tasks.pop(old.name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
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


async def _run_logged(strategy: ActiveStrategy, ctx: BotContext) -> None:
    try:
        await strategy.run(ctx)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("strategy %s failed; its markets are no longer managed", strategy.name)
