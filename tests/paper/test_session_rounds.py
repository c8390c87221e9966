"""The engine's session rounds: a session tells each sync and stop sweep as it starts, without
suspending (the sweep then reads its orders at the reading told); its replay starts them at the
session's readings, on virtual time."""

from __future__ import annotations

import asyncio

from bot.core.clock import LoopClock, run_simulated
from bot.kernel.session_rounds import ROUND, SWEEP, SYNC, SessionRounds

EPOCH_NS = 1_700_000_000_000_000_000


class Recorder:
    def __init__(self) -> None:
        self.told: list[tuple[str, int, tuple[int, ...]]] = []

    def requote_round(self, kind: str, now_ns: int, slots: tuple[int, ...]) -> None:
        self.told.append((kind, now_ns, slots))


def test_a_replay_syncs_and_sweeps_when_its_session_did() -> None:
    async def scenario() -> tuple[list[tuple[str, int, tuple[int, ...]]], list[int]]:
        clock = LoopClock(epoch_ns=EPOCH_NS)
        session, recorder = SessionRounds(clock), Recorder()
        session.observers.append(recorder)
        session.tell(ROUND, EPOCH_NS, (0,))
        await asyncio.sleep(0.010)
        assert await session.sync_start(0) == EPOCH_NS + 10_000_000
        await asyncio.sleep(0.120)  # a stop on a busy loop: the sweep a while after the last sync
        await session.sweep_start()
        assert clock.now_ns() == EPOCH_NS + 130_000_000  # the session's never waits

        replay = SessionRounds(LoopClock(epoch_ns=EPOCH_NS))
        replay.replay(recorder.told)
        started = [await replay.sync_start(0)]
        await replay.sweep_start()
        started.append(replay.clock.now_ns())
        await replay.sweep_start()  # one more than the session's: at once
        started.append(replay.clock.now_ns())
        return recorder.told, started

    told, started = run_simulated(scenario)
    assert told == [
        (ROUND, EPOCH_NS, (0,)),
        (SYNC, EPOCH_NS + 10_000_000, (0,)),
        (SWEEP, EPOCH_NS + 130_000_000, ()),
    ]
    assert started == [EPOCH_NS + 10_000_000, EPOCH_NS + 130_000_000, EPOCH_NS + 130_000_000]
