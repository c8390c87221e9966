"""The engine's requote rounds, order syncs and stop sweeps, told to a recorder and redone by a replay.

A paper session's venue records when the engine requoted which markets, when each market's
order sync started and when each cancel sweep of the bot's stop started (`RoundObserver`); the
replay of that session (`replay`) requotes at the same clock readings, the same markets, and
starts each sync (the order diff) and each stop sweep when the session's did: the bot's own work,
which virtual time does not charge, then falls where it fell in the session. (A stop on a busy
loop can sweep a tenth of a second after the last sync; a replay sweeping at once cancelled
quotes the session's had kept, and filled, meanwhile.)
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from bot.core.clock import NS_PER_S, Clock

ROUND, SYNC, SWEEP = "round", "sync", "sweep"


class RoundObserver(Protocol):
    def requote_round(self, kind: str, now_ns: int, slots: tuple[int, ...]) -> None:
        """`kind` ROUND: a requote round at `now_ns` requoted `slots` (none: the bot stopped);
        SYNC: the order sync of `slots[0]` started at `now_ns`; SWEEP: a cancel sweep of the
        bot's stop started at `now_ns` (no slots)."""


class SessionRounds:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.observers: list[RoundObserver] = []
        self.schedule: list[tuple[int, tuple[int, ...]]] = []  # a replay: (round time, slots)
        self._syncs: dict[int, deque[int]] = {}
        self._sweeps: deque[int] = deque()

    def tell(self, kind: str, now_ns: int, slots: tuple[int, ...]) -> None:
        for observer in self.observers:
            observer.requote_round(kind, now_ns, slots)

    def replay(self, recorded: list[tuple[str, int, tuple[int, ...]]]) -> None:
        """Redo a session's rounds, syncs and sweeps (`kind, time, slots` in time order)."""
        self.schedule = [(at_ns, slots) for kind, at_ns, slots in recorded if kind == ROUND and slots]
        for kind, at_ns, slots in recorded:
            if kind == SYNC:
                self._syncs.setdefault(slots[0], deque()).append(at_ns)
            elif kind == SWEEP:
                self._sweeps.append(at_ns)

    async def sync_start(self, slot: int) -> int:
        """The clock reading a market's order sync starts at: in a replay, its session's."""
        now = await self._when_recorded(self._syncs.get(slot))
        self.tell(SYNC, now, (slot,))
        return now

    async def sweep_start(self) -> None:
        """Before each cancel sweep of the bot's stop: in a replay, return when its session's began.
        Never suspends in a session, so the sweep reads its orders at the clock reading told."""
        self.tell(SWEEP, await self._when_recorded(self._sweeps), ())

    async def _when_recorded(self, recorded: deque[int] | None) -> int:
        """The next recorded time of this kind, once the clock is there (none left: now)."""
        if not recorded:
            return self.clock.now_ns()
        at_ns = recorded.popleft()
        if at_ns > self.clock.now_ns():
            await asyncio.sleep((at_ns - self.clock.now_ns()) / NS_PER_S)
        return max(at_ns, self.clock.now_ns())
