"""Start-up: connect every venue, build the kernel, reconcile it with each venue, then the Runtime.

`reconcile_at_start` leaves a bot that agrees with its venues and quotes nothing (what `mmbot
cancel-all` needs); `assemble_runtime` adds the risk guard and the strategies' context.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal

from amm.ports import AmmPool
from bot.app.config import AppConfig, pool_fair_markets
from bot.app.config_ranges import lots_problem
from bot.core.clock import NS_PER_S, LoopClock
from bot.core.domain import Fill, Market
from bot.core.exit_codes import ExitCode, StartupError
from bot.kernel.context import BotContext
from bot.kernel.control_store import ControlStore
from bot.kernel.engine import Engine
from bot.kernel.market_state import MarketState
from bot.kernel.order_manager import OrderManager
from bot.kernel.reconcile import reconcile_venue
from bot.kernel.risk import RiskLimits
from bot.kernel.risk_guard import RiskGuard
from bot.kernel.runtime import Runtime
from bot.kernel.store import Store
from bot.ops.metrics import BotMetrics
from connectors.base import AuthError, RateLimited, Venue, VenueUnavailable
from connectors.paper.account_state import UsesKeyedState
from connectors.registry import build_venue, is_pool
from connectors.replay.recorded_latency import RecordsRequoteRounds, ReplaysRequoteRounds

log = logging.getLogger("mmbot")


@dataclass(frozen=True, slots=True)
class Reconciled:
    """The kernel of a bot whose venues are connected and agree with its store; nothing quoted."""

    clock: LoopClock
    state: MarketState
    orders: OrderManager
    engine: Engine


def risk_limits(config: AppConfig) -> RiskLimits:
    risk = config.risk
    return RiskLimits(risk.max_order_notional, risk.max_total_position_notional, risk.max_open_orders)


async def reconcile_at_start(
    config: AppConfig, store: Store, venues: dict[str, Venue], metrics: BotMetrics, *, build_venues: bool
) -> Reconciled:
    """Connect every venue (built from the config into `venues` when `build_venues`), load state
    and reconcile it with each venue."""
    cfg = config
    epoch = int(cfg.bot.sim_start.timestamp() * NS_PER_S) if cfg.bot.clock == "simulated" else None
    clock = LoopClock(epoch_ns=epoch)
    store.record_event("start", clock.now_ns(), instance_id=cfg.bot.instance_id)
    log.info(
        "starting %s: %d venues, %d markets, store %s",
        cfg.bot.instance_id,
        len(cfg.venues),
        len(cfg.markets),
        store.engine.url.render_as_string(hide_password=True),
    )
    if build_venues:
        for name, params in cfg.venues.items():
            if not is_pool(params):
                venues[name] = build_venue(name, params, clock)
    for name, venue in venues.items():
        if isinstance(venue, UsesKeyedState):  # a paper account lives in the store
            venue.use_keyed_state(ControlStore(store, cfg.bot.instance_id))
        async with _venue_answers(name):
            await venue.connect()
    markets = await _load_markets(cfg, venues)
    state = MarketState(
        markets,
        [m.size_to_lots(cfg.market(m.key).order_size) for m in markets],
        [m.size_to_lots(cfg.market(m.key).max_position) for m in markets],
    )

    def on_fill(fill: Fill, market: Market) -> None:
        slot = state.slot(market.venue, market.symbol)
        metrics.on_fill(fill, market, None if slot is None else state.mid_decimal(slot))

    next_seq = (store.max_order_seq() or 0) + 1
    orders = OrderManager(
        cfg.bot.instance_id, venues, state, store, clock, risk_limits(cfg), next_seq, on_fill
    )
    orders.on_round_trip = metrics.on_round_trip
    engine = Engine(state, orders, clock)
    orders.self_trade.requote = engine.requote_slot  # a quote held back by its own market's orders
    for name, venue in venues.items():
        if isinstance(venue, RecordsRequoteRounds):  # a paper session's timing, for its replay
            engine.rounds.observers.append(venue)
        if isinstance(venue, ReplaysRequoteRounds) and (recorded := venue.requote_rounds()):
            engine.rounds.replay(recorded)  # its replay: requote and sync when the session did
        by_symbol = {m.symbol: m for m in markets if m.venue == name}
        async with _venue_answers(name):
            await reconcile_venue(venue, by_symbol, store, orders, clock, cfg.bot.instance_id)
            balances = await venue.fetch_balances()
        orders.apply_balances(name, balances)
        store.snapshot_balances(name, balances.values(), clock.now_ns(), "start")
    for slot in range(len(state)):
        init_position(cfg, store, orders, slot)
    return Reconciled(clock, state, orders, engine)


@asynccontextmanager
async def _venue_answers(name: str) -> AsyncIterator[None]:
    """A venue that cannot be reached at start (after the adapter's retries) ends the start with
    one line and the exit code saying so; refused credentials are the config's problem."""
    try:
        yield
    except AuthError as exc:
        raise StartupError(ExitCode.CONFIG, [f"venues.{name}: credentials refused: {exc}"]) from None
    except (VenueUnavailable, RateLimited) as exc:
        line = f"venues.{name}: unreachable at start: {exc}"
        raise StartupError(ExitCode.VENUE_UNREACHABLE, [line]) from None


async def _load_markets(config: AppConfig, venues: dict[str, Venue]) -> list[Market]:
    """The listed markets as their venues define them; each one's sizes must fit in its lots."""
    out = []
    for i, mc in enumerate(config.markets):
        async with _venue_answers(mc.venue):
            available = await venues[mc.venue].load_markets()
        if mc.symbol not in available:
            listed = ", ".join(sorted(available)[:20])
            line = f"markets[{i}].symbol: {mc.symbol!r} is not traded on venue {mc.venue} (it lists {listed})"
            raise StartupError(ExitCode.CONFIG, [line])
        problem = lots_problem(f"markets[{i}]", mc, available[mc.symbol].lot_size)
        if problem is not None:
            raise StartupError(ExitCode.CONFIG, [problem])
        out.append(available[mc.symbol])
    return out


def init_position(config: AppConfig, store: Store, orders: OrderManager, slot: int) -> None:
    """Position = base balance now − the balance that counts as flat, in lots."""
    state = orders.state
    market = state.markets[slot]
    listed = market.key in {m.key for m in config.markets}
    now = orders.balances[market.venue].get(market.base)
    total = now.total if now is not None else Decimal(0)
    target = config.market(market.key).target_base if listed else None
    if target is None:
        first = store.balance_snapshot(market.venue, "first").get(market.base)
        target = first.total if first is not None else total
    state.position_lots[slot] = market.size_to_lots(total - target)


def assemble_runtime(
    config: AppConfig,
    store: Store,
    venues: dict[str, Venue],
    kernel: Reconciled,
    pools: dict[str, AmmPool],
) -> Runtime:
    """The reconciled kernel plus its risk guard and the context strategies run with."""
    clock, state, orders, engine = kernel.clock, kernel.state, kernel.orders, kernel.engine
    context = BotContext(
        clock,
        store,
        venues,
        state,
        orders,
        engine,
        pools=pools,
        pool_fair_markets=pool_fair_markets(config),
    )
    guard = RiskGuard(config.risk, engine, orders, store, clock)
    return Runtime(config.bot.instance_id, clock, store, venues, state, orders, engine, guard, context)
