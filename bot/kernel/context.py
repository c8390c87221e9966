"""The active-strategy port: what a running bot offers to strategies that act on their own.

An active strategy (LP manager, hedger, XEMM, arbitrage) is handed a `BotContext` and sees the
engine only through `QuoteAttachments`, the part of it that quotes for the strategy while it runs;
the `Engine` satisfies it structurally, so this port does not depend on the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.clock import Clock
from bot.kernel.controls import QuotingControls
from bot.kernel.market_state import MarketState
from bot.kernel.order_manager import OrderManager
from bot.kernel.store import Store
from bot.kernel.strategy import QuoteStrategy
from connectors.base import Venue

if TYPE_CHECKING:
    from bot.core.events import VenueEvent


class QuoteAttachments(Protocol):
    """Resting quotes of an active strategy, quoted by the engine like every quoting strategy's."""

    def attach(self, strategy: QuoteStrategy, controls: QuotingControls) -> None:
        """Quote `strategy`'s targets while the active strategy runs."""

    def detach(self, strategy: QuoteStrategy) -> None:
        """Stop quoting `strategy`; its markets' orders are cancelled on the next round."""

    def requote_slot(self, slot: int) -> None:
        """Requote one market on the next round (its inputs changed outside the engine)."""


@dataclass(frozen=True, slots=True)
class BotContext:
    clock: Clock
    store: Store
    venues: dict[str, Venue]
    state: MarketState
    orders: OrderManager
    engine: QuoteAttachments
    # AMM pools by venue name (amm.ports.AmmPool: the chain client or the simulated pool)
    pools: dict[str, Any] = field(default_factory=dict)
    # pool venue name -> the (venue, symbol) whose price is the pool's fair price
    pool_fair_markets: dict[str, tuple[str, str]] = field(default_factory=dict)


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
