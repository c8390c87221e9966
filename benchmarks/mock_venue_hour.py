"""CPU cost of one simulated hour of the mock venue (2 markets, default flow).

Prints the synchronous core alone (exchange + flow driven by a plain loop, books published every
100 ms) as the reference, then the full asyncio MockVenue on virtual time with a sink attached,
and the ratio between the two.

    python benchmarks/mock_venue_hour.py
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from bot.core.clock import LoopClock, run_simulated
from connectors.mock.exchange import MockExchange
from connectors.mock.flow import NS_PER_S, OrderFlow
from connectors.mock.params import MockMarketParams, MockVenueParams
from connectors.mock.venue import MockVenue

HOUR_S = 3600
PARAMS = MockVenueParams(
    seed=1,
    initial_balances={"USDT": Decimal(100_000)},
    markets=[
        MockMarketParams(symbol="BTC/USDT", tick_size="0.01", lot_size="0.001", initial_price="60000"),
        MockMarketParams(symbol="ETH/USDT", tick_size="0.01", lot_size="0.01", initial_price="3000"),
    ],
)


def core_only() -> tuple[float, int]:
    exchange = MockExchange("mock", [m.to_market("mock") for m in PARAMS.markets])
    events = 0

    def count(_account: str | None, _event: object) -> None:
        nonlocal events
        events += 1

    exchange.add_listener(count)
    flow = OrderFlow(exchange, PARAMS.markets, PARAMS.seed, start_ns=0)
    step_ns = int(PARAMS.book_publish_interval_ms * 1_000_000)
    started = time.process_time()
    for ts_ns in range(step_ns, HOUR_S * NS_PER_S + 1, step_ns):
        flow.advance_to(ts_ns)
        exchange.publish_books(ts_ns, PARAMS.book_depth)
    return time.process_time() - started, events


def full_venue() -> tuple[float, int]:
    received: list[object] = []

    async def main() -> None:
        venue = MockVenue("mock", PARAMS, LoopClock(epoch_ns=0))
        await venue.connect()
        await venue.start_streams([m.symbol for m in PARAMS.markets], received.append)
        await asyncio.sleep(HOUR_S)
        await venue.close()

    started = time.process_time()
    run_simulated(main)
    return time.process_time() - started, len(received)


if __name__ == "__main__":
    core_s, core_events = core_only()
    venue_s, venue_events = full_venue()
    print(f"core only : {core_s:6.2f} s CPU per simulated hour, {core_events} events")
    print(f"MockVenue : {venue_s:6.2f} s CPU per simulated hour, {venue_events} events delivered")
    print(f"ratio     : {venue_s / core_s:6.2f}x the core (asyncio timers, latency, delivery)")
    print(f"speed-up  : {HOUR_S / venue_s:6.0f}x real time")
