"""The ports between the engine and strategies, and the optional capabilities they declare."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from bot.kernel.market_state import MarketState
from bot.kernel.targets import QuoteTargets

if TYPE_CHECKING:
    from bot.core.events import VenueEvent
    from bot.kernel.context import BotContext


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


class ActiveStrategy(Protocol):
    """A strategy that acts on its own schedule and events (LP manager, hedger, XEMM, arbitrage).

    `run` is started as a task after reconciliation and cancelled at stop (it must leave no
    orders behind: the bot cancels every open order after strategies stop). `on_event` sees every
    venue event after the engine applied it; it must not block (schedule work with create_task).
    Orders go through `ctx.orders.submit` so they are risk-checked, tracked and stored like
    quotes; resting quotes go through the engine (`ctx.engine.attach`), like every quoting
    strategy's.
    """

    name: str

    async def run(self, ctx: BotContext) -> None: ...

    def on_event(self, event: VenueEvent) -> None: ...
