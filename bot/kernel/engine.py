"""The event core: venue events update per-market arrays; strategies are called on events.

There is no polling tick. A market is requoted when something changed (book, fill, an order
closed) or its orders are getting old, but never more often than its strategy's minimum requote
interval. Cancels and creates for different markets run concurrently; one market never has two
syncs in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bot.core.clock import NS_PER_S, Clock
from bot.core.domain import Side
from bot.core.events import (
    BalanceUpdate,
    BookSnapshot,
    BookStatus,
    FillEvent,
    OrderUpdate,
    PublicTrade,
    VenueEvent,
    VenueStatus,
)
from bot.kernel.controls import QuotingControls
from bot.kernel.market_state import MarketState, others_level
from bot.kernel.order_diff import RefreshPolicy
from bot.kernel.order_manager import OrderManager
from bot.kernel.order_sync import requote_market
from bot.kernel.session_rounds import ROUND, SessionRounds
from bot.kernel.strategy import EventHook, LiveOrdersReader, QuoteStrategy, SelfTradeGroups
from bot.kernel.targets import QuoteTargets
from bot.kernel.wakeup import Wakeup
from connectors.base import RateLimited

log = logging.getLogger("mmbot.engine")


NO_QUOTES = QuoteTargets.empty(1, 0)  # paused, disconnected or stopping: cancel, place nothing
CANCEL_ALL = RefreshPolicy(0, 0.0, 1)  # keeps no order
# asyncio runs a timer up to its clock resolution (1 ns) before its deadline: a market due at a
# timer's time counts as due then, not 1 ms (the shortest wait) or a book later
TIMER_EARLY_NS = 1_000


@dataclass(slots=True)
class QuotingStrategy:
    strategy: QuoteStrategy
    controls: QuotingControls
    attached: bool = False  # driven by an active strategy's run (XEMM), not swapped by a reload
    # Position of each of its slots at that slot's previous requote: a fill since then moved the
    # skew (bot.kernel.order_diff). A new strategy (reload) starts empty: its first requote is exact.
    quoted_position_lots: dict[int, int] = field(default_factory=dict)

    @property
    def max_order_age_ns(self) -> int:
        return int(self.controls.max_order_age_s * NS_PER_S)

    def policy(self, mid_price: float, tick_size: float, inventory_changed: bool = False) -> RefreshPolicy:
        c = self.controls
        tolerance = c.refresh_tolerance_ticks
        if c.refresh_tolerance_bps > 0 and mid_price == mid_price:
            tolerance = max(tolerance, int(c.refresh_tolerance_bps * mid_price / 1e4 / tick_size))
        return RefreshPolicy(
            tolerance,
            c.size_tolerance,
            self.max_order_age_ns,
            c.refresh_tolerance_half_spread_fraction,
            inventory_changed and c.requote_on_inventory_change,
        )

    def requote_policy(self, state: MarketState, slot: int) -> RefreshPolicy:
        """The policy of a requote of `slot` starting now; remembers the position it quotes."""
        position = int(state.position_lots[slot])
        changed = self.quoted_position_lots.get(slot) != position
        self.quoted_position_lots[slot] = position
        return self.policy(float(state.mid_price[slot]), float(state.tick_size[slot]), changed)

    @property
    def min_interval_ns(self) -> int:
        return int(self.controls.min_requote_interval_ms * 1_000_000)


class Engine:
    def __init__(self, state: MarketState, orders: OrderManager, clock: Clock) -> None:
        self.state = state
        self.orders = orders
        self.clock = clock
        self.strategies: list[QuotingStrategy] = []
        self.paused = False
        self.events_processed = 0
        self.bad_events = 0
        self._wake = Wakeup()
        self._in_flight = np.zeros(len(state), dtype=bool)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._venue_connected: dict[str, bool] = {}
        self._dead_books: set[int] = set()  # slots whose book is not live (lost or stalled)
        self.retired: set[int] = set()  # slots of markets a reload removed: not streamed any more
        self._unowned: set[int] = set()  # slots whose strategy went away: orders to cancel
        # Active strategies' on_event hooks, called after the engine applied each event.
        self.listeners: list[Callable[[VenueEvent], None]] = []
        self.rounds = SessionRounds(clock)  # told each round (a paper session's venue), or redone

    # ---- event intake (the venues' sink) ---------------------------------------------------

    def on_event(self, event: VenueEvent) -> None:
        """Called by venues for every event; a bad event is logged and skipped, never fatal."""
        self.events_processed += 1
        if type(event) is not PublicTrade:  # the most frequent event, and the one with nothing to do
            try:
                self._dispatch(event)
            except Exception:
                self.bad_events += 1
                log.exception("skipped an event that could not be applied: %r", event)
                return
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed on %r", listener, event)

    def _dispatch(self, event: VenueEvent) -> None:
        if isinstance(event, BookSnapshot):
            self._on_book(event)
        elif isinstance(event, FillEvent):
            if self.orders.apply_fill(event.fill):
                self._wake.set()
        elif isinstance(event, OrderUpdate):
            self.orders.apply_update(event)
            self._wake.set()
        elif isinstance(event, BalanceUpdate):
            self.orders.apply_balances(event.venue, event.balances)
        elif isinstance(event, VenueStatus):
            self._set_venue_connected(event.venue, event.connected, event.detail)
        elif isinstance(event, BookStatus):
            self._set_book_live(event)
        # PublicTrade (a subclass's too): the engine has nothing to do; the estimators listen

    def _on_book(self, event: BookSnapshot) -> None:
        """The hot path: the market's top, and the others' top without our resting orders."""
        slot = self.state.slot(event.venue, event.symbol)
        if slot is None:
            return
        bid, bid_lots = event.bids[0] if event.bids else (0, 0)
        ask, ask_lots = event.asks[0] if event.asks else (0, 0)
        others_bid = others_ask = None  # no order of ours: the others' top is the top
        if self.orders.live:
            ours = self.orders.orders_of(slot)
            if ours:
                others_bid = others_level(event.bids, ours, Side.BUY)
                others_ask = others_level(event.asks, ours, Side.SELL)
        was_dirty = self.state.dirty[slot]
        self.state.update_top(
            slot, bid, ask, event.local_ts_ns, bid_lots, ask_lots,
            others_bid=others_bid, others_ask=others_ask,
        )  # fmt: skip
        if not was_dirty:  # else the loop knows: a timer for its due time, or its sync's end wakes it
            self._wake.set()

    def _set_venue_connected(self, venue: str, connected: bool, detail: str) -> None:
        was_connected = self._venue_connected.get(venue, True)
        if was_connected != connected:
            log.warning("venue %s %s: %s", venue, "connected" if connected else "DISCONNECTED", detail)
        self._venue_connected[venue] = connected
        for slot, market in enumerate(self.state.markets):
            if market.venue == venue:
                self.state.quoting_enabled[slot] = connected and slot not in self._dead_books
                self.state.mark_dirty(slot)
        if was_connected and not connected and not self._stopping:
            # Pulled now, not at the next requote round: a resync can declare the feed healthy
            # again within milliseconds, and quotes made on the stale book must not survive it.
            task = asyncio.get_running_loop().create_task(self._pull(venue), name=f"pull-{venue}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._wake.set()

    async def _pull(self, venue: str) -> None:
        try:
            await self.orders.cancel_all(venue)
        except Exception:
            log.exception("pulling the quotes of disconnected venue %s failed", venue)

    def _set_book_live(self, event: BookStatus) -> None:
        """One market's book lost or back: only that market's quotes are pulled or resumed."""
        slot = self.state.slot(event.venue, event.symbol)
        if slot is None:
            return
        was_live = slot not in self._dead_books
        if event.live:
            self._dead_books.discard(slot)
        else:
            self._dead_books.add(slot)
        self.state.quoting_enabled[slot] = event.live and self.venue_connected(event.venue)
        self.state.mark_dirty(slot)
        if was_live and not event.live and not self._stopping:
            # Now, not at the next round: quotes made on a stalled book must not survive its resync.
            task = asyncio.get_running_loop().create_task(self._pull_market(slot), name=f"pull-{slot}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._wake.set()

    async def _pull_market(self, slot: int) -> None:
        cids = [o.client_order_id for o in self.orders.orders_of(slot)]
        try:
            await asyncio.gather(*(self.orders.cancel_order(cid) for cid in cids))
        except Exception:
            log.exception("pulling the quotes of %s (book not live) failed", self.state.markets[slot].key)

    def book_live(self, slot: int) -> bool:
        """Whether the market's book last said live (True until its venue says otherwise)."""
        return slot not in self._dead_books

    def set_retired(self, slots: set[int]) -> None:
        """Markets a reload removed (their slots stay): no stream, no quotes, no book verdict."""
        self.retired = set(slots)
        self._dead_books -= self.retired

    def venue_connected(self, venue: str) -> bool:
        """Whether the venue's streams last said connected (True until a venue says otherwise)."""
        return self._venue_connected.get(venue, True)

    # ---- quoting ----------------------------------------------------------------------------

    def add_strategy(self, strategy: QuoteStrategy, controls: QuotingControls) -> None:
        """A quoting strategy of the config (swapped as a whole by `replace_strategies`)."""
        self._add(QuotingStrategy(strategy, controls))

    def attach(self, strategy: QuoteStrategy, controls: QuotingControls) -> None:
        """Quote for an active strategy while it runs (its maker quotes); `detach` when it stops.

        Its event hook is the active strategy's business, not registered here.
        """
        self._add(QuotingStrategy(strategy, controls, attached=True))

    def detach(self, strategy: QuoteStrategy) -> None:
        """Stop quoting for `strategy`; its markets' orders are cancelled on the next round."""
        for qs in [qs for qs in self.strategies if qs.strategy is strategy]:
            self._remove(qs)
        self._wake.set()

    def _add(self, qs: QuotingStrategy) -> None:
        self.strategies.append(qs)
        strategy = qs.strategy
        if not qs.attached and isinstance(strategy, EventHook):
            self.listeners.append(strategy.on_event)
        if isinstance(strategy, LiveOrdersReader):
            strategy.read_orders_from(self.orders.orders_of)
        if isinstance(strategy, SelfTradeGroups) and strategy.stp_groups:
            self.orders.self_trade.register(strategy, strategy.stp_groups, self.requote_slot)
        self._unowned -= {int(s) for s in strategy.slots}
        self.state.mark_dirty(strategy.slots)
        self._wake.set()

    def _remove(self, qs: QuotingStrategy) -> None:
        """Unhook `qs`; markets no remaining strategy quotes have their orders cancelled."""
        self.strategies.remove(qs)
        strategy = qs.strategy
        if isinstance(strategy, EventHook) and strategy.on_event in self.listeners:
            self.listeners.remove(strategy.on_event)
        self.orders.self_trade.unregister(strategy)
        still = {int(s) for other in self.strategies for s in other.strategy.slots}
        self._unowned |= {int(s) for s in strategy.slots} - still

    def requote_slot(self, slot: int) -> None:
        """Requote one market on the next round (a held-back quote of it may go now)."""
        self.state.mark_dirty(slot)
        self._wake.set()

    def replace_strategies(self, strategies: list[tuple[QuoteStrategy, QuotingControls]]) -> None:
        """Swap every quoting strategy of the config at once (hot reload).

        Markets still quoted are requoted under the new parameters on the next round; markets no
        strategy quotes any more have their orders cancelled. The new models' event hooks
        (estimators) replace the old ones, so they warm up again from the next events. Attached
        strategies stay: their active strategy is swapped on its own.
        """
        for qs in [qs for qs in self.strategies if not qs.attached]:
            self._remove(qs)
        for strategy, controls in strategies:
            self._add(QuotingStrategy(strategy, controls))
        self.state.mark_dirty(slice(None))
        self._wake.set()

    def add_market_slot(self) -> None:
        """Grow the per-slot arrays after `MarketState.add_market` (hot reload)."""
        self._in_flight = np.append(self._in_flight, False)

    async def run(self) -> None:
        """Requote on events until `stop()`; replaying a recorded session, at its rounds only (none
        after its last: its late timers had not fired before it stopped; a replay's would)."""
        for at_ns, slots in self.rounds.schedule:
            while not self._stopping and at_ns > self.clock.now_ns():
                self._wake.clear()
                await self._wake.wait((at_ns - self.clock.now_ns()) / NS_PER_S)
            if not self._stopping:
                self._requote_round(at_ns, frozenset(slots))  # the session's own clock reading
        replaying = bool(self.rounds.schedule)
        while not self._stopping:
            timeout_s = None if replaying else self._requote_round()
            self._wake.clear()
            await self._wake.wait(timeout_s)

    def _requote_round(self, now: int | None = None, only: frozenset[int] | None = None) -> float | None:
        """Start syncs for every due market (`only`: for these, as a recorded session's round
        did); return seconds until the next market falls due."""
        now = self.clock.now_ns() if now is None else now
        next_due_ns: int | None = None
        for slot in list(self._unowned):
            if not self._in_flight[slot]:
                self._unowned.discard(slot)
                self._start_sync(slot, NO_QUOTES, CANCEL_ALL)
        dirty, last_quote = self.state.dirty, self.state.last_quote_ns
        started: list[int] = []
        for qs in self.strategies:
            if only is None:
                due, wait_ns = self._due(qs, now)
                next_due_ns = wait_ns if next_due_ns is None else min(next_due_ns, wait_ns)
            else:
                due = [(row, slot) for row, slot in enumerate(qs.strategy.slots.tolist()) if slot in only]
            if not due:
                continue
            targets = qs.strategy.targets(self.state, now)
            for row, slot in due:
                dirty[slot] = False
                last_quote[slot] = now
                if self.paused or self._stopping or not self.state.quoting_enabled[slot]:
                    wanted = NO_QUOTES
                else:
                    wanted = targets.market(row)
                self._start_sync(slot, wanted, qs.requote_policy(self.state, slot))
                started.append(slot)
        if started:
            self.rounds.tell(ROUND, now, tuple(started))
        if next_due_ns is None:
            return None
        return max(next_due_ns, 1_000_000) / NS_PER_S

    def _due(self, qs: QuotingStrategy, now: int) -> tuple[list[tuple[int, int]], int]:
        """(row, slot) of the strategy's markets due now, and ns until the next falls due."""
        # Python scalars, not array maths: this runs on every book, for one or a few markets
        dirty, last_quote, in_flight = self.state.dirty, self.state.last_quote_ns, self._in_flight
        min_interval_ns, half_age_ns = qs.min_interval_ns, qs.max_order_age_ns // 2
        due: list[tuple[int, int]] = []
        next_due_ns: int | None = None
        age_wait: int | None = None
        for row, slot in enumerate(qs.strategy.slots.tolist()):
            since = now - int(last_quote[slot])
            wait_ns = half_age_ns - since
            age_wait = wait_ns if age_wait is None or wait_ns < age_wait else age_wait
            if not (dirty[slot] or wait_ns <= TIMER_EARLY_NS) or in_flight[slot]:
                continue  # nothing to requote, or a sync of it still running
            if since + TIMER_EARLY_NS >= min_interval_ns:
                due.append((row, slot))
            else:
                wait_ns = min_interval_ns - since
                next_due_ns = wait_ns if next_due_ns is None else min(next_due_ns, wait_ns)
        if age_wait is None:
            raise ValueError("a quoting strategy without markets")
        return due, age_wait if next_due_ns is None else min(next_due_ns, max(age_wait, 0))

    def _start_sync(self, slot: int, wanted: QuoteTargets, policy: RefreshPolicy) -> None:
        self._in_flight[slot] = True
        task = asyncio.create_task(self._sync(slot, wanted, policy), name=f"sync-{slot}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sync(self, slot: int, wanted: QuoteTargets, policy: RefreshPolicy) -> None:
        try:
            await requote_market(self.orders, slot, wanted, policy, await self.rounds.sync_start(slot))
        except RateLimited as exc:  # after the venue adapter's own retries: the next round tries again
            log.warning("order sync for %s rate limited: %s", self.state.markets[slot].key, exc)
        except Exception:
            log.exception("order sync failed for %s", self.state.markets[slot].key)
        finally:
            self._in_flight[slot] = False
            self._wake.set()

    def set_paused(self, paused: bool, reason: str) -> None:
        if paused != self.paused:
            log.warning("quoting %s: %s", "PAUSED" if paused else "resumed", reason)
        self.paused = paused
        self.state.mark_dirty(slice(None))
        self._wake.set()

    async def stop(self) -> None:
        """Stop quoting and wait for in-flight syncs; cancelling is the caller's next step."""
        self.rounds.tell(ROUND, self.clock.now_ns(), ())  # a round of no markets: the bot stops
        self._stopping = True
        self._wake.set()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
