"""Self-trade prevention, bot-wide, on live orders: our orders never trade against each other.

Two rules, both on the orders we hold (any strategy's), not on targets:

- **A new quote never crosses our own live orders.** A new resting BUY at price P is held back
  while any order of ours on the same venue and symbol (whatever strategy placed it: another
  strategy's hedge in flight included) or on another slot of its self-trade group (one instrument
  quoted on several venues, registered by its strategy) is a SELL at or below P (a new SELL: any
  BUY at or above P). Every order that can still trade counts: open, partially filled, pending new
  (it may already rest on the venue) and pending cancel (it rests until the venue confirms). On
  another venue an immediate-or-cancel order never rests, so it does not count there; on the same
  venue it does (a quote that arrives first would be its counterparty). Prices are compared as
  exact Decimals, so venues with different ticks compare correctly.
- **An order that takes (immediate-or-cancel, or a plain limit) never trades against our own
  resting orders on its market.** A market maker wants the hedge done, not a quote's queue
  place: our resting orders the taker would reach are cancelled first (`in_the_way`; one still
  pending new is cancelled once acknowledged, one pending cancel waited for, up to
  `TAKER_WAIT_S`), and the market is reserved for the taker meanwhile so no new crossing quote
  goes out (`making_way`); what is still live after that (a cancel the venue refused, a venue
  that does not answer) caps the taker's limit one tick short of it (`clear_of_own`). A hedge
  capped that way takes the other participants' liquidity up to our quote and retries for the
  rest; trading with ourselves would leave the bot's exposure where it was and pay both fees.

A held-back target is not remembered: its slot is released (the owner's callback, or the engine's
requote for a market in no group) as soon as an order it conflicts with closes or a reservation
ends, and the next sync computes it again. State is per slot (the groups, which slots wait, the
reservations), never per order or per past event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from bot.core.domain import Market, Order, OrderState, Side
from bot.kernel.new_order import NewOrder

log = logging.getLogger("mmbot.orders")

# How long a taker waits for our own orders in its way that are pending (new: to cancel them once
# acknowledged; cancel: for the venue's answer) before it is capped short of them: a round trip
# or two on a live venue, bounded so that a venue that does not answer cannot stall a hedge.
TAKER_WAIT_S = 0.5
WAITED_FOR = (OrderState.PENDING_NEW, OrderState.PENDING_CANCEL)


@dataclass(slots=True)
class StpGroup:
    slots: list[int]
    on_release: Callable[[int], None]  # a held-back slot of this group may requote now


@dataclass(frozen=True, slots=True)
class OppositeBounds:
    """Our orders a new quote must stay clear of, in price (None: no such order)."""

    lowest_sell: Decimal | None
    highest_buy: Decimal | None

    def allows(self, side: Side, price: Decimal) -> bool:
        if side is Side.BUY:
            return self.lowest_sell is None or price < self.lowest_sell
        return self.highest_buy is None or price > self.highest_buy

    def widen(self, side: Side, price: Decimal) -> OppositeBounds:
        """These bounds with one more order of ours (`side` at `price`) to stay clear of."""
        if side is Side.SELL:
            low = price if self.lowest_sell is None else min(self.lowest_sell, price)
            return OppositeBounds(low, self.highest_buy)
        high = price if self.highest_buy is None else max(self.highest_buy, price)
        return OppositeBounds(self.lowest_sell, high)


NO_BOUNDS = OppositeBounds(None, None)


def reaches(side: Side, limit_ticks: int, price_ticks: int) -> bool:
    """Whether a taker `side` limited at `limit_ticks` trades against a resting order at `price_ticks`
    of the other side (same market, same tick grid)."""
    return price_ticks <= limit_ticks if side is Side.BUY else price_ticks >= limit_ticks


def can_rest(order: Order) -> bool:
    """A live order that is, or may already be, on the venue's book."""
    return order.state.is_live and not order.request.immediate_or_cancel


def in_the_way(side: Side, limit_ticks: int, ours: Iterable[Order]) -> list[Order]:
    """Our orders of one market a taker (`side`, `limit_ticks`) would trade against that we can
    cancel now: acknowledged and not already being cancelled."""
    return [
        o
        for o in ours
        if can_rest(o)
        and o.state not in WAITED_FOR
        and o.request.side is side.opposite
        and reaches(side, limit_ticks, o.request.price_ticks)
    ]


def clear_limit(side: Side, limit_ticks: int, ours: Iterable[Order]) -> int | None:
    """The taker's limit capped one tick short of every order of ours it would still reach;
    None when nothing is left to take (a buy capped below the first tick)."""
    limit = limit_ticks
    for o in ours:
        r = o.request
        if can_rest(o) and r.side is side.opposite and reaches(side, limit, r.price_ticks):
            limit = r.price_ticks - 1 if side is Side.BUY else r.price_ticks + 1
    return limit if limit >= 1 else None


class SelfTradeGuard:
    def __init__(self, markets: Sequence[Market], slot_orders: Sequence[dict[str, Order]]) -> None:
        # Both are the order manager's own lists: they grow in place when a market is added.
        self._markets = markets
        self._slot_orders = slot_orders
        self._group_of: dict[int, StpGroup] = {}
        self._owned: dict[int, tuple[object, list[StpGroup]]] = {}  # id(owner) -> (owner, groups)
        self._held: set[int] = set()  # slots with a target held back, waiting for a release
        self._reserved: dict[int, list[NewOrder]] = {}  # slot -> takers we are making way for
        self._moved: dict[int, list[asyncio.Event]] = {}  # slot -> takers waiting for its orders
        # Releases a held market in no group (its own venue's orders held it): the engine's requote.
        self.requote: Callable[[int], None] | None = None
        self.cancelled_for_takers = 0  # our resting orders cancelled out of a taker's way
        self.capped_takers = 0  # takers whose limit stopped short of our own resting orders

    def register(
        self, owner: object, groups: Iterable[Sequence[int]], on_release: Callable[[int], None]
    ) -> None:
        """Add `owner`'s groups (each: the slots of one instrument on several venues).

        A slot can be in one group only; the config lets one strategy quote a market, so a slot
        found in another group belongs to an outgoing strategy (a hot reload moved the market
        before that one unregistered): it leaves that group.
        """
        _, owned = self._owned.setdefault(id(owner), (owner, []))
        for slots in groups:
            group = StpGroup([int(s) for s in dict.fromkeys(slots)], on_release)
            if len(group.slots) < 2:
                continue  # one venue: nothing to keep apart across venues
            for slot in group.slots:
                previous = self._group_of.get(slot)
                if previous is not None:
                    previous.slots.remove(slot)
                self._group_of[slot] = group
                self._held.discard(slot)
            owned.append(group)

    def unregister(self, owner: object) -> None:
        _, groups = self._owned.pop(id(owner), (None, []))
        for group in groups:
            for slot in group.slots:
                if self._group_of.get(slot) is group:
                    del self._group_of[slot]
                    self._held.discard(slot)

    def group_of(self, slot: int) -> tuple[int, ...]:
        group = self._group_of.get(slot)
        return () if group is None else tuple(group.slots)

    # ---- new quotes ---------------------------------------------------------------------------

    def bounds(self, slot: int) -> OppositeBounds:
        """The prices a new quote of `slot` must stay clear of: every live order of ours on its
        own market (any strategy, immediate ones included) and the resting ones of its group."""
        market = self._markets[slot]
        out = NO_BOUNDS
        for order in self._slot_orders[slot].values():
            if order.state.is_live:
                out = out.widen(order.request.side, market.price(order.request.price_ticks))
        for taker in self._reserved.get(slot, ()):
            out = out.widen(taker.side, market.price(taker.price_ticks))
        group = self._group_of.get(slot)
        for other in group.slots if group is not None else ():
            if other == slot:
                continue
            other_market = self._markets[other]
            for order in self._slot_orders[other].values():
                if can_rest(order):
                    out = out.widen(order.request.side, other_market.price(order.request.price_ticks))
        return out

    def split(self, slot: int, quotes: Sequence[NewOrder]) -> tuple[list[NewOrder], list[NewOrder]]:
        """(new quotes that may be sent now, quotes held back); a hold waits for a release."""
        if not quotes:
            self._held.discard(slot)
            return [], []
        bounds = self.bounds(slot)
        market = self._markets[slot]
        allowed: list[NewOrder] = []
        held: list[NewOrder] = []
        for quote in quotes:
            ok = bounds.allows(quote.side, market.price(quote.price_ticks))
            (allowed if ok else held).append(quote)
        if held:
            self._held.add(slot)
        else:
            self._held.discard(slot)
        return allowed, held

    def order_closed(self, slot: int) -> None:
        """An order of `slot` left the venue: held-back quotes of its market and group may go."""
        self.order_moved(slot)
        if not self._held:
            return
        group = self._group_of.get(slot)
        for waiting in group.slots if group is not None else (slot,):
            if waiting in self._held:
                self._release(waiting)

    def _release(self, slot: int) -> None:
        self._held.discard(slot)
        group = self._group_of.get(slot)
        callback = group.on_release if group is not None else self.requote
        if callback is not None:
            callback(slot)

    # ---- takers -------------------------------------------------------------------------------

    def in_the_way(self, slot: int, takers: Sequence[NewOrder]) -> list[Order]:
        """Our resting orders of `slot` (any strategy's) that one of `takers` would trade against."""
        ours = list(self._slot_orders[slot].values())
        found: dict[str, Order] = {}
        for taker in takers:
            for order in in_the_way(taker.side, taker.price_ticks, ours):
                found[order.client_order_id] = order
        return list(found.values())

    @contextmanager
    def making_way(self, slot: int, takers: Sequence[NewOrder]) -> Iterator[None]:
        """While our orders in the takers' way are being cancelled: no new quote that would cross
        the takers goes out on `slot`; a quote held meanwhile is released at the end."""
        reserved = self._reserved.setdefault(slot, [])
        reserved.extend(takers)
        try:
            yield
        finally:
            for taker in takers:
                reserved.remove(taker)
            if not reserved:
                del self._reserved[slot]
            if slot in self._held:
                self._release(slot)

    def clear_of_own(self, slot: int, taker: NewOrder) -> NewOrder | None:
        """`taker` with its limit capped short of our orders still resting on `slot`; None when
        nothing would be left to take."""
        limit = clear_limit(taker.side, taker.price_ticks, self._slot_orders[slot].values())
        if limit is None:
            return None
        return taker if limit == taker.price_ticks else dataclasses.replace(taker, price_ticks=limit)

    def order_moved(self, slot: int) -> None:
        """An order of `slot` changed state (acknowledged, cancel confirmed or refused)."""
        for moved in self._moved.get(slot, ()):
            moved.set()

    async def make_way(
        self,
        slot: int,
        new_orders: Sequence[NewOrder],
        cancel: Callable[[Order], Awaitable[None]],
        wait_s: float = TAKER_WAIT_S,
    ) -> list[NewOrder]:
        """`new_orders` of `slot` once the takers among them are clear of our own resting orders,
        the market reserved for them meanwhile: those in their way are cancelled (`cancel`, the
        order manager's; each once), those pending (new: cancelled once acknowledged; cancel: its
        answer) are waited for up to `wait_s`; each taker is then capped short of what is still
        there (or dropped)."""
        takers = [o for o in new_orders if o.takes]
        if any(self._crossing(slot, takers)):
            with self.making_way(slot, takers):
                await self._clear(slot, takers, cancel, wait_s)
        out: list[NewOrder] = []
        for new in new_orders:
            clear = self.clear_of_own(slot, new) if new.takes else new
            if clear != new:
                self.capped_takers += 1
                log.debug("self-trade guard capped %s on slot %d to %s", new, slot, clear)
            if clear is not None:
                out.append(clear)
        return out

    def _crossing(self, slot: int, takers: Sequence[NewOrder]) -> Iterator[Order]:
        """Our orders of `slot` that may rest and that one of `takers` would trade against."""
        for order in self._slot_orders[slot].values():
            r = order.request
            if can_rest(order) and any(
                r.side is t.side.opposite and reaches(t.side, t.price_ticks, r.price_ticks) for t in takers
            ):
                yield order

    async def _clear(
        self, slot: int, takers: Sequence[NewOrder], cancel: Callable[[Order], Awaitable[None]], wait_s: float
    ) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + wait_s
        tried: set[str] = set()  # a cancel the venue refused is not retried: the taker is capped
        while True:
            blocking = [o for o in self.in_the_way(slot, takers) if o.client_order_id not in tried]
            if blocking:
                tried.update(o.client_order_id for o in blocking)
                self.cancelled_for_takers += len(blocking)
                await asyncio.gather(*(cancel(o) for o in blocking))
                continue
            pending = [o for o in self._crossing(slot, takers) if o.state in WAITED_FOR]
            if not pending or loop.time() >= give_up:
                return
            moved = asyncio.Event()
            waiting = self._moved.setdefault(slot, [])
            waiting.append(moved)
            try:
                await asyncio.wait_for(moved.wait(), give_up - loop.time())
            except TimeoutError:
                pass
            finally:
                waiting.remove(moved)
                if not waiting:
                    self._moved.pop(slot, None)
