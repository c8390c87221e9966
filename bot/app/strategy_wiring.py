"""Strategies of a config, built through the registry: the one place start and hot reload use.

Quoting kinds go to the engine all at once (`Engine.replace_strategies`, which also wires their
event hooks); active kinds go to the `ActiveRunner` with the markets whose orders they own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from bot.app.active_runner import ActiveRunner, OwningStrategy
from bot.app.config import AppConfig
from bot.app.ops_port import ops_endpoint_runs
from bot.app.strategy_markets import owned_markets
from bot.core.domain import Market
from bot.kernel.engine import Engine
from bot.kernel.market_state import MarketState
from bot.kernel.order_manager import OrderManager
from strategies.registry import ActiveKind, BuildInputs, Quoting, strategy_kind


@dataclass(frozen=True, slots=True)
class BuiltStrategies:
    quoting: list[Quoting]
    active: dict[str, OwningStrategy]


def market_sizes(config: AppConfig) -> Callable[[Market], tuple[float, float]]:
    """(order size, max position) of a market in base units, from its [[markets]] entry."""

    def sizes_of(market: Market) -> tuple[float, float]:
        mc = config.market(market.key)
        return float(mc.order_size), float(mc.max_position)

    return sizes_of


def build_strategies(
    config: AppConfig, state: MarketState, now_ns: int, only: Collection[str] | None = None
) -> BuiltStrategies:
    """Every strategy of `config` (or those named in `only`), in config order.

    Their diagnostics are read only through the ops endpoint's /metrics: without one (a backtest)
    a strategy may skip what only feeds them."""
    read = ops_endpoint_runs(config.bot.ops, config.bot.clock)
    inputs = BuildInputs(state, market_sizes(config), now_ns, diagnostics_read=read)
    quoting: list[Quoting] = []
    active: dict[str, OwningStrategy] = {}
    for name, params in config.strategies.items():
        if only is not None and name not in only:
            continue
        row = strategy_kind(name, params)
        if isinstance(row, ActiveKind):
            active[name] = OwningStrategy(row.build(name, params, inputs), owned_markets(params))
        else:
            quoting.append(row.build(name, params, inputs))
    return BuiltStrategies(quoting, active)


def install_strategies(built: BuiltStrategies, engine: Engine, runner: ActiveRunner) -> None:
    """At start: the engine quotes the quoting kinds, the runner holds the active ones (not running
    yet)."""
    engine.replace_strategies(built.quoting)
    for owning in built.active.values():
        runner.add(owning)


async def cancel_orders_on(orders: OrderManager, markets: list[str]) -> None:
    """Cancel our live orders on these "venue:symbol" markets (an active strategy was swapped out)."""
    keys = set(markets)
    for order in list(orders.live.values()):
        if f"{order.request.venue}:{order.request.symbol}" in keys:
            await orders.cancel_order(order.client_order_id)
