"""What a running bot offers to strategies and jobs that act on their own (not through quotes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.clock import Clock
from bot.config import AppConfig
from bot.market_state import MarketState
from bot.order_manager import OrderManager
from bot.store import Store
from connectors.base import Venue

if TYPE_CHECKING:
    from bot.engine import Engine


@dataclass(slots=True)
class BotContext:
    config: AppConfig
    clock: Clock
    store: Store
    venues: dict[str, Venue]
    state: MarketState
    orders: OrderManager
    engine: Engine
    # AMM pools by venue name (amm.ports.AmmPool: the chain client or the simulated pool)
    pools: dict[str, Any] = field(default_factory=dict)
