"""XEMM's hedging on two fake venues and the simulated clock, with faults a test switches on.

The real kernel (store, market state, order manager, engine intake) and the real XEMM strategy;
the venues are `tests.kit.fake_venue.FakeVenue` with a few faults: a silent user stream, an
answer lost after the venue executed, lookups that fail for a while, errors raised before the
order reaches the book. Maker fills are made by the test (`fill_maker`); the kit samples the true
net position (both venues' own fill lists) every 10 ms, so a scenario reports its exposure
maximum, end and how long it stayed naked, whatever the bot believed.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from decimal import Decimal

from bot.core.clock import LoopClock
from bot.core.domain import Market, OrderRequest, Side
from bot.core.events import FillEvent, OrderUpdate, VenueEvent
from bot.kernel.context import BotContext
from bot.kernel.engine import Engine
from bot.kernel.market_state import MarketState
from bot.kernel.new_order import NewOrder, TimeInForce
from bot.kernel.order_manager import OrderManager
from bot.kernel.reconcile import reconcile_venue
from bot.kernel.risk import RiskLimits
from bot.kernel.store import Store
from connectors.base import VenueError, VenueUnavailable
from strategies.xvenue.obligation_store import ObligationStore
from strategies.xvenue.store import XemmRoundTripRow, XvenueLedger
from strategies.xvenue.xemm import XemmParams, XemmStrategy
from tests.kit import stubs
from tests.kit.fake_venue import FakeVenue

EPOCH_NS = 1_767_225_600 * 1_000_000_000
PRICE = 600_000  # 60 000.0 at tick 0.1
NS = 1_000_000_000


class FaultyVenue(FakeVenue):
    """A fake venue with switchable faults (all off by default)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.silent = False  # own order and fill events never reach the bot (a dead user stream)
        self.place_errors: list[VenueError] = []  # raised by the next placements, before the book
        self.lose_answers = 0  # the next placements execute, then the answer is lost (a 503)
        self.lookups_down_until = 0.0  # loop time: fetch_order / fetch_fills answer 503 before it
        self.placed = 0

    @property
    def signed_base(self) -> Decimal:
        """Base bought minus sold on this venue, from its own fills (the truth)."""
        market = next(iter(self.markets.values()))
        return sum((f.side.sign * market.size(f.size_lots) for f in self._fills), Decimal(0))

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        if self.place_errors:
            self.calls.append("place_order")
            raise self.place_errors.pop(0)
        self.placed += 1
        update = await super().place_order(request)
        if self.lose_answers > 0:
            self.lose_answers -= 1
            raise VenueUnavailable(self.name, "503 after the order was executed (injected)")
        return update

    async def fetch_order(self, symbol: str, client_order_id: str) -> OrderUpdate:
        self._lookup()
        return await super().fetch_order(symbol, client_order_id)

    async def fetch_fills(self, symbol: str | None = None, since_ns: int | None = None) -> list:  # type: ignore[type-arg]
        self._lookup()
        return await super().fetch_fills(symbol, since_ns)

    def _lookup(self) -> None:
        if asyncio.get_running_loop().time() < self.lookups_down_until:
            raise VenueUnavailable(self.name, "503 on signed calls (injected)")

    def _deliver(self, event: VenueEvent) -> None:
        if self.silent and isinstance(event, FillEvent | OrderUpdate):
            return
        super()._deliver(event)


@dataclass
class Exposure:
    """The true net base across both venues, sampled every 10 ms of virtual time."""

    lot: Decimal
    max_abs: Decimal = Decimal(0)
    naked_s: list[float] = field(default_factory=list)  # each interval at one lot or more
    _since: float | None = None

    def sample(self, net: Decimal, now: float) -> None:
        self.max_abs = max(self.max_abs, abs(net))
        if abs(net) >= self.lot and self._since is None:
            self._since = now
        elif abs(net) < self.lot and self._since is not None:
            self.naked_s.append(now - self._since)
            self._since = None


class Scenario:
    """Maker venue "va" (lot 0.001), taker venue "vb" (lot `taker_lot`), XEMM "x" between them."""

    def __init__(
        self, db_url: str, *, taker_lot: str = "0.001", taker_fee_bps: int = 5, **params: object
    ) -> None:
        self.db_url, self.params = db_url, params
        self.clock = LoopClock(epoch_ns=EPOCH_NS)
        self.maker_market = stubs.market(venue="va")
        self.taker_market = stubs.market(venue="vb", lot_size=taker_lot, taker_fee_bps=taker_fee_bps)
        self.maker = FaultyVenue("va", [self.maker_market], clock=self.clock)
        self.taker = FaultyVenue("vb", [self.taker_market], clock=self.clock)
        self.taker_lots_deep = 1_000
        self.exposure = Exposure(Decimal(taker_lot))
        self.xemm: XemmStrategy | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._seq = 1

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, build the kernel (a fresh one per start, like a restart) and run XEMM."""
        self.store = Store(self.db_url, "t1")
        markets: list[Market] = [self.maker_market, self.taker_market]
        self.state = MarketState(markets, [5, 5], [1_000, 1_000])
        venues = {"va": self.maker, "vb": self.taker}
        self.orders = OrderManager(
            "t1", venues, self.state, self.store, self.clock,
            RiskLimits(Decimal(10**9), Decimal(10**9), 100), (self.store.max_order_seq() or 0) + 1,
        )  # fmt: skip
        self.engine = Engine(self.state, self.orders, self.clock)
        for name, venue in venues.items():
            await venue.connect()
            self.orders.apply_balances(name, await venue.fetch_balances())
            await venue.start_streams([stubs.SYMBOL], self.engine.on_event)
        for name, venue in venues.items():  # the start-up reconciliation, before any strategy runs
            market = self.maker_market if name == "va" else self.taker_market
            await reconcile_venue(venue, {market.symbol: market}, self.store, self.orders, self.clock, "t1")
        self.set_taker_book()
        params = XemmParams.model_validate(
            {
                "kind": "xemm", "maker_markets": ["va:BTC/USDT"], "taker_market": "vb:BTC/USDT",
                "hedge_retry_delay_ms": 100, "hedge_escalate_after_s": 2.0, "hedge_fill_wait_ms": 200,
                **self.params,
            }
        )  # fmt: skip
        self.xemm = XemmStrategy("x", params, self.state)
        self.engine.listeners.append(self.xemm.on_event)
        self.ctx = BotContext(self.clock, self.store, venues, self.state, self.orders, self.engine)
        await asyncio.sleep(0)  # books in
        self._tasks = [asyncio.create_task(self.xemm.run(self.ctx)), asyncio.create_task(self._sample())]
        await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Like a crash: tasks cancelled, nothing cleaned up."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.engine.listeners.clear()

    def set_taker_book(self) -> None:
        """A deep taker book around 60 000 (one tick each side), refreshed after every hedge."""
        deep = self.taker_lots_deep
        self.taker.set_book(stubs.SYMBOL, [(PRICE - 1, deep)], [(PRICE + 1, deep)])

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.exposure.sample(self.net_base, loop.time())
            await asyncio.sleep(0.01)

    # ---- trading -----------------------------------------------------------------------------

    @property
    def net_base(self) -> Decimal:
        return self.maker.signed_base + self.taker.signed_base

    async def fill_maker(self, side: Side, lots: int, *, price_ticks: int = PRICE) -> str:
        """Rest a post-only maker order and have a taker trade all of it."""
        book_side = price_ticks - 10 if side is Side.BUY else price_ticks + 10
        sent = await self.orders.submit(0, [NewOrder(side, book_side, lots, TimeInForce.POST_ONLY)])
        cid = sent[0].client_order_id
        await asyncio.sleep(0)
        self.maker.fill(cid)
        await asyncio.sleep(0)
        return cid

    # ---- what the store says ---------------------------------------------------------------------

    def obligations(self) -> list[XemmRoundTripRow]:
        return XvenueLedger(Store(self.db_url, "t1")).round_trips("x")

    def hedges(self) -> list:  # type: ignore[type-arg]
        return ObligationStore(Store(self.db_url, "t1"), "x").hedges()

    def alerts(self) -> list[str]:
        return [e.detail for e in Store(self.db_url, "t1").events("alert")]

    def hedge_delays_s(self) -> list[float]:
        return [(o.done_ts_ns - o.fill_ts_ns) / NS for o in self.obligations() if o.done_ts_ns is not None]

    def figures(self) -> str:
        delays = sorted(self.hedge_delays_s())
        worst = f"{delays[-1]:.3f}" if delays else "-"
        return (
            f"net max {self.exposure.max_abs} end {self.net_base}; "
            f"naked > 1 lot {[round(s, 2) for s in self.exposure.naked_s]} s; hedge delay max {worst} s"
        )

    def check_ledger(self) -> None:
        """Every maker fill has exactly one obligation; each obligation's hedged + netted parts sum
        to it; the hedge fills booked sum (signed) to the taker venue's real fills."""
        store = Store(self.db_url, "t1")
        maker_fills = store.fills("va")
        obligations = [o for o in self.obligations() if not o.maker_trade_id.startswith("overhedge:")]
        assert sorted(o.maker_trade_id for o in obligations) == sorted(f.venue_trade_id for f in maker_fills)
        for o in self.obligations():
            done = Decimal(o.hedged_base) + Decimal(o.netted_base)
            assert done <= Decimal(o.size_base), o
            assert (o.status == "hedged") == (done == Decimal(o.size_base)), o
        hedged = sum(
            ((1 if o.maker_side == "buy" else -1) * Decimal(o.hedged_base) for o in self.obligations()),
            Decimal(0),
        )
        assert hedged == -self.taker.signed_base  # a hedge sell settles a maker buy
        netted = sum(
            ((1 if o.maker_side == "buy" else -1) * Decimal(o.netted_base) for o in self.obligations()),
            Decimal(0),
        )
        assert netted == 0
        booked = sum(h.booked_lots for h in self.hedges())
        assert booked == sum(f.size_lots for f in store.fills("vb"))


def side_of(row: XemmRoundTripRow) -> Side:
    return Side(row.maker_side)
