"""One supervisor for every long-lived task of a bot: nothing dies silently.

A supervised task is a coroutine factory. When its coroutine raises, the supervisor logs the
death once (ERROR with the traceback and the task's context; a routine error the policy calls
`expected`, such as a lost connection the task reports itself, only at DEBUG), marks the task
`restarting`, waits an exponential backoff with jitter and runs the factory again. A task whose
policy gives up after N deaths in a row is marked `failed` and left stopped for its owner to
handle (a strategy's markets are cancelled). Entries without a task of their own (scheduled jobs)
report their runs with `up()` / `down()`.

Every state change goes to the `listeners` (metrics, notifications, a strategy's owner); health
reads `problems()`. Pure asyncio on the running loop's clock, so it follows simulated time too.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.core.backoff import Backoff

log = logging.getLogger("mmbot.supervisor")


class TaskState(StrEnum):
    UP = "up"
    RESTARTING = "restarting"
    FAILED = "failed"
    DONE = "done"  # the coroutine returned by itself (a strategy that finished, a stopped engine)


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    base_s: float = 0.5
    max_s: float = 30.0
    give_up_after: int = 0
    """Deaths in a row after which the task is `failed` and not restarted (0: never give up)."""
    healthy_after_s: float = 30.0
    """A run at least this long was healthy: the next death counts as the first in a row."""
    expected: tuple[type[Exception], ...] = ()
    """Routine errors (a dropped connection) the task reports itself: no ERROR, no alert."""
    reports_up: bool = False
    """The task calls `Supervisor.up` once it works again (a stream resubscribed and caught up);
    until then a restarted task stays `restarting`."""


@dataclass(frozen=True, slots=True)
class TaskStatus:
    name: str
    state: TaskState
    reason: str
    restarts: int


@dataclass(frozen=True, slots=True)
class TaskChange:
    """One state change of a supervised task, as listeners see it."""

    name: str
    state: TaskState
    previous: TaskState
    reason: str
    restarts: int
    deaths_in_a_row: int
    """0 on a recovery the task reported (`up`); 1 on the first death of a streak."""
    expected: bool
    """The death (or the recovery from one) was a routine error of the task's policy."""


Listener = Callable[[TaskChange], None]
TaskFactory = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class _Entry:
    name: str
    policy: RestartPolicy
    context: str
    backoff: Backoff
    run: TaskFactory | None = None
    task: asyncio.Task[None] | None = None
    state: TaskState = TaskState.UP
    reason: str = ""
    restarts: int = 0
    deaths_in_a_row: int = 0
    last_death_expected: bool = True


class Supervisor:
    def __init__(self, rng: random.Random | None = None) -> None:
        self.listeners: list[Listener] = []
        self._entries: dict[str, _Entry] = {}
        self._rng = rng or random.Random()

    # ---- registering -------------------------------------------------------------------------

    def spawn(
        self, name: str, run: TaskFactory, policy: RestartPolicy | None = None, *, context: str = ""
    ) -> asyncio.Task[None]:
        """Run `run()` as the task `name`, restarted by `policy` whenever it raises.

        A name whose previous task ended (done or failed) is reused: the new task starts `up`.
        """
        old = self._entries.get(name)
        if old is not None and old.task is not None and not old.task.done():
            raise ValueError(f"task {name!r} is already running")
        policy = policy or RestartPolicy()
        entry = _Entry(name, policy, context, Backoff(policy.base_s, policy.max_s, self._rng), run)
        if old is not None:
            entry.state, entry.reason, entry.restarts = old.state, old.reason, old.restarts
        self._entries[name] = entry
        entry.task = asyncio.create_task(self._keep(entry), name=name)
        self._set(entry, TaskState.UP, "started", expected=True)
        return entry.task

    def track(self, name: str, *, context: str = "") -> None:
        """An entry with no task of its own (a scheduled job): its runner reports up/down."""
        if name not in self._entries:
            self._entries[name] = _Entry(name, RestartPolicy(), context, Backoff(1.0, 1.0))

    def up(self, name: str, detail: str = "") -> None:
        """The task works (again): a stream resubscribed, a job ran."""
        entry = self._entries.get(name)
        if entry is None:
            return
        entry.deaths_in_a_row = 0
        if entry.state is TaskState.RESTARTING:
            self._set(entry, TaskState.UP, detail or "recovered", entry.last_death_expected)

    def down(self, name: str, reason: str, *, expected: bool = True) -> None:
        """The task reports trouble it handles itself (a job failed and runs again next interval)."""
        entry = self._entries.get(name)
        if entry is None or entry.state in (TaskState.FAILED, TaskState.DONE):
            return
        entry.last_death_expected = expected
        entry.deaths_in_a_row += 1
        self._set(entry, TaskState.RESTARTING, reason, expected)

    async def cancel(self, name: str) -> None:
        """Stop the task `name` (its owner removed it) and forget it."""
        entry = self._entries.pop(name, None)
        if entry is not None and entry.task is not None:
            entry.task.cancel()
            await asyncio.gather(entry.task, return_exceptions=True)

    def forget(self, name: str) -> None:
        self._entries.pop(name, None)

    async def stop(self, prefix: str = "") -> None:
        """Cancel every task (whose name starts with `prefix`) and forget them."""
        for name in [n for n in self._entries if n.startswith(prefix)]:
            await self.cancel(name)

    # ---- reading -----------------------------------------------------------------------------

    def statuses(self) -> list[TaskStatus]:
        return [TaskStatus(e.name, e.state, e.reason, e.restarts) for e in self._entries.values()]

    def status(self, name: str) -> TaskStatus | None:
        e = self._entries.get(name)
        return None if e is None else TaskStatus(e.name, e.state, e.reason, e.restarts)

    def problems(self) -> dict[str, str]:
        """Task name -> "<state>: <reason>" for every task restarting or failed."""
        return {
            e.name: f"{e.state}: {e.reason}"
            for e in self._entries.values()
            if e.state in (TaskState.RESTARTING, TaskState.FAILED)
        }

    # ---- the keeper --------------------------------------------------------------------------

    async def _keep(self, entry: _Entry) -> None:
        assert entry.run is not None
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await entry.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if loop.time() - started >= entry.policy.healthy_after_s:
                    entry.deaths_in_a_row = 0
                if not await self._after_death(entry, exc):
                    return
                continue
            self._set(entry, TaskState.DONE, "returned", expected=True)
            return

    async def _after_death(self, entry: _Entry, exc: Exception) -> bool:
        """Log, mark and wait out one death; False when the policy gives the task up."""
        policy = entry.policy
        entry.deaths_in_a_row += 1
        expected = isinstance(exc, policy.expected)
        entry.last_death_expected = expected
        reason = f"{type(exc).__name__}: {exc}"
        gives_up = 0 < policy.give_up_after <= entry.deaths_in_a_row
        delay_s = 0.0 if gives_up else entry.backoff.delay_s(entry.deaths_in_a_row - 1)
        what = "giving it up" if gives_up else f"restart {entry.restarts + 1} in {delay_s:.1f}s"
        context = f" [{entry.context}]" if entry.context else ""
        if expected:
            log.debug("task %s%s lost (%s); %s", entry.name, context, reason, what)
        else:
            log.error(
                "task %s%s died (%d in a row; %s): %s",
                entry.name,
                context,
                entry.deaths_in_a_row,
                what,
                reason,
                exc_info=exc,
            )
        if gives_up:
            self._set(entry, TaskState.FAILED, f"{entry.deaths_in_a_row} deaths in a row: {reason}", False)
            return False
        self._set(entry, TaskState.RESTARTING, reason, expected)
        await asyncio.sleep(delay_s)
        entry.restarts += 1
        if not policy.reports_up:
            self._set(entry, TaskState.UP, "restarted", expected)
        return True

    def _set(self, entry: _Entry, state: TaskState, reason: str, expected: bool) -> None:
        """Record the state; listeners hear of changes only (a repeated death updates the reason)."""
        previous = entry.state
        entry.reason = reason
        if state is previous:
            return
        entry.state = state
        change = TaskChange(
            entry.name, state, previous, reason, entry.restarts, entry.deaths_in_a_row, expected
        )
        for listener in list(self.listeners):
            try:
                listener(change)
            except Exception:
                log.exception("supervisor listener failed on %s", change)


@runtime_checkable
class UsesSupervisor(Protocol):
    """A component (a venue adapter) whose long-lived tasks run under the bot's supervisor."""

    def use_supervisor(self, supervisor: Supervisor) -> None: ...
