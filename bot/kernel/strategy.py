"""The quote port between the engine and quoting strategies, and the optional capabilities they
declare (the active-strategy port is `bot.kernel.context`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from bot.kernel.market_state import MarketState
from bot.kernel.targets import QuoteTargets

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.core.domain import Order
    from bot.core.events import VenueEvent


class QuoteStrategy(Protocol):
    """Computes targets for its markets (rows aligned with `slots`) from the engine's arrays.

    The engine calls `targets` when one of its markets is due for a requote (something changed,
    or its orders are getting old, and never sooner than its controls' min requote interval) and
    moves that market's live orders to the row through the order diff.
    """

    name: str
    slots: npt.NDArray[np.int64]

    def targets(self, state: MarketState, now_ns: int) -> QuoteTargets: ...


@runtime_checkable
class SelfTradeGroups(Protocol):
    """A quoting strategy that quotes one instrument on several venues: each group's slots must
    never cross each other's live orders (`bot.kernel.self_trade`)."""

    stp_groups: list[list[int]]


@runtime_checkable
class EventHook(Protocol):
    """Sees every venue event after the engine applied it (estimators, fills to hedge); must
    not block (schedule work with create_task)."""

    def on_event(self, event: VenueEvent) -> None: ...


@runtime_checkable
class LiveOrdersReader(Protocol):
    """A quoting strategy that reads its markets' live orders (the own-fill intensity measures how
    long each rested): the engine hands it its per-slot lookup when the strategy is added."""

    def read_orders_from(self, orders_of: Callable[[int], list[Order]]) -> None: ...
