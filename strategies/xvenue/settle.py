"""The settle step of immediate orders: how an order whose outcome is unknown ended, and the
fills the venue has that no stream brought (fetched by REST), shared by the arbitrage's legs
(`hedging.HedgeExecutor`) and XEMM's hedging loop (`hedge_worker.HedgeWorker`).

One lookup per call: the caller decides when to ask again (the executor within its leg's
deadline, the hedging loop on its next turn), since only it knows what else must go on meanwhile.
A lookup the venue cannot answer never counts as an answer: the order stays live (unknown) and a
failed fetch books nothing. What is booked afterwards is the stored fills only, at their prices.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.core.domain import Order
from bot.kernel.order_manager import OrderManager
from bot.kernel.reconcile import store_missed_fills
from connectors.base import VenueError

log = logging.getLogger("mmbot.xvenue")


@dataclass(slots=True)
class SettleCounters:
    lookups: int = 0  # the venue asked how an order of unknown outcome ended
    rest_catch_ups: int = 0  # REST fetches of fills no stream brought
    catch_up_failures: int = 0  # of those, the venue could not answer (tried again later)


class Settler:
    """`who` names the strategy in the log lines."""

    def __init__(self, orders: OrderManager, who: str) -> None:
        self.orders = orders
        self.who = who
        self.counters = SettleCounters()

    async def outcome_known(self, order: Order) -> bool:
        """Ask the venue once how a live order ended (when it still is); True once it is known."""
        if order.state.is_live:
            self.counters.lookups += 1
            await self.orders.settle(order)  # a venue that cannot answer leaves it live (logged)
        return not order.state.is_live

    async def fetch_fills(self, venue: str, symbol: str) -> bool:
        """Store the market's fills the venue has and the store lacks; False when the venue could
        not answer (logged): nothing is booked from it, the caller fetches again later."""
        self.counters.rest_catch_ups += 1
        try:
            await store_missed_fills(
                self.orders.venues[venue], [symbol], self.orders.store, self.orders, self.orders.instance_id
            )
        except VenueError as exc:
            self.counters.catch_up_failures += 1
            log.warning("%s: cannot fetch the fills of %s:%s yet: %s", self.who, venue, symbol, exc)
            return False
        return True
