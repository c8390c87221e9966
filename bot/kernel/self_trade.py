"""Self-trade prevention across venues, on live orders: a new quote never crosses our own.

A strategy that quotes one instrument on several venues registers each instrument's slots as a
group. When a market's quotes are synced, a new BUY at price P is held back while any order of
ours on another slot of its group is a SELL at or below P (a new SELL: any BUY at or above P).
Every order that can still trade counts: open, partially filled, pending new (it may already rest
on the venue) and pending cancel (it rests until the venue confirms). Prices are compared as
exact Decimals, so venues with different ticks compare correctly. Immediate-or-cancel orders
(hedges, arbitrage legs) never rest, so they neither block a quote nor are held back.

A held-back target is not remembered: its slot is released (the owner's callback, which asks
for a requote) as soon as an order of its group closes, and the next sync computes it again.
Conflicts only arise while the other venue's orders are being moved, by that venue's own sync.
State is per slot (the groups and which slots wait), never per order or per past event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.core.domain import Market, Order, Side
from bot.kernel.new_order import NewOrder


@dataclass(slots=True)
class StpGroup:
    slots: list[int]
    on_release: Callable[[int], None]  # a held-back slot of this group may requote now


@dataclass(frozen=True, slots=True)
class OppositeBounds:
    """Our resting-capable orders on the other slots of a group, in price (None: no such order)."""

    lowest_sell: Decimal | None
    highest_buy: Decimal | None

    def allows(self, side: Side, price: Decimal) -> bool:
        if side is Side.BUY:
            return self.lowest_sell is None or price < self.lowest_sell
        return self.highest_buy is None or price > self.highest_buy


class SelfTradeGuard:
    def __init__(self, markets: Sequence[Market], slot_orders: Sequence[dict[str, Order]]) -> None:
        # Both are the order manager's own lists: they grow in place when a market is added.
        self._markets = markets
        self._slot_orders = slot_orders
        self._group_of: dict[int, StpGroup] = {}
        self._owned: dict[int, tuple[object, list[StpGroup]]] = {}  # id(owner) -> (owner, groups)
        self._held: set[int] = set()  # slots with a target held back, waiting for a release

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
                continue  # one venue: nothing to keep apart
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

    def bounds(self, slot: int) -> OppositeBounds | None:
        """The prices a new quote of `slot` must stay clear of; None when the slot has no group."""
        group = self._group_of.get(slot)
        if group is None:
            return None
        lowest_sell: Decimal | None = None
        highest_buy: Decimal | None = None
        for other in group.slots:
            if other == slot:
                continue
            market = self._markets[other]
            for order in self._slot_orders[other].values():
                request = order.request
                if request.immediate_or_cancel or not order.state.is_live:
                    continue
                price = market.price(request.price_ticks)
                if request.side is Side.SELL:
                    lowest_sell = price if lowest_sell is None else min(lowest_sell, price)
                else:
                    highest_buy = price if highest_buy is None else max(highest_buy, price)
        return OppositeBounds(lowest_sell, highest_buy)

    def split(self, slot: int, quotes: Sequence[NewOrder]) -> tuple[list[NewOrder], list[NewOrder]]:
        """(new quotes that may be sent now, quotes held back); a hold waits for a release."""
        bounds = self.bounds(slot) if quotes else None
        if bounds is None:
            self._held.discard(slot)
            return list(quotes), []
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
        """An order of `slot` left the venue: the held-back slots of its group may requote."""
        group = self._group_of.get(slot)
        if group is None or not self._held:
            return
        for waiting in group.slots:
            if waiting != slot and waiting in self._held:
                self._held.discard(waiting)
                group.on_release(waiting)
