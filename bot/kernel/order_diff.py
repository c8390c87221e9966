"""Pure diff of one market's target quotes against its live orders: keep, cancel and place.

How far a live order may sit from its target before it is replaced (the refresh tolerance) is a
trade-off between order churn and quotes that follow the model. Two rules keep the tolerance from
swallowing what the model means (issue #15, "skew that acts"):

- the tolerance never exceeds a fraction of the quoted half spread, so a quote kept within
  tolerance still sits at least (1 − fraction) of its intended distance from the fair price;
- right after our inventory changed (a fill: the skew moved by design), every order whose target
  moved by one tick or more is replaced. A skew change comes from the inventory, so it acts at
  once; mid noise between fills is still absorbed by the tolerance. Churn stays bounded: at most
  one extra replacement of each level per requote that follows a fill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.domain import Order, OrderState, Side
from bot.kernel.new_order import NewOrder
from bot.kernel.targets import QuoteTargets


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    refresh_tolerance_ticks: int
    size_tolerance: float
    max_order_age_ns: int
    # Cap of the tolerance as a fraction of the targets' half spread (None: no cap).
    tolerance_half_spread_fraction: float | None = None
    # The position changed since this market's previous requote: keep only exact prices.
    inventory_changed: bool = False


@dataclass(frozen=True, slots=True)
class OrderDiff:
    keep: tuple[Order, ...]
    cancel: tuple[Order, ...]
    place: tuple[NewOrder, ...]  # post-only quotes


def half_spread_ticks(levels: list[tuple[Side, int, int]]) -> float | None:
    """Half the distance between the innermost quoted bid and ask of one market's
    `QuoteTargets.levels()` (None unless both sides quote). Python scalars: a few levels, on
    every requote."""
    bids = [price for side, price, _ in levels if side is Side.BUY]
    asks = [price for side, price, _ in levels if side is Side.SELL]
    if not bids or not asks:
        return None
    return (min(asks) - max(bids)) / 2


def effective_tolerance_ticks(
    targets: QuoteTargets, policy: RefreshPolicy, levels: list[tuple[Side, int, int]] | None = None
) -> int:
    """The tolerance this diff applies: 0 after an inventory change, else the configured one
    capped at `tolerance_half_spread_fraction` of the half spread (rounded down). `levels`:
    `targets.levels()` when the caller has them."""
    if policy.inventory_changed:
        return 0
    tolerance = policy.refresh_tolerance_ticks
    fraction = policy.tolerance_half_spread_fraction
    if fraction is not None:
        half = half_spread_ticks(targets.levels() if levels is None else levels)
        if half is not None:
            tolerance = min(tolerance, max(int(fraction * half), 0))
    return tolerance


def diff_orders(
    live: Sequence[Order], targets: QuoteTargets, policy: RefreshPolicy, now_ns: int
) -> OrderDiff:
    """Match each level of a one-market `targets` to the closest live order of its side that is
    within tolerance.

    A live order is kept when its price is within the effective tolerance
    (`effective_tolerance_ticks`) of a target, its remaining size within `size_tolerance` of the
    target size, and it is younger than `max_order_age_ns`; every other live order is cancelled,
    every unmatched target placed. Orders already pending cancel are neither kept nor cancelled
    again.
    """
    if targets.n_markets != 1:
        raise ValueError(f"diff_orders takes one market's targets, got {targets.n_markets}")
    candidates = [o for o in live if o.state is not OrderState.PENDING_CANCEL]
    levels = targets.levels()
    tolerance = effective_tolerance_ticks(targets, policy, levels)
    taken: set[str] = set()
    keep: list[Order] = []
    place: list[NewOrder] = []
    for side, price_ticks, size_lots in levels:
        best: Order | None = None
        best_distance = tolerance + 1
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
