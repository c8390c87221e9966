"""A market is requoted when its minimum requote interval has passed, at that instant: a book
arriving just before the due time neither wakes the loop into the 1 ms shortest wait (which
quoted 1 ms late) nor moves it (the real engine and order manager, a fake venue,
on the simulated clock)."""

import asyncio
from decimal import Decimal

import numpy as np

from bot.core.clock import LoopClock, run_simulated
from bot.core.events import BookSnapshot
from bot.kernel.controls import QuotingControls
from bot.kernel.engine import Engine
from bot.kernel.market_state import MarketState
from bot.kernel.order_manager import OrderManager
from bot.kernel.risk import RiskLimits
from bot.kernel.store import Store
from bot.kernel.targets import QuoteTargets
from tests.kit import stubs
from tests.kit.fake_venue import FakeVenue

MS = 1_000_000


class RecordingQuotes:
    """One bid and one ask around the book; records when it was asked."""

    name = "recording"
    slots = np.array([0], dtype=np.int64)

    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns
        self.asked_ms: list[float] = []

    def targets(self, state: MarketState, now_ns: int) -> QuoteTargets:
        self.asked_ms.append((now_ns - self.start_ns) / MS)
        mid = (int(state.best_bid_ticks[0]) + int(state.best_ask_ticks[0])) // 2
        return QuoteTargets.one_market(bids=[(mid - 200, 5)], asks=[(mid + 200, 5)])


def test_the_requote_falls_at_the_due_time_whatever_books_arrive_before_it(tmp_path):
    async def main() -> list[float]:
        clock = LoopClock()
        venue = FakeVenue(clock=clock)
        await venue.connect()
        state = MarketState([stubs.market()], [5], [100])
        store = Store(f"sqlite:///{tmp_path}/s.sqlite")
        limits = RiskLimits(Decimal(10**6), Decimal(10**7), 10)
        orders = OrderManager("t1", {"va": venue}, state, store, clock, limits, 1)
        orders.apply_balances("va", await venue.fetch_balances())
        engine = Engine(state, orders, clock)
        strategy = RecordingQuotes(clock.now_ns())
        engine.add_strategy(strategy, QuotingControls(markets=["va:BTC/USDT"], min_requote_interval_ms=250))
        p = stubs.PRICE_TICKS

        def book(offset: int) -> None:
            bids, asks = ((p - 500 + offset, 10),), ((p + 500 + offset, 10),)
            engine.on_event(BookSnapshot("va", "BTC/USDT", bids, asks, clock.now_ns(), clock.now_ns()))

        book(0)
        runner = asyncio.create_task(engine.run())
        # books at 100 ms, then 0.5 ms and 0.1 ms before the 250 ms due time, then 10 ms after it
        for at_ms, offset in ((100, 3), (249.5, 5), (249.9, 7), (260, 9)):
            await asyncio.sleep((at_ms * MS - (clock.now_ns() - strategy.start_ns)) / 1e9)
            book(offset)
        await asyncio.sleep(0.3)
        await engine.stop()
        runner.cancel()
        store.close()
        return strategy.asked_ms

    asked_ms = run_simulated(main)
    # before: the book at 249.9 ms moved it to 250.9 ms; then dirty since 260 ms, due at 500 ms
    assert asked_ms == [0.0, 250.0, 500.0]
