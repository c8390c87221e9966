"""One market's order sync: its live quotes moved to the strategy's targets in one submit."""

from __future__ import annotations

from bot.kernel.order_diff import RefreshPolicy, diff_orders
from bot.kernel.order_manager import OrderManager
from bot.kernel.targets import QuoteTargets


async def requote_market(
    orders: OrderManager, slot: int, targets: QuoteTargets, policy: RefreshPolicy, now_ns: int
) -> None:
    """Move one market's live orders to its one-market `targets`: the order diff's cancels and
    new quotes go out together through the order manager's `submit`."""
    quotes = [o for o in orders.orders_of(slot) if not o.request.immediate_or_cancel]  # not a hedge
    diff = diff_orders(quotes, targets, policy, now_ns)
    await orders.submit(slot, diff.place, cancel=diff.cancel)
