"""The paper venue against `mmbot mock-exchange`'s public streams, through real ccxt.pro.

The facade's own flow is off (tests/ccxt/conftest.py QUIET): its book and tape change only when
the test places background orders, so each step's effect on our paper order is known exactly.
The paper venue has no API key: the facade never sees our orders, only the paper matching does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import OrderRequest, OrderState, Side
from bot.core.events import BookSnapshot, FillEvent, PublicTrade, VenueEvent
from connectors.mock.facade import FacadeHandle
from connectors.paper.params import PaperVenueParams
from connectors.paper.venue import PaperVenue
from connectors.replay.events import EventData, load_events
from connectors.replay.exchange import ReplayExchange
from connectors.replay.params import ReplayVenueParams
from connectors.replay.recorded_latency import RecordedLatency, load_timing
from connectors.replay.venue import ReplayVenue
from tests.ccxt.conftest import BINANCE_LOCAL_OPTIONS

BTC = "BTC/USDT"


def paper_params(facade: FacadeHandle, tmp_path: Path, **overrides: Any) -> PaperVenueParams:
    fields: dict[str, Any] = {
        "exchange": "binance",
        "urls": facade.url,
        "options": BINANCE_LOCAL_OPTIONS,
        "stale_book_s": 30.0,
        "backoff_base_s": 0.05,
        "backoff_max_s": 0.5,
        "rate_limit_ms": 1,
        "maker_fee_bps": "1",
        "taker_fee_bps": "5",
        "order_latency_ms": 2,
        "initial_balances": {"USDT": "100000", "BTC": "1"},
        "record_dir": str(tmp_path / "rec"),
    }
    fields.update(overrides)
    return PaperVenueParams(**fields)


class Seen:
    """Every event the venue pushed, and a way to wait for one."""

    def __init__(self) -> None:
        self.events: list[VenueEvent] = []

    def __call__(self, event: VenueEvent) -> None:
        self.events.append(event)

    async def until(self, test: Callable[[VenueEvent], bool], timeout_s: float = 10.0) -> VenueEvent:
        async def wait() -> VenueEvent:
            while True:
                for event in self.events:
                    if test(event):
                        return event
                await asyncio.sleep(0.01)

        return await asyncio.wait_for(wait(), timeout_s)

    def fills(self) -> list[FillEvent]:
        return [e for e in self.events if isinstance(e, FillEvent)]


@pytest.fixture
async def paper(facade: FacadeHandle, tmp_path: Path) -> AsyncIterator[tuple[PaperVenue, Seen]]:
    venue = PaperVenue("pv", paper_params(facade, tmp_path), LoopClock())
    seen = Seen()
    await venue.connect()
    await venue.start_streams([BTC], seen)
    await seen.until(lambda e: isinstance(e, BookSnapshot) and bool(e.bids))
    try:
        yield venue, seen
    finally:
        await venue.close()


def await_closed_fills(venue: PaperVenue) -> list[Any]:
    return list(venue._fills)  # fetch_fills needs a connected venue; the session is closed


def bid(cid: str, price: int, lots: int) -> OrderRequest:
    return OrderRequest(cid, "pv", BTC, Side.BUY, price, lots)


async def book_shows(seen: Seen, side: int, price: int, lots: int) -> None:
    def test(e: VenueEvent) -> bool:
        if not isinstance(e, BookSnapshot):
            return False
        return dict(e.bids if side > 0 else e.asks).get(price) == lots

    await seen.until(test)


async def printed(seen: Seen, n: int) -> None:
    await seen.until(lambda e: sum(isinstance(x, PublicTrade) for x in seen.events) >= n)


async def test_a_resting_bid_fills_only_for_the_print_beyond_the_queue_ahead(
    paper: tuple[PaperVenue, Seen],
    facade: FacadeHandle,
    tmp_path: Path,
) -> None:
    venue, seen = paper
    ex = facade.exchange
    best = ex.book(BTC).best_bid()
    assert best is not None
    queue = dict(ex.depth(BTC, 1)[0])[best]  # the background's size at the best bid: ahead of us
    arrivals = []
    ack = await venue.place_order(bid("b1", best, 5))
    arrivals.append((ack.exchange_ts_ns, bid("b1", best, 5)))
    assert ack.state is OrderState.OPEN

    # Book moves alone: more size joins our level (behind us), an ask comes down to one tick above.
    now = venue.clock.now_ns()
    ex.background_place(BTC, Side.BUY, best, 10, now)
    ex.background_place(BTC, Side.SELL, best + 1, 4, now)
    await book_shows(seen, -1, best + 1, 4)
    # The tape prints at our price, less than the queue ahead of us.
    ex.background_take(BTC, Side.SELL, queue - 2, venue.clock.now_ns(), limit_price_ticks=best)
    await printed(seen, 1)
    await book_shows(seen, 1, best, 12 + 5)  # the exchange's 12 left, and our 5 shown with them
    assert seen.fills() == []

    # The next print at our price: 2 of it are still ahead of us, 3 more reach our order.
    trades_before = sum(isinstance(e, PublicTrade) for e in seen.events)
    ex.background_take(BTC, Side.SELL, 5, venue.clock.now_ns(), limit_price_ticks=best)
    await seen.until(lambda e: isinstance(e, FillEvent))
    await printed(seen, trades_before + 1)
    fills = [e.fill for e in seen.fills()]
    assert [(f.price_ticks, f.size_lots, f.is_maker) for f in fills] == [(best, 3, True)]
    assert (await venue.fetch_order(BTC, "b1")).filled_lots == 3
    balances = await venue.fetch_balances()
    market = venue.markets[BTC]
    assert balances["BTC"].free == Decimal("1") + market.size(3)
    cost = market.notional(best, 3) * (1 + Decimal("0.0001"))
    assert balances["USDT"].free + balances["USDT"].locked == Decimal("100000") - cost

    # A taker buy walks the live book: the 4 at best+1, then the background's next ask level.
    ask = ex.book(BTC).best_ask()
    assert ask == best + 1
    levels = dict(ex.depth(BTC, 3)[1])
    second = min(p for p in levels if p > ask)
    ioc = OrderRequest("t1", "pv", BTC, Side.BUY, second, 6, post_only=False, immediate_or_cancel=True)
    ack = await venue.place_order(ioc)
    arrivals.append((ack.exchange_ts_ns, ioc))
    taker = [
        (f.price_ticks, f.size_lots, f.is_maker)
        for f in await venue.fetch_fills(BTC)
        if f.client_order_id == "t1"
    ]
    assert taker == [(ask, 4, False), (second, 2, False)]
    assert ex.book(BTC).best_ask() == ask  # paper orders never touch the exchange

    # The recorded session, replayed with the same requests at the same times: the same fills.
    await venue.close()
    paper_fills = [
        (f.client_order_id, f.side, f.price_ticks, f.size_lots, f.is_maker, f.fee, f.exchange_ts_ns)
        for f in await_closed_fills(venue)
    ]
    [path] = venue.recordings[BTC].files
    data = load_events(path)
    replay = ReplayExchange(
        "pv", data, venue.params.matching_params(Decimal(1), Decimal(5), market.min_notional)
    )
    for ts, request in arrivals:
        replay.advance(ts)
        replay.place(request, ts, ts)
    replay.advance(data.end_ns)
    replayed = [
        (f.client_order_id, f.side, f.price_ticks, f.size_lots, f.is_maker, f.fee, f.exchange_ts_ns)
        for f in replay.fills()
    ]
    assert len(paper_fills) == 3
    assert replayed == paper_fills

    # The same through a replay venue on the simulated clock, each request sent when the session
    # sent it: with the session's recorded timing, the same fills; with a synthetic latency, not.
    assert venue.timing is not None
    trips = load_timing(venue.timing.path)
    assert {"place:b1", "place:t1", "fetch_order#0", "fetch_balances#0", "start_streams#0"} <= trips.keys()
    assert trips["place:b1"].arrive_ns == arrivals[0][0]
    calls = [(trips[f"place:{r.client_order_id}"].call_ns, r) for _, r in arrivals]
    replay_params = venue.params.matching_params(Decimal(1), Decimal(5), market.min_notional)
    timed = replay_params.model_copy(update={"session_timing": str(venue.timing.path)})
    assert await asyncio.to_thread(replay_venue_fills, data, timed, calls) == paper_fills
    slower = replay_params.model_copy(update={"order_latency_ms": 40})
    assert await asyncio.to_thread(replay_venue_fills, data, slower, calls) != paper_fills


def replay_venue_fills(
    data: EventData, params: ReplayVenueParams, calls: list[tuple[int, OrderRequest]]
) -> list[tuple[Any, ...]]:
    """A ReplayVenue on `data` (simulated clock from its first row), `calls` placed at their times."""

    async def run() -> list[tuple[Any, ...]]:
        clock = LoopClock(epoch_ns=data.start_ns)
        venue = ReplayVenue("pv", params, clock, data=data)
        await venue.connect()
        await venue.start_streams([BTC], lambda event: None)
        for call_ns, request in calls:
            await asyncio.sleep(max(call_ns - clock.now_ns(), 0) / 1e9)
            await venue.place_order(request)
        await venue.finished.wait()
        assert venue.exchange is not None
        if params.session_timing is not None:  # every request took the session's own latencies
            assert isinstance(venue.latency, RecordedLatency)
            assert (venue.latency.replayed, venue.latency.missed) == (len(calls), 0)
        fills = venue.exchange.fills()
        await venue.close()
        return [
            (f.client_order_id, f.side, f.price_ticks, f.size_lots, f.is_maker, f.fee, f.exchange_ts_ns)
            for f in fills
        ]

    return run_simulated(run)


async def test_a_live_ask_crossing_a_resting_bid_fills_nothing_until_the_tape_trades_through_it(
    paper: tuple[PaperVenue, Seen],
    facade: FacadeHandle,
) -> None:
    """The exchange never saw our paper bid: an ask posted at its price traded with nobody, so the
    bid fills only when a print reaches it (a replay, `fill_on_crossing_book`, would fill here)."""
    venue, seen = paper
    ex = facade.exchange
    best_bid, best_ask = ex.book(BTC).best_bid(), ex.book(BTC).best_ask()
    assert best_bid is not None and best_ask is not None and best_ask - best_bid > 2
    ours = best_bid + 1  # inside the live spread: nothing of the exchange's at or ahead of it
    assert (await venue.place_order(bid("x1", ours, 5))).state is OrderState.OPEN
    ex.background_place(BTC, Side.SELL, ours, 4, venue.clock.now_ns())  # rests: no live bid there
    await book_shows(seen, -1, ours, 4)
    await asyncio.sleep(0.2)  # several more publications of the crossed book
    assert seen.fills() == [] and (await venue.fetch_order(BTC, "x1")).filled_lots == 0
    # A seller hits the live best bid, below ours: it met our better-priced bid first.
    ex.background_take(BTC, Side.SELL, 3, venue.clock.now_ns(), limit_price_ticks=best_bid)
    await seen.until(lambda e: isinstance(e, FillEvent))
    fills = [(e.fill.price_ticks, e.fill.size_lots, e.fill.is_maker) for e in seen.fills()]
    assert fills == [(ours, 3, True)]
