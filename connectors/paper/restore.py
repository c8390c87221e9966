"""Open orders of a restored paper account, until their market's matching starts again.

After a restart the orders read back from the store wait here (the bot's reconcile sees them as
open, with their locks held) until their market's first live book: each is then placed again
for its unfilled rest and takes back its identity (`LiveMatching.adopt`), at the back of the
queue at its price, since what happened at its level while the bot was down is unknown. An order
the market moved through meanwhile fills on that first book, as it would have on the exchange.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from bot.core.domain import Fill, Market, OrderRequest, OrderState
from bot.core.events import OrderUpdate
from connectors.base import OrderNotFound, VenueError
from connectors.mock.accounts import Account, lock_amount, lock_asset
from connectors.paper import account_state as codec
from connectors.paper.matching import LiveMatching

log = logging.getLogger("mmbot.paper")


class Restorer:
    def __init__(self, venue: str, account: Account) -> None:
        self.venue = venue
        self.account = account
        self._waiting: dict[str, list[OrderUpdate]] = {}
        self.next_ids: dict[str, list[int]] = {}

    @classmethod
    def from_state(cls, venue: str, account: Account, value: dict[str, Any]) -> Restorer:
        restorer = cls(venue, account)
        for d in value["open"]:
            update = codec.decode_update(venue, d)
            restorer._waiting.setdefault(update.symbol, []).append(update)
        restorer.next_ids = {s: list(ids) for s, ids in value["next_ids"].items()}
        return restorer

    def open_count(self) -> int:
        return sum(len(v) for v in self._waiting.values())

    def waiting(self, symbol: str | None = None) -> list[OrderUpdate]:
        return [u for s, us in self._waiting.items() if symbol in (None, s) for u in us]

    def reopen(self, matching: LiveMatching, ts_ns: int) -> None:
        """Before the market's first book is applied: its ids continue, its orders rest again."""
        market = matching.market
        ids = self.next_ids.pop(market.symbol, None)
        if ids is not None:
            matching.start_ids(ids)
        for update in self._waiting.pop(market.symbol, []):
            rest = update.size_lots - update.filled_lots
            self.account.release(
                lock_asset(market, update.side), lock_amount(market, update.side, update.price_ticks, rest)
            )
            request = OrderRequest(
                update.client_order_id,
                self.venue,
                market.symbol,
                update.side,
                update.price_ticks,
                rest,
                post_only=False,
            )
            try:
                matching.place_at(request, ts_ns)  # its events are not news to the bot
            except VenueError as exc:
                log.warning(
                    "%s: restored order %s not placed again: %s", self.venue, update.client_order_id, exc
                )
                continue
            matching.adopt(update)

    def cancel_waiting(
        self, symbol: str, client_order_id: str, market: Market | None, ts_ns: int
    ) -> OrderUpdate:
        """Cancel an order still waiting for its market's book: its lock is released at once."""
        waiting = self._waiting.get(symbol, [])
        found = next((u for u in waiting if u.client_order_id == client_order_id), None)
        if found is None or market is None:
            raise OrderNotFound(self.venue, f"{symbol} {client_order_id}: no open order")
        waiting.remove(found)
        rest = found.size_lots - found.filled_lots
        self.account.release(
            lock_asset(market, found.side), lock_amount(market, found.side, found.price_ticks, rest)
        )
        return dataclasses.replace(found, state=OrderState.CANCELLED, exchange_ts_ns=ts_ns)


@dataclass(frozen=True, slots=True)
class RestoredAccount:
    """What the store kept of a paper account (account None: its first start)."""

    account: Account | None
    restorer: Restorer | None
    closed: list[OrderUpdate]
    fills: list[Fill]


def restore_account(venue: str, state: codec.KeyedState) -> RestoredAccount:
    value = state.get(codec.account_key(venue))
    fills = state.get(codec.fills_key(venue))
    kept = [codec.decode_fill(venue, d) for d in fills["fills"]] if fills is not None else []
    if value is None:
        return RestoredAccount(None, None, [], kept)
    account = codec.decode_account(value)
    closed = [codec.decode_update(venue, d) for d in value["closed"]]
    return RestoredAccount(account, Restorer.from_state(venue, account, value), closed, kept)
