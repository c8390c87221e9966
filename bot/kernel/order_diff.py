"""Pure diff of one market's target quotes against its live orders: keep, cancel and place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.domain import Order, OrderState
from bot.kernel.new_order import NewOrder
from bot.kernel.targets import QuoteTargets


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    refresh_tolerance_ticks: int
    size_tolerance: float
    max_order_age_ns: int


@dataclass(frozen=True, slots=True)
class OrderDiff:
    keep: tuple[Order, ...]
    cancel: tuple[Order, ...]
    place: tuple[NewOrder, ...]  # post-only quotes


def diff_orders(
    live: Sequence[Order], targets: QuoteTargets, policy: RefreshPolicy, now_ns: int
) -> OrderDiff:
    """Match each level of a one-market `targets` to the closest live order of its side that is
    within tolerance.

    A live order is kept when its price is within `refresh_tolerance_ticks` of a target, its
    remaining size within `size_tolerance` of the target size, and it is younger than
    `max_order_age_ns`; every other live order is cancelled, every unmatched target placed.
    Orders already pending cancel are neither kept nor cancelled again.
    """
    if targets.n_markets != 1:
        raise ValueError(f"diff_orders takes one market's targets, got {targets.n_markets}")
    candidates = [o for o in live if o.state is not OrderState.PENDING_CANCEL]
    taken: set[str] = set()
    keep: list[Order] = []
    place: list[NewOrder] = []
    for side, price_ticks, size_lots in targets.levels():
        best: Order | None = None
        best_distance = policy.refresh_tolerance_ticks + 1
        for order in candidates:
            if order.client_order_id in taken or order.request.side is not side:
                continue
            distance = abs(order.request.price_ticks - price_ticks)
            if distance >= best_distance:
                continue
            if abs(order.remaining_lots - size_lots) > policy.size_tolerance * size_lots:
                continue
            if now_ns - order.created_ns >= policy.max_order_age_ns:
                continue
            best, best_distance = order, distance
        if best is None:
            place.append(NewOrder(side, price_ticks, size_lots))
        else:
            taken.add(best.client_order_id)
            keep.append(best)
    cancel = tuple(o for o in candidates if o.client_order_id not in taken)
    return OrderDiff(tuple(keep), cancel, tuple(place))
