"""Price-time priority matching for one market, on integer price ticks and size lots.

Pure and synchronous: no balances, no clock, no events. Each side keeps its price levels in a dict
plus a sorted list of keys (best first), each level a FIFO deque. Cancels are lazy (the entry is
zeroed and skipped when it reaches the front), so no operation scans every order of the book.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass

from bot.core.domain import Side

Levels = tuple[tuple[int, int], ...]
"""(price_ticks, size_lots) per level, best first."""


class RestingOrder:
    """A live order on the book; `size_lots` is what remains and drops to 0 once it is gone."""

    __slots__ = ("order_id", "owner", "price_ticks", "side", "size_lots")

    def __init__(self, order_id: int, owner: str, side: Side, price_ticks: int, size_lots: int) -> None:
        self.order_id = order_id
        self.owner = owner
        self.side = side
        self.price_ticks = price_ticks
        self.size_lots = size_lots

    def __repr__(self) -> str:
        return (
            f"RestingOrder({self.order_id}, {self.owner!r}, {self.side}, {self.price_ticks}, "
            f"{self.size_lots})"
        )


@dataclass(frozen=True, slots=True)
class Execution:
    """One match of a taker against one resting order, at the resting order's price."""

    maker_order_id: int
    maker_owner: str
    price_ticks: int
    size_lots: int
    maker_remaining_lots: int


class _Level:
    __slots__ = ("live", "orders", "total_lots")

    def __init__(self) -> None:
        self.orders: deque[RestingOrder] = deque()
        self.total_lots = 0
        self.live = 0


class _BookSide:
    """Levels of one side; keys are prices for asks and negated prices for bids (best first)."""

    __slots__ = ("is_bid", "keys", "levels")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, _Level] = {}
        self.keys: list[int] = []

    def best(self) -> int | None:
        if not self.keys:
            return None
        return -self.keys[0] if self.is_bid else self.keys[0]

    def add(self, order: RestingOrder) -> None:
        level = self.levels.get(order.price_ticks)
        if level is None:
            level = self.levels[order.price_ticks] = _Level()
            insort(self.keys, -order.price_ticks if self.is_bid else order.price_ticks)
        level.orders.append(order)
        level.total_lots += order.size_lots
        level.live += 1

    def drop_level(self, price_ticks: int) -> None:
        del self.levels[price_ticks]
        key = -price_ticks if self.is_bid else price_ticks
        del self.keys[bisect_left(self.keys, key)]

    def top(self, n: int) -> Levels:
        sign = -1 if self.is_bid else 1
        levels = self.levels
        return tuple((sign * k, levels[sign * k].total_lots) for k in self.keys[:n])


class OrderBook:
    """One market's book. Owners are opaque strings (our account ids or background participants)."""

    def __init__(self) -> None:
        self.bids = _BookSide(is_bid=True)
        self.asks = _BookSide(is_bid=False)
        self._orders: dict[int, RestingOrder] = {}
        self.version = 0
        """Bumped on every change of the visible book: publishers compare it to skip idle books."""

    def __len__(self) -> int:
        return len(self._orders)

    def best_bid(self) -> int | None:
        return self.bids.best()

    def best_ask(self) -> int | None:
        return self.asks.best()

    def order(self, order_id: int) -> RestingOrder | None:
        return self._orders.get(order_id)

    def depth(self, n: int) -> tuple[Levels, Levels]:
        """Top `n` levels per side as (price_ticks, size_lots), best first."""
        return self.bids.top(n), self.asks.top(n)

    def would_cross(self, side: Side, price_ticks: int) -> bool:
        if side is Side.BUY:
            best = self.asks.best()
            return best is not None and price_ticks >= best
        best = self.bids.best()
        return best is not None and price_ticks <= best

    def sweep_limit(self, side: Side, size_lots: int) -> int | None:
        """Price of the deepest level a taker of `size_lots` would reach now (None: nothing to take)."""
        book_side = self.asks if side is Side.BUY else self.bids
        sign = -1 if book_side.is_bid else 1
        remaining = size_lots
        price = None
        for key in book_side.keys:
            price = sign * key
            remaining -= book_side.levels[price].total_lots
            if remaining <= 0:
                break
        return price

    def take(
        self,
        side: Side,
        size_lots: int,
        limit_price_ticks: int | None = None,
        stp_owner: str | None = None,
    ) -> tuple[list[Execution], list[RestingOrder]]:
        """Match a taker against the opposite side, best price first, FIFO within a price.

        Stops at `limit_price_ticks` (None: a market order). Resting orders of `stp_owner` are
        removed instead of traded against (self-trade prevention, "expire maker") and returned.
        Whatever is not matched is the caller's to rest or expire.
        """
        book_side = self.asks if side is Side.BUY else self.bids
        executions: list[Execution] = []
        expired: list[RestingOrder] = []
        remaining = size_lots
        keys = book_side.keys
        levels = book_side.levels
        sign = -1 if book_side.is_bid else 1
        orders = self._orders
        while remaining and keys:
            price = sign * keys[0]
            if limit_price_ticks is not None and (
                price > limit_price_ticks if side is Side.BUY else price < limit_price_ticks
            ):
                break
            level = levels[price]
            queue = level.orders
            while remaining and queue:
                maker = queue[0]
                if maker.size_lots == 0:
                    queue.popleft()
                    continue
                if stp_owner is not None and maker.owner == stp_owner:
                    queue.popleft()
                    level.total_lots -= maker.size_lots
                    level.live -= 1
                    del orders[maker.order_id]
                    expired.append(maker)
                    continue
                n = remaining if remaining < maker.size_lots else maker.size_lots
                maker.size_lots -= n
                level.total_lots -= n
                remaining -= n
                executions.append(Execution(maker.order_id, maker.owner, price, n, maker.size_lots))
                if maker.size_lots == 0:
                    queue.popleft()
                    level.live -= 1
                    del orders[maker.order_id]
            if level.live == 0:
                del levels[price]
                del keys[0]
        if executions or expired:
            self.version += 1
        return executions, expired

    def rest(self, order_id: int, owner: str, side: Side, price_ticks: int, size_lots: int) -> RestingOrder:
        """Add a passive order; the caller has matched it first, so it must not cross."""
        if self.would_cross(side, price_ticks):
            raise ValueError(f"order {order_id} at {price_ticks} would cross the book")
        if order_id in self._orders:
            raise ValueError(f"order id {order_id} is already on the book")
        order = RestingOrder(order_id, owner, side, price_ticks, size_lots)
        (self.bids if side is Side.BUY else self.asks).add(order)
        self._orders[order_id] = order
        self.version += 1
        return order

    def submit_limit(
        self,
        order_id: int,
        owner: str,
        side: Side,
        price_ticks: int,
        size_lots: int,
        *,
        post_only: bool = False,
        stp_owner: str | None = None,
    ) -> tuple[list[Execution], list[RestingOrder], RestingOrder | None]:
        """GTC limit: match what crosses, rest the remainder. Post-only that would cross raises."""
        if post_only and self.would_cross(side, price_ticks):
            raise ValueError(f"post-only order {order_id} at {price_ticks} would cross")
        executions, expired = self.take(side, size_lots, price_ticks, stp_owner)
        remaining = size_lots - sum(e.size_lots for e in executions)
        resting = self.rest(order_id, owner, side, price_ticks, remaining) if remaining else None
        return executions, expired, resting

    def cancel(self, order_id: int) -> int | None:
        """Remove a resting order; returns the lots it still had, or None if it is not on the book."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return None
        book_side = self.bids if order.side is Side.BUY else self.asks
        level = book_side.levels[order.price_ticks]
        remaining = order.size_lots
        level.total_lots -= remaining
        level.live -= 1
        order.size_lots = 0  # marks the entry dead where it sits in the level's deque
        if level.live == 0:
            book_side.drop_level(order.price_ticks)
        elif len(level.orders) > 2 * level.live + 16:
            # Lazily cancelled entries pile up behind a long-lived head order: compact them.
            level.orders = deque(o for o in level.orders if o.size_lots)
        self.version += 1
        return remaining
