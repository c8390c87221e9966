"""A market's order sync stopped by a venue's 429 (after the adapter's own retries) is a warning,
not an engine error: the order is stored rejected and the next sync places it (the real engine,
order manager and mock venue, on the simulated clock)."""

import logging

from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import OrderRequest
from bot.core.events import OrderUpdate
from bot.kernel.order_diff import RefreshPolicy
from bot.kernel.targets import QuoteTargets
from connectors.base import RateLimited
from connectors.mock.venue import MockVenue
from tests.kit.mock_market import mock_market, mock_venue_params


class BusyVenue(MockVenue):
    """The real mock venue, answering its first order 429."""

    busy = 1

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        if self.busy > 0:
            self.busy -= 1
            raise RateLimited(self.name, "429 (injected)", retry_after_s=0.2)
        return await super().place_order(request)


def test_a_rate_limited_sync_is_a_warning_and_the_next_sync_places(tmp_path, caplog):
    async def main():
        venue = BusyVenue("vb", mock_venue_params("vb", "0.1", 1), LoopClock())
        m = await mock_market(venue, tmp_path)
        state, store, orders, engine = m.state, m.store, m.orders, m.engine
        assert engine is not None
        bid = int(state.best_bid_ticks[0]) - 10
        wanted, policy = QuoteTargets.one_market(bids=[(bid, 5)], asks=[]), RefreshPolicy(0, 0.0, 10**12)
        await engine._sync(0, wanted, policy)
        await engine._sync(0, wanted, policy)
        placed = [(r.price_ticks, r.size_lots) for r in store.open_orders("vb")]
        rejected, live = orders.counters.rejected, len(orders.live)
        await venue.close()
        return rejected, placed, live, bid

    with caplog.at_level(logging.WARNING, logger="mmbot.engine"):
        rejected, placed, live, bid = run_simulated(main)
    assert rejected == 1 and placed == [(bid, 5)] and live == 1  # stored rejected, then placed
    engine_logs = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "mmbot.engine"]
    assert engine_logs == [(logging.WARNING, engine_logs[0][1])] and "rate limited" in engine_logs[0][1]
