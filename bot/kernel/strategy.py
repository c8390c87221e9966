"""The port between the engine and quoting strategies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from bot.kernel.market_state import MarketState
from bot.kernel.targets import QuoteTargets

if TYPE_CHECKING:
    from bot.core.events import VenueEvent
    from bot.kernel.context import BotContext


class QuoteStrategy(Protocol):
    """Computes targets for its markets (rows aligned with `slots`) from the engine's arrays."""

    name: str
    slots: npt.NDArray[np.int64]

    def targets(self, state: MarketState, now_ns: int) -> QuoteTargets: ...


class ActiveStrategy(Protocol):
    """A strategy that acts on its own schedule and events (LP manager, hedger, XEMM, arbitrage).

    `run` is started as a task after reconciliation and cancelled at stop (it must leave no
    orders behind: the bot cancels every open order after strategies stop). `on_event` sees every
    venue event after the engine applied it; it must not block (schedule work with create_task).
    Orders go through `ctx.orders` so they are risk-checked, tracked and stored like quotes.
    """

    name: str

    async def run(self, ctx: BotContext) -> None: ...

    def on_event(self, event: VenueEvent) -> None: ...
