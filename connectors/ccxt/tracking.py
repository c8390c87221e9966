"""What the adapter remembers about its orders and fills: bounded, never growing with history."""

from __future__ import annotations

from collections import OrderedDict

from bot.core.domain import OrderState
from bot.core.events import OrderUpdate


class _BoundedMap(OrderedDict[str, str]):
    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def put(self, key: str, value: str) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)


class OrderTracker:
    """Client id <-> venue id of recent orders, our live orders, and fill ids already emitted.

    The id maps and the fill-id set keep the most recent `capacity` entries: enough to pair a
    trade with its order and to drop stream/REST duplicates, bounded for a bot running for months
    (the store's unique key on venue + trade id is the durable guard).
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self._cid_by_oid = _BoundedMap(capacity)
        self._oid_by_cid = _BoundedMap(capacity)
        self._seen_fills: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity
        self.live: dict[str, str] = {}
        """client order id -> symbol of orders we placed and have not seen end."""
        self._last_seen: dict[str, tuple[OrderState, int]] = {}
        self.last_fill_ms: dict[str, int] = {}
        """Newest exchange timestamp of an emitted fill, per symbol: where REST catch-up starts."""

    def remember(self, client_order_id: str, venue_order_id: str | None) -> None:
        if client_order_id and venue_order_id:
            self._cid_by_oid.put(venue_order_id, client_order_id)
            self._oid_by_cid.put(client_order_id, venue_order_id)

    def placed(self, client_order_id: str, symbol: str) -> None:
        self.live[client_order_id] = symbol

    def cid_for(self, venue_order_id: str) -> str | None:
        return self._cid_by_oid.get(venue_order_id)

    def oid_for(self, client_order_id: str) -> str | None:
        return self._oid_by_cid.get(client_order_id)

    def on_update(self, update: OrderUpdate) -> None:
        """Record an update that is being pushed to the engine."""
        self.remember(update.client_order_id, update.venue_order_id)
        if update.state.is_terminal:
            self.live.pop(update.client_order_id, None)
            self._last_seen.pop(update.client_order_id, None)
        else:
            self._last_seen[update.client_order_id] = (update.state, update.filled_lots)

    def changed(self, update: OrderUpdate) -> bool:
        """True when a polled view of an order differs from the last one pushed."""
        return self._last_seen.get(update.client_order_id) != (update.state, update.filled_lots)

    def prune_seen(self, open_client_order_ids: set[str]) -> None:
        """Forget orders neither open on the venue nor ours-in-flight (ended unseen)."""
        for cid in [c for c in self._last_seen if c not in open_client_order_ids and c not in self.live]:
            del self._last_seen[cid]

    def claim_fill(self, venue_trade_id: str) -> bool:
        """True the first time a trade id is seen: the caller then owns emitting it."""
        if venue_trade_id in self._seen_fills:
            return False
        self._seen_fills[venue_trade_id] = None
        if len(self._seen_fills) > self._capacity:
            self._seen_fills.popitem(last=False)
        return True

    def release_fill(self, venue_trade_id: str) -> None:
        """Undo a claim whose emit failed, so the next REST catch-up emits it."""
        self._seen_fills.pop(venue_trade_id, None)

    def fill_emitted(self, symbol: str, exchange_ms: int | None) -> None:
        if exchange_ms is not None and exchange_ms > self.last_fill_ms.get(symbol, 0):
            self.last_fill_ms[symbol] = exchange_ms
