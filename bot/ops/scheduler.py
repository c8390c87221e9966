"""Periodic jobs with one interface and two backends, picked by the clock.

On the wall clock apscheduler's AsyncIOScheduler runs them (interval triggers, coalesced, never two
runs of one job at once). On the simulated clock apscheduler would still time jobs by the wall
clock, which does not follow virtual time, so plain `asyncio.sleep` loops run them instead (they
do follow it). A failing job is logged and counted; it never stops the bot or its other jobs.
Each job is an entry of the bot's supervisor (`job:<name>`): `restarting` from a failed run until
the next run succeeds, so /health and mmbot_task_up show it. A venue error (the venue is down) is
one WARNING line; anything else is an ERROR with its traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.supervision import Supervisor
from bot.ops.metrics import BotMetrics
from connectors.base import VenueError

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("mmbot.jobs")

Job = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    interval_s: float
    job: Job


def job_task(name: str) -> str:
    """The supervisor's name for a scheduled job."""
    return f"job:{name}"


class JobScheduler:
    def __init__(
        self, backend: str, metrics: BotMetrics | None = None, supervisor: Supervisor | None = None
    ) -> None:
        if backend not in ("apscheduler", "asyncio"):
            raise ValueError(f"scheduler backend must be 'apscheduler' or 'asyncio', got {backend!r}")
        self.backend = backend
        self.metrics = metrics
        self.supervisor = supervisor or Supervisor()
        self.jobs: list[JobSpec] = []
        self.runs: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self._aps: AsyncIOScheduler | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[object]] = set()
        self._started = False

    @classmethod
    def for_clock(
        cls, clock_mode: str, metrics: BotMetrics | None = None, supervisor: Supervisor | None = None
    ) -> JobScheduler:
        return cls("asyncio" if clock_mode == "simulated" else "apscheduler", metrics, supervisor)

    def add(self, name: str, interval_s: float, job: Job) -> None:
        """A job; added while running (an active strategy started by a hot reload) it starts now."""
        if any(spec.name == name for spec in self.jobs):
            raise ValueError(f"job {name!r} is already scheduled")
        spec = JobSpec(name, interval_s, job)
        self.jobs.append(spec)
        self.supervisor.track(job_task(name), context=f"job every {interval_s:g}s")
        if self._started:
            self._schedule(spec)

    def remove(self, name: str) -> None:
        """Stop scheduling a job (its strategy stopped); a run in progress finishes."""
        self.jobs = [spec for spec in self.jobs if spec.name != name]
        self.supervisor.forget(job_task(name))
        if self._aps is not None and self._aps.get_job(name) is not None:
            self._aps.remove_job(name)
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()

    def start(self) -> None:
        if self.backend == "apscheduler":
            # imported here: a backtest (asyncio backend) never needs it, and it costs 0.1 s to import
            from apscheduler.schedulers.asyncio import AsyncIOScheduler

            self._aps = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
        for spec in self.jobs:
            self._schedule(spec)
        if self._aps is not None:
            self._aps.start()
        self._started = True

    def _schedule(self, spec: JobSpec) -> None:
        if self._aps is not None:
            from apscheduler.triggers.interval import IntervalTrigger

            self._aps.add_job(
                self._run_once,
                IntervalTrigger(seconds=spec.interval_s),
                args=[spec],
                id=spec.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(spec.interval_s)),
            )
        else:
            self._tasks[spec.name] = asyncio.create_task(self._loop(spec), name=f"job-{spec.name}")

    async def shutdown(self, grace_s: float = 5.0) -> None:
        """Stop scheduling; jobs already running get `grace_s` to finish before being cancelled.

        apscheduler's own shutdown cancels a running coroutine mid-await and logs that as a job
        failure with a traceback: a snapshot racing the stop would look like a crash.
        """
        if self._aps is not None:
            self._aps.pause()
            running = [t for t in self._running if not t.done()]
            if running:
                await asyncio.wait(running, timeout=grace_s)
            self._aps.shutdown(wait=False)
            self._aps = None
        self._started = False
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = {}

    async def _loop(self, spec: JobSpec) -> None:
        while True:
            await asyncio.sleep(spec.interval_s)
            await self._run_once(spec)

    async def _run_once(self, spec: JobSpec) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        try:
            await spec.job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(spec, exc)
        else:
            self.runs[spec.name] += 1
            if self.metrics is not None:
                self.metrics.job_runs.labels(spec.name).inc()
            self.supervisor.up(job_task(spec.name), "ran")

    def _failed(self, spec: JobSpec, exc: Exception) -> None:
        self.failures[spec.name] += 1
        if self.metrics is not None:
            self.metrics.job_failures.labels(spec.name).inc()
        venue_down = isinstance(exc, VenueError)
        self.supervisor.down(job_task(spec.name), f"{type(exc).__name__}: {exc}", expected=venue_down)
        what = "job %s failed (%d failures so far); it runs again next interval: %s"
        if venue_down:
            # The venue's refusal or outage is the reason, not a bug: one line, the traceback only
            # at DEBUG (tracebacks are for what nothing expected).
            log.warning(what, spec.name, self.failures[spec.name], exc)
            log.debug("job %s failed", spec.name, exc_info=exc)
        else:
            log.error(what, spec.name, self.failures[spec.name], f"{type(exc).__name__}: {exc}", exc_info=exc)
