"""What a running bot offers to strategies and jobs that act on their own (not through quotes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.core.clock import Clock
from bot.kernel.market_state import MarketState
from bot.kernel.order_manager import OrderManager
from bot.kernel.store import Store
from connectors.base import Venue

if TYPE_CHECKING:
    from bot.kernel.engine import Engine


@dataclass(frozen=True, slots=True)
class BotContext:
    clock: Clock
    store: Store
    venues: dict[str, Venue]
    state: MarketState
    orders: OrderManager
    engine: Engine
    # AMM pools by venue name (amm.ports.AmmPool: the chain client or the simulated pool)
    pools: dict[str, Any] = field(default_factory=dict)
    # pool venue name -> the (venue, symbol) whose price is the pool's fair price
    pool_fair_markets: dict[str, tuple[str, str]] = field(default_factory=dict)
