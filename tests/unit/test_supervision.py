"""The supervisor on the simulated clock: restarts with backoff, one ERROR per death, give-up."""

import asyncio
import logging
import random

from bot.core.clock import run_simulated
from bot.core.supervision import RestartPolicy, Supervisor, TaskChange, TaskState


class Flaky:
    """Dies `deaths` times (raising `error`), then runs until cancelled."""

    def __init__(self, deaths: int, error: Exception) -> None:
        self.deaths = deaths
        self.error = error
        self.starts: list[float] = []

    async def __call__(self) -> None:
        self.starts.append(asyncio.get_running_loop().time())
        if len(self.starts) <= self.deaths:
            await asyncio.sleep(0.1)
            raise self.error
        await asyncio.Event().wait()


def test_a_dying_task_is_restarted_with_growing_jittered_backoff_and_one_error_per_death(caplog):
    caplog.set_level(logging.DEBUG, logger="mmbot.supervisor")
    changes: list[TaskChange] = []
    flaky = Flaky(4, KeyError("spot"))

    async def main() -> tuple[TaskState, int, dict[str, str]]:
        sup = Supervisor(random.Random(7))
        sup.listeners.append(changes.append)
        sup.spawn("fx:fills", flaky, RestartPolicy(base_s=1.0, max_s=3.0), context="venue fx")
        await asyncio.sleep(30)
        status = sup.status("fx:fills")
        assert status is not None
        problems = sup.problems()
        await sup.stop()
        return status.state, status.restarts, problems

    state, restarts, problems = run_simulated(main)
    assert (state, restarts, problems) == (TaskState.UP, 4, {})
    gaps = [b - a - 0.1 for a, b in zip(flaky.starts, flaky.starts[1:], strict=False)]
    # ceilings 1, 2, 3 (capped), 3; equal jitter: between half and all of each
    for gap, ceiling in zip(gaps, (1.0, 2.0, 3.0, 3.0), strict=True):
        assert ceiling / 2 <= gap <= ceiling + 1e-6, gaps
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 4
    assert all("fx:fills [venue fx] died" in r.getMessage() and r.exc_info for r in errors)
    # listeners hear state changes only: died (1st of the streak), then UP/RESTARTING per restart
    assert [(c.state, c.deaths_in_a_row) for c in changes] == [
        (TaskState.RESTARTING, 1),
        (TaskState.UP, 1),
        (TaskState.RESTARTING, 2),
        (TaskState.UP, 2),
        (TaskState.RESTARTING, 3),
        (TaskState.UP, 3),
        (TaskState.RESTARTING, 4),
        (TaskState.UP, 4),
    ]


def test_expected_errors_are_not_errors_and_a_reporting_task_stays_restarting_until_up(caplog):
    caplog.set_level(logging.DEBUG, logger="mmbot.supervisor")
    changes: list[TaskChange] = []

    async def main() -> list[tuple[float, dict[str, str]]]:
        sup = Supervisor(random.Random(1))
        sup.listeners.append(changes.append)
        sup.spawn(
            "fx:book:BTC/USDT",
            Flaky(2, ConnectionError("closed")),
            RestartPolicy(base_s=0.5, max_s=1.0, expected=(ConnectionError,), reports_up=True),
        )
        seen = []
        for _ in range(6):
            await asyncio.sleep(1.0)
            seen.append((asyncio.get_running_loop().time(), sup.problems()))
        sup.up("fx:book:BTC/USDT", "book resynced")
        seen.append((asyncio.get_running_loop().time(), sup.problems()))
        await sup.stop()
        return seen

    seen = run_simulated(main)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert all(
        problems == {"fx:book:BTC/USDT": "restarting: ConnectionError: closed"} for _, problems in seen[:6]
    )
    assert seen[6][1] == {}
    assert [(c.state, c.expected, c.deaths_in_a_row) for c in changes] == [
        (TaskState.RESTARTING, True, 1),
        (TaskState.UP, True, 0),
    ]


def test_a_task_that_keeps_dying_is_given_up_and_a_new_spawn_recovers_it():
    changes: list[TaskChange] = []

    async def main() -> tuple[dict[str, str], TaskState, int]:
        sup = Supervisor(random.Random(2))
        sup.listeners.append(changes.append)
        broken = Flaky(99, ValueError("no pool named 'uniswap_sim'"))
        sup.spawn("strategy:arb", broken, RestartPolicy(base_s=1.0, max_s=2.0, give_up_after=3))
        await asyncio.sleep(60)
        problems = sup.problems()
        starts = len(broken.starts)
        sup.spawn("strategy:arb", Flaky(0, ValueError()), RestartPolicy(give_up_after=3))
        await asyncio.sleep(1)
        status = sup.status("strategy:arb")
        assert status is not None
        await sup.stop()
        return problems, status.state, starts

    problems, state, starts = run_simulated(main)
    assert starts == 3
    assert problems == {"strategy:arb": "failed: 3 deaths in a row: ValueError: no pool named 'uniswap_sim'"}
    assert state is TaskState.UP
    assert [c.state for c in changes] == [
        TaskState.RESTARTING,
        TaskState.UP,
        TaskState.RESTARTING,
        TaskState.UP,
        TaskState.FAILED,
        TaskState.UP,
    ]


def test_tracked_jobs_report_down_and_up_and_a_healthy_run_resets_the_streak():
    changes: list[TaskChange] = []

    async def main() -> None:
        sup = Supervisor(random.Random(3))
        sup.listeners.append(changes.append)
        sup.track("job:snapshot")
        sup.down("job:snapshot", "VenueUnavailable: fx down")
        sup.down("job:snapshot", "VenueUnavailable: fx still down")
        assert sup.problems() == {"job:snapshot": "restarting: VenueUnavailable: fx still down"}
        sup.up("job:snapshot", "ran")
        assert sup.problems() == {}

        dies_late = Flaky(2, RuntimeError("late"))

        async def slow_then_die() -> None:
            await asyncio.sleep(10)  # longer than healthy_after_s: each death is a first one
            await dies_late()

        sup.spawn(
            "engine", slow_then_die, RestartPolicy(base_s=0.1, max_s=0.1, healthy_after_s=5, give_up_after=2)
        )
        await asyncio.sleep(40)
        status = sup.status("engine")
        assert status is not None and status.state is TaskState.UP and status.restarts == 2
        await sup.stop()

    run_simulated(main)
    assert [(c.name, c.state, c.deaths_in_a_row) for c in changes[:2]] == [
        ("job:snapshot", TaskState.RESTARTING, 1),
        ("job:snapshot", TaskState.UP, 0),
    ]
    assert [c.deaths_in_a_row for c in changes[2:] if c.state is TaskState.RESTARTING] == [1, 1]
