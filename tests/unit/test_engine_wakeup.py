"""The engine's Wakeup: the requote loop's flag with a timeout (Event + wait_for without the task)."""

import asyncio

from bot.core.clock import run_simulated
from bot.kernel.wakeup import Wakeup


def test_a_set_flag_returns_at_once_and_a_wait_ends_at_set_or_timeout():
    async def main():
        loop = asyncio.get_running_loop()
        wake = Wakeup()
        wake.set()
        t0 = loop.time()
        await wake.wait(5.0)  # already set: no wait at all
        assert loop.time() == t0
        wake.clear()
        await wake.wait(0.25)  # nobody sets it: the timeout
        assert loop.time() - t0 == 0.25
        loop.call_later(0.1, wake.set)
        await wake.wait(None)  # no timeout: until set
        assert round(loop.time() - t0, 9) == 0.35
        assert wake.is_set()
        wake.clear()
        loop.call_later(0.1, wake.set)
        await wake.wait(10.0)  # set before the timeout
        assert round(loop.time() - t0, 9) == 0.45

    run_simulated(main)
