"""Races between a clean stop and work still in flight (found by the crash recovery test)."""

from __future__ import annotations

import asyncio
import logging

from bot.ops.scheduler import JobScheduler


async def test_stop_lets_a_running_apscheduler_job_finish_instead_of_cancelling_it(caplog):
    sched = JobScheduler.for_clock("wall")
    started, finished = asyncio.Event(), []

    async def snapshot() -> None:
        started.set()
        await asyncio.sleep(0.3)  # a fetch_balances round trip in flight when the stop comes
        finished.append(True)

    sched.add("snapshot", 0.05, snapshot)
    sched.start()
    await asyncio.wait_for(started.wait(), 5)
    with caplog.at_level(logging.INFO):
        await sched.shutdown()
    assert finished == [True]
    assert sched.runs["snapshot"] == 1 and sched.failures["snapshot"] == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_job_that_outlives_the_grace_is_cancelled_and_the_stop_goes_on():
    sched = JobScheduler.for_clock("wall")
    started = asyncio.Event()

    async def stuck() -> None:
        started.set()
        await asyncio.sleep(60)

    sched.add("stuck", 0.05, stuck)
    sched.start()
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(sched.shutdown(grace_s=0.1), 2)
    assert sched.runs["stuck"] == 0
