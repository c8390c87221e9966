"""The engine's requote rounds and order syncs, told to a recorder and redone by a replay.

A paper session's venue records when the engine requoted which markets and when each market's
order sync started (`RoundObserver`); the replay of that session (`replay`) requotes at the same
clock readings, the same markets, and starts each sync (the order diff) when the session's did:
the bot's own work, which virtual time does not charge, then falls where it fell in the session.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol

from bot.core.clock import NS_PER_S, Clock

ROUND, SYNC = "round", "sync"


class RoundObserver(Protocol):
    def requote_round(self, kind: str, now_ns: int, slots: tuple[int, ...]) -> None:
        """`kind` ROUND: a requote round at `now_ns` requoted `slots` (none: the bot stopped);
        SYNC: the order sync of `slots[0]` started at `now_ns`."""


class SessionRounds:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.observers: list[RoundObserver] = []
        self.schedule: list[tuple[int, tuple[int, ...]]] = []  # a replay: (round time, slots)
        self._syncs: dict[int, deque[int]] = {}

    def tell(self, kind: str, now_ns: int, slots: tuple[int, ...]) -> None:
        for observer in self.observers:
            observer.requote_round(kind, now_ns, slots)

    def replay(self, recorded: list[tuple[str, int, tuple[int, ...]]]) -> None:
        """Redo a session's rounds and syncs (`kind, time, slots` in time order)."""
        self.schedule = [(at_ns, slots) for kind, at_ns, slots in recorded if kind == ROUND and slots]
        for kind, at_ns, slots in recorded:
            if kind == SYNC:
                self._syncs.setdefault(slots[0], deque()).append(at_ns)

    async def sync_start(self, slot: int) -> int:
        """The clock reading a market's order sync starts at: in a replay, its session's."""
        recorded = self._syncs.get(slot)
        if recorded:
            at_ns = recorded.popleft()
            if at_ns > self.clock.now_ns():
                await asyncio.sleep((at_ns - self.clock.now_ns()) / NS_PER_S)
            now = max(at_ns, self.clock.now_ns())
        else:
            now = self.clock.now_ns()
        self.tell(SYNC, now, (slot,))
        return now
