"""Wiring and lifecycle: load state, reconcile every venue, quote, and stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from decimal import Decimal
from pathlib import Path

from bot.app.active_runner import ActiveRunner
from bot.app.config import AppConfig, pool_fair_markets
from bot.app.pools import SimPools
from bot.app.reload import ConfigWatcher
from bot.core.clock import NS_PER_S, LoopClock, run_simulated
from bot.core.domain import Fill, Market, OrderState
from bot.core.ids import client_order_prefix
from bot.kernel.context import BotContext
from bot.kernel.engine import Engine
from bot.kernel.market_pauses import resume_markets
from bot.kernel.market_state import MarketState
from bot.kernel.order_manager import OrderCounters, OrderManager
from bot.kernel.reconcile import reconcile_venue, store_missed_fills
from bot.kernel.risk import RiskLimits
from bot.kernel.risk_guard import RiskGuard
from bot.kernel.store import PnlSnapshotRow, Store, resolve_database_url
from bot.kernel.strategy import ActiveStrategy
from bot.ops.jobs import housekeeping, reconcile_running
from bot.ops.metrics import BotMetrics
from bot.ops.notify_events import BotNotifications
from bot.ops.scheduler import JobScheduler
from bot.ops.server import OpsServer
from connectors.base import OrderNotFound, Venue, VenueError
from connectors.ccxt.params import CcxtVenueParams
from connectors.ccxt.venue import CcxtVenue
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import MockVenue
from connectors.replay import ReplayVenue, ReplayVenueParams
from strategies.registry import build_strategy

log = logging.getLogger("mmbot")

# Orders a stop can find tracked but not listed by the venue: their request's answer was lost.
_UNSETTLED = frozenset({OrderState.PENDING_NEW, OrderState.PENDING_CANCEL})


def build_venue(name: str, params: object, clock: LoopClock) -> Venue:
    if isinstance(params, MockVenueParams):
        return MockVenue(name, params, clock)
    if isinstance(params, CcxtVenueParams):
        return CcxtVenue(name, params, clock)
    if isinstance(params, ReplayVenueParams):
        return ReplayVenue(name, params, clock)
    raise ValueError(f"venues.{name}: kind {getattr(params, 'kind', '?')!r} is not supported yet")


class Bot:
    """One running bot: venues, engine, order manager and store, from one config."""

    def __init__(
        self,
        config: AppConfig,
        config_dir: Path,
        venues: dict[str, Venue] | None = None,
        config_path: Path | None = None,
    ) -> None:
        """`venues` injects already-built venues (tests that keep one venue across restarts);
        `config_path` is the file watched for hot reloads (none: the config never changes)."""
        self.config = config
        self.config_path = config_path
        self.config_watcher: ConfigWatcher | None = None
        self.store = Store(resolve_database_url(config.bot.database_url, config_dir))
        self.clock: LoopClock | None = None
        self._injected = venues is not None
        self.venues: dict[str, Venue] = dict(venues or {})
        self.engine: Engine | None = None
        self.orders: OrderManager | None = None
        self.markets: list[Market] = []
        self._last_counters = OrderCounters()
        self.context: BotContext | None = None
        self.active: ActiveRunner | None = None
        self.risk_guard: RiskGuard | None = None
        self.metrics = BotMetrics()
        self.scheduler = JobScheduler.for_clock(config.bot.clock, self.metrics)
        b = config.bot
        self.scheduler.add("summary", b.summary_interval_s, self._log_summary)
        self.scheduler.add("snapshot", b.snapshot_interval_s, self._snapshot)
        self.scheduler.add("reconcile", b.jobs.reconcile_interval_s, lambda: reconcile_running(self))
        self.scheduler.add("housekeeping", b.jobs.housekeeping_interval_s, self._housekeeping)
        self.ops_server: OpsServer | None = None
        self.sim_pools = SimPools({})
        self.notifications = BotNotifications.from_config(b.notify, b.instance_id, self.metrics)
        if self.notifications.enabled and b.notify.fills_summary_interval_s > 0:
            self.scheduler.add(
                "fills_summary", b.notify.fills_summary_interval_s, self.notifications.fills_summary
            )

    # ---- start -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self._prepare()
        assert self.engine is not None and self.orders is not None and self.clock is not None
        cfg, state = self.config, self.engine.state
        self.sim_pools = SimPools.build(cfg.venues, self.venues, self.clock)
        await self.sim_pools.connect_chain(cfg.venues, self.clock)
        self.context = BotContext(
            self.clock,
            self.store,
            self.venues,
            state,
            self.orders,
            self.engine,
            pools=self.sim_pools.pools,
            pool_fair_markets=pool_fair_markets(cfg),
        )
        self.risk_guard = RiskGuard(cfg.risk, self.engine, self.orders, self.store, self.clock)
        self.metrics.bind(self)
        self.notifications.attach(self)
        self.active = ActiveRunner(self.engine.listeners, self.scheduler)
        actives = []
        for name, params in cfg.strategies.items():
            built = build_strategy(name, params, state, self.market_sizes, self.clock.now_ns())
            if isinstance(built, tuple):
                self.engine.add_strategy(*built)
            else:
                actives.append(built)
        for active in actives:
            self.active.add(active)
        if self.config_path is not None:
            self.config_watcher = ConfigWatcher(self, self.config_path, cfg.bot.config_poll_interval_s)
        for name, venue in self.venues.items():
            await venue.start_streams(
                [m.symbol for m in self.markets if m.venue == name], self.engine.on_event
            )

    async def _prepare(self) -> None:
        """Connect every venue, load state and reconcile it with each venue (nothing quoted yet)."""
        cfg = self.config
        epoch = int(cfg.bot.sim_start.timestamp() * NS_PER_S) if cfg.bot.clock == "simulated" else None
        self.clock = clock = LoopClock(epoch_ns=epoch)
        self.store.record_event("start", clock.now_ns(), instance_id=cfg.bot.instance_id)
        log.info(
            "starting %s: %d venues, %d markets, store %s",
            cfg.bot.instance_id,
            len(cfg.venues),
            len(cfg.markets),
            self.store.engine.url.render_as_string(hide_password=True),
        )
        if not self._injected:
            for name, params in cfg.venues.items():
                if not SimPools.is_pool(params):
                    self.venues[name] = build_venue(name, params, clock)
        for venue in self.venues.values():
            await venue.connect()
        self.markets = await self._load_markets()
        state = MarketState(
            self.markets,
            [m.size_to_lots(cfg.market(m.key).order_size) for m in self.markets],
            [m.size_to_lots(cfg.market(m.key).max_position) for m in self.markets],
        )
        limits = RiskLimits(
            cfg.risk.max_order_notional, cfg.risk.max_total_position_notional, cfg.risk.max_open_orders
        )
        next_seq = (self.store.max_order_seq() or 0) + 1
        self.orders = OrderManager(
            cfg.bot.instance_id, self.venues, state, self.store, clock, limits, next_seq, self._on_fill
        )
        self.orders.on_round_trip = self.metrics.on_round_trip
        self.engine = Engine(state, self.orders, clock)
        for name, venue in self.venues.items():
            by_symbol = {m.symbol: m for m in self.markets if m.venue == name}
            await reconcile_venue(venue, by_symbol, self.store, self.orders, clock, cfg.bot.instance_id)
            balances = await venue.fetch_balances()
            self.orders.apply_balances(name, balances)
            self.store.snapshot_balances(name, balances.values(), clock.now_ns(), "start")
        self._init_positions(state)

    def _on_fill(self, fill: Fill, market: Market) -> None:
        assert self.orders is not None
        state = self.orders.state
        slot = state.slot(market.venue, market.symbol)
        self.metrics.on_fill(fill, market, None if slot is None else state.mid_decimal(slot))

    def market_sizes(self, market: Market) -> tuple[float, float]:
        mc = self.config.market(market.key)
        return float(mc.order_size), float(mc.max_position)

    async def _load_markets(self) -> list[Market]:
        out = []
        for mc in self.config.markets:
            available = await self.venues[mc.venue].load_markets()
            if mc.symbol not in available:
                raise ValueError(
                    f"markets: {mc.key} is not traded on venue {mc.venue} "
                    f"(it has {', '.join(sorted(available))})"
                )
            out.append(available[mc.symbol])
        return out

    def _init_positions(self, state: MarketState) -> None:
        for slot in range(len(state)):
            self.init_position(slot, state)

    def init_position(self, slot: int, state: MarketState | None = None) -> None:
        """Position = base balance now − the balance that counts as flat, in lots."""
        assert self.orders is not None
        state = state or self.orders.state
        market = state.markets[slot]
        mc = self.config.market(market.key) if market.key in self._market_keys() else None
        now = self.orders.balances[market.venue].get(market.base)
        total = now.total if now is not None else Decimal(0)
        target = mc.target_base if mc is not None else None
        if target is None:
            first = self.store.balance_snapshot(market.venue, "first").get(market.base)
            target = first.total if first is not None else total
        state.position_lots[slot] = market.size_to_lots(total - target)

    def _market_keys(self) -> set[str]:
        return {m.key for m in self.config.markets}

    @property
    def active_strategies(self) -> list[ActiveStrategy]:
        return self.active.strategies if self.active is not None else []

    @property
    def active_names(self) -> set[str]:
        return {s.name for s in self.active_strategies}

    async def cancel_orders_on(self, markets: list[str]) -> None:
        """Cancel our live orders on these "venue:symbol" markets (an active strategy was swapped out)."""
        assert self.orders is not None
        keys = set(markets)
        for order in list(self.orders.live.values()):
            if f"{order.request.venue}:{order.request.symbol}" in keys:
                await self.orders.cancel_order(order.client_order_id)

    def set_config(self, config: AppConfig) -> None:
        """The config now running (hot reload has applied it)."""
        self.config = config
        if self.orders is not None:
            self.markets = self.orders.state.markets

    async def reload_config(self) -> bool:
        """SIGHUP: reload the config file now."""
        if self.config_watcher is None:
            log.warning("reload requested but the bot runs the embedded config: nothing to reload")
            return False
        return await self.config_watcher.reload()

    # ---- run -------------------------------------------------------------------------------

    async def run(self, duration_s: float | None = None, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        await self.start()
        assert self.engine is not None
        engine_task = asyncio.create_task(self.engine.run(), name="engine")
        self.sim_pools.start()
        assert self.context is not None
        assert self.active is not None
        self.active.start(self.context)
        self.scheduler.start()
        self.notifications.start()
        side_tasks = []
        assert self.risk_guard is not None
        side_tasks.append(asyncio.create_task(self.risk_guard.run(), name="risk-guard"))
        if self.config_watcher is not None and self.config.bot.config_poll_interval_s > 0:
            side_tasks.append(asyncio.create_task(self.config_watcher.run(), name="config-watcher"))
        await self._start_ops_server()
        waiters = [asyncio.create_task(stop.wait()), engine_task]
        if duration_s is not None:
            waiters.append(asyncio.create_task(asyncio.sleep(duration_s)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if engine_task.done() and engine_task.exception() is not None:
                log.error("engine stopped unexpectedly", exc_info=engine_task.exception())
        finally:
            for task in side_tasks + waiters:
                if task is not engine_task:
                    task.cancel()
            await self.scheduler.shutdown()
            await self.shutdown()
            await self.notifications.stop()
            if self.ops_server is not None:
                await self.ops_server.stop()
            engine_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await engine_task

    async def _start_ops_server(self) -> None:
        """The ops endpoint runs on the wall clock only (a simulated run has no operator)."""
        ops = self.config.bot.ops
        if not ops.enabled or self.config.bot.clock != "wall":
            return
        server = OpsServer(self, ops)
        try:
            await server.start()
        except OSError as exc:
            log.error("ops endpoint not started: cannot bind %s:%d (%s)", ops.host, ops.port, exc.strerror)
            await server.stop()
            return
        self.ops_server = server

    async def _housekeeping(self) -> None:
        housekeeping(self)

    async def _log_summary(self) -> None:
        assert self.orders is not None
        now = dataclasses.replace(self.orders.counters)
        last, self._last_counters = self._last_counters, now
        log.info(
            "last %.0fs: placed %d, cancelled %d, rejected %d, risk-refused %d, fills %d | open %d, "
            "fills since start %d, pnl since start %s",
            self.config.bot.summary_interval_s,
            now.placed - last.placed,
            now.cancelled - last.cancelled,
            now.rejected - last.rejected,
            now.risk_refused - last.risk_refused,
            now.fills - last.fills,
            len(self.orders.live),
            now.fills,
            self._pnl_total(),
        )

    def _pnl_total(self) -> str:
        assert self.orders is not None and self.engine is not None
        total = Decimal(0)
        for slot, pnl in enumerate(self.orders.pnl):
            mid = self.engine.state.mid_decimal(slot)
            if mid is not None:
                total += pnl.pnl_at(mid)
        return f"{total:.4f}"

    async def _snapshot(self, reason: str = "periodic") -> None:
        assert self.clock is not None and self.orders is not None and self.engine is not None
        now = self.clock.now_ns()
        for name, venue in self.venues.items():
            balances = await venue.fetch_balances()
            self.orders.apply_balances(name, balances)
            self.store.snapshot_balances(name, balances.values(), now, reason)
        rows = []
        for slot, market in enumerate(self.markets):
            pnl = self.orders.pnl[slot]
            mid = self.engine.state.mid_decimal(slot) or Decimal(0)
            rows.append(
                PnlSnapshotRow(
                    market=market.key,
                    ts_ns=now,
                    position_base=str(pnl.position_base),
                    cash_quote=str(pnl.cash_quote),
                    fees_quote=str(pnl.fees_quote),
                    mid=str(mid),
                    pnl_quote=str(pnl.pnl_at(mid)),
                )
            )
        self.store.snapshot_pnl(rows)

    # ---- operator commands -----------------------------------------------------------------

    async def pause(self, reason: str) -> None:
        assert self.risk_guard is not None
        await self.risk_guard.pause("operator", reason)

    async def resume(self) -> bool:
        assert self.risk_guard is not None
        return await self.risk_guard.resume("operator")

    def resume_markets(self, market: str | None = None) -> list[str]:
        """Resume markets a strategy paused (`market`: only that "venue:symbol"); returns the keys."""
        assert self.clock is not None
        return resume_markets(self.active_strategies, market, self.store, self.clock)

    async def cancel_all(self) -> int:
        """Cancel every open order of ours now (quoting goes on unless paused); returns how many left."""
        return await self._cancel_everything(self.config.bot.stop_timeout_s, quiesced=False)

    async def cancel_all_offline(self) -> int:
        """`mmbot cancel-all`: reconcile each venue, cancel every open order of ours, close; no quoting."""
        try:
            await self._prepare()
            left = await self._cancel_everything(self.config.bot.stop_timeout_s)
            assert self.clock is not None
            self.store.record_event("cancel_all", self.clock.now_ns(), open_orders_left=left)
            log.info("cancel-all: %d open orders of ours left", left)
            return left
        finally:
            if not self._injected:
                for venue in self.venues.values():
                    with contextlib.suppress(Exception):
                        await venue.close()
            self.store.close()

    # ---- stop ------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Stop quoting, cancel every open order of ours on every venue, snapshot, close."""
        log.info("stopping: cancelling every open order")
        if self.active is not None:
            await self.active.stop_all(self.config.bot.stop_timeout_s)
        await self.sim_pools.stop()
        if self.engine is not None:
            await self.engine.stop()
        if self.orders is not None and self.clock is not None:
            remaining = await self._cancel_everything(self.config.bot.stop_timeout_s)
            await self._store_last_fills()
            await self._snapshot("final")
            self.store.record_event("stop", self.clock.now_ns(), open_orders_left=remaining)
            log.info("stopped: %d open orders left, %d fills this run", remaining, self.orders.counters.fills)
        if not self._injected:
            for venue in self.venues.values():
                with contextlib.suppress(Exception):
                    await venue.close()
        self.store.close()

    async def _store_last_fills(self) -> None:
        """Fills made just before the cancels may still be in flight on a stream about to close."""
        assert self.orders is not None
        for name, venue in self.venues.items():
            symbols = [m.symbol for m in self.orders.state.markets if m.venue == name]
            try:
                found = await store_missed_fills(
                    venue, symbols, self.store, self.orders, self.config.bot.instance_id
                )
            except VenueError as exc:
                log.warning("cannot check %s for last fills (the next start will): %s", name, exc)
                continue
            if found:
                log.info("stop: %d fills of the last moments stored from %s", found, name)

    async def _cancel_everything(self, timeout_s: float, *, quiesced: bool = True) -> int:
        """Cancel until neither the venues nor we have an open order of ours (or the timeout).

        `quiesced`: nothing else sends orders now (stop, offline cancel-all), so a tracked order the
        venue does not list has no request in flight and can be settled by asking the venue.
        """
        assert self.orders is not None and self.clock is not None
        prefix = client_order_prefix(self.config.bot.instance_id)
        deadline = asyncio.get_running_loop().time() + timeout_s
        venue_open = 0
        while True:
            # Every cancel of ours has been answered once this returns: an order of ours the venue
            # still lists is open whatever our state says (a cancel lost in a crash, a stale ack).
            await self.orders.cancel_all()
            venue_open = 0
            for venue in self.venues.values():
                try:
                    open_orders = await venue.fetch_open_orders()
                except VenueError as exc:
                    log.warning("cannot list open orders on %s: %s", venue.name, exc)
                    venue_open += 1
                    continue
                listed = {u.client_order_id for u in open_orders}
                for order in [o for o in self.orders.live.values() if o.request.venue == venue.name]:
                    if quiesced and order.client_order_id not in listed and order.state in _UNSETTLED:
                        await self.orders.settle(order)  # learn how it ended instead of waiting
                for update in open_orders:
                    if not update.client_order_id.startswith(prefix):
                        continue
                    venue_open += 1
                    tracked = self.orders.live.get(update.client_order_id)
                    if not quiesced and tracked is not None and tracked.state is OrderState.PENDING_CANCEL:
                        continue  # the engine's own cancel may still be in flight
                    try:
                        self.orders.apply_update(
                            await venue.cancel_order(update.symbol, update.client_order_id)
                        )
                    except OrderNotFound:
                        pass
                    except VenueError as exc:
                        log.warning("cancel %s failed: %s", update.client_order_id, exc)
            if (venue_open == 0 and not self.orders.live) or asyncio.get_running_loop().time() > deadline:
                return max(venue_open, len(self.orders.live))
            await asyncio.sleep(0.05)


def run_bot(
    config: AppConfig, config_dir: Path, duration_s: float | None, config_path: Path | None = None
) -> None:
    """Entry point of `mmbot run`: wall clock with signal handling, or the simulated clock."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        bot = Bot(config, config_dir, config_path=config_path)
        reloads: set[asyncio.Task[bool]] = set()

        def on_sighup() -> None:
            task = loop.create_task(bot.reload_config())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_sighup)
        await bot.run(duration_s, stop)

    if config.bot.clock == "simulated":
        run_simulated(main)
    else:
        asyncio.run(main())


def cancel_all_offline(config: AppConfig, config_dir: Path) -> int:
    """Entry point of `mmbot cancel-all`: works whether or not the bot is running."""

    async def main() -> int:
        return await Bot(config, config_dir).cancel_all_offline()

    return run_simulated(main) if config.bot.clock == "simulated" else asyncio.run(main())
