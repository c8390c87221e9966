"""Every kernel object of one running bot, built once after start-up reconciliation.

Nothing in it is optional: whoever holds a `Runtime` holds a bot that has reconciled every venue
and is (or was) quoting. The application shell (bot.app) builds it; ops services read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.clock import Clock
from bot.core.domain import Market
from bot.kernel.context import BotContext
from bot.kernel.engine import Engine
from bot.kernel.market_state import MarketState
from bot.kernel.order_manager import OrderManager
from bot.kernel.risk_guard import RiskGuard
from bot.kernel.store import Store
from connectors.base import Venue


@dataclass(frozen=True, slots=True)
class Runtime:
    instance_id: str
    clock: Clock
    store: Store
    venues: dict[str, Venue]
    state: MarketState
    orders: OrderManager
    engine: Engine
    risk_guard: RiskGuard
    context: BotContext  # the same objects, as strategies see them (plus the AMM pools)

    @property
    def markets(self) -> list[Market]:
        """Every traded market, in slot order (a hot reload appends)."""
        return self.state.markets
