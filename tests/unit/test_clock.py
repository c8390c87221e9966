import asyncio

from bot.core.clock import LoopClock, run_simulated


def test_virtual_time_jumps_to_timers_and_keeps_order():
    async def main():
        clock = LoopClock(epoch_ns=1_000)
        seen = []

        async def sleeper(delay_s, tag):
            await asyncio.sleep(delay_s)
            seen.append((tag, clock.now_ns()))

        await asyncio.gather(sleeper(3600, "hour"), sleeper(0.5, "half"), sleeper(0.001, "ms"))
        return seen

    seen = run_simulated(main)
    assert seen == [("ms", 1_000 + 1_000_000), ("half", 1_000 + 500_000_000), ("hour", 1_000 + 3600 * 10**9)]


def test_virtual_time_timeouts_fire_at_their_deadline():
    async def main():
        clock = LoopClock(epoch_ns=0)
        try:
            await asyncio.wait_for(asyncio.sleep(50), timeout=10)
        except TimeoutError:
            return clock.now_ns()
        return None

    assert run_simulated(main) == 10 * 10**9
