"""The book a paper venue shows the bot: the exchange's levels with our resting paper orders added."""

from __future__ import annotations

from collections.abc import Iterable

from bot.core.events import BookSnapshot, OrderUpdate

Levels = tuple[tuple[int, int], ...]


def with_own_orders(snap: BookSnapshot, open_orders: Iterable[OrderUpdate], depth: int) -> BookSnapshot:
    """The exchange's book plus our resting paper orders, as a real feed would show them."""
    own: dict[tuple[int, int], int] = {}
    for u in open_orders:
        key = (u.side.sign, u.price_ticks)
        own[key] = own.get(key, 0) + u.size_lots - u.filled_lots
    if not own:
        return snap
    sides: list[Levels] = []
    for sign, levels in ((1, snap.bids), (-1, snap.asks)):
        merged = dict(levels)
        for (side, price), lots in own.items():
            if side == sign:
                merged[price] = merged.get(price, 0) + lots
        sides.append(tuple(sorted(merged.items(), reverse=sign > 0)[:depth]))
    return BookSnapshot(snap.venue, snap.symbol, sides[0], sides[1], snap.exchange_ts_ns, snap.local_ts_ns)
