"""Wiring and lifecycle: load state, reconcile every venue, quote, and stop cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.app.active_runner import ActiveRunner
from bot.app.config import AppConfig
from bot.app.instance_lock import InstanceLock, acquire_instance_lock
from bot.app.ops_port import OpsPortTaken, check_ops_port, ops_endpoint_runs
from bot.app.pools import SimPools
from bot.app.reload import ConfigWatcher
from bot.app.startup import assemble_runtime, reconcile_at_start
from bot.app.stopping import StopBudget
from bot.app.strategy_wiring import build_strategies, cancel_orders_on, install_strategies
from bot.core.clock import run_simulated
from bot.core.supervision import RestartPolicy, Supervisor, UsesSupervisor
from bot.kernel.context import ActiveStrategy
from bot.kernel.control_store import ControlStore
from bot.kernel.market_pauses import MarketPauseRecord, paused_markets
from bot.kernel.mid_series import MidSeriesRecorder
from bot.kernel.reconcile import cancel_everything, store_last_fills
from bot.kernel.runtime import Runtime
from bot.kernel.store import Store, resolve_database_url
from bot.ops.jobs import schedule_jobs, snapshot
from bot.ops.metrics import BotMetrics
from bot.ops.notify_events import BotNotifications
from bot.ops.scheduler import JobScheduler
from bot.ops.systemd import SystemdNotifier
from connectors.base import Venue

if TYPE_CHECKING:
    from bot.ops.server import OpsServer  # imported when started: its web server (aiohttp) costs 0.15 s

log = logging.getLogger("mmbot")

# The engine's requote loop, the risk guard and the config watcher are restarted whatever happens.
KERNEL_RESTARTS = RestartPolicy(base_s=0.5, max_s=30.0)


class Bot:
    """One bot from one config: venues, kernel and store; its ops services; start, run and stop.

    `runtime` (every kernel object) exists from `start()` on: `started` says whether it does.
    The bot is also the `bot.ops.operator.Operator` its ops endpoint commands."""

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
        self.store = Store(resolve_database_url(config.bot.database_url, config_dir), config.bot.instance_id)
        self._injected = venues is not None
        self.venues: dict[str, Venue] = dict(venues or {})
        self._runtime: Runtime | None = None
        self.supervisor = Supervisor()  # every long-lived task: streams, strategies, jobs, loops
        self.metrics = BotMetrics()
        self.metrics.watch_tasks(self.supervisor)
        self.scheduler = JobScheduler.for_clock(config.bot.clock, self.metrics, self.supervisor)
        self.notifications = BotNotifications.from_config(
            config.bot.notify, config.bot.instance_id, self.metrics
        )
        self.sim_pools = SimPools({})
        self.active = ActiveRunner([], self.scheduler, self.supervisor)  # no strategies until start
        self.ops_server: OpsServer | None = None
        self.mid_series: MidSeriesRecorder | None = None  # the stored fair series (attribution)
        self.instance_lock: InstanceLock | None = None  # held from start() until the store closes
        self.market_pause_record: MarketPauseRecord | None = None
        self.stop_deadline: float | None = None  # loop time the stop must be done by (run_bot)
        self.ready = asyncio.Event()  # set once started: quoting, ops endpoint up (sd_notify READY)
        self._closed = False

    @property
    def started(self) -> bool:
        return self._runtime is not None

    @property
    def runtime(self) -> Runtime:
        """Every kernel object of the started bot; RuntimeError before `start()`."""
        if self._runtime is None:
            raise RuntimeError("the bot has not started: it has no runtime yet")
        return self._runtime

    # ---- start -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Reconcile every venue, then wire strategies and ops onto the runtime; streams last.

        Refuses (`StartupError`) before touching any venue when another process holds this store
        and instance id, or when the required ops endpoint's port is taken."""
        self.instance_lock = acquire_instance_lock(self.store.url, self.config.bot.instance_id)
        try:
            await self._start()
        except BaseException:
            self._release_instance_lock()
            raise

    async def _start(self) -> None:
        cfg = self.config
        if cfg.bot.clock == "wall":
            check_ops_port(cfg.bot.ops)
        kernel = await reconcile_at_start(
            cfg, self.store, self.venues, self.metrics, build_venues=not self._injected
        )
        self.sim_pools = SimPools.build(cfg.venues, self.venues, kernel.clock)
        await self.sim_pools.connect_chain(cfg.venues, kernel.clock)
        rt = self._runtime = assemble_runtime(cfg, self.store, self.venues, kernel, self.sim_pools.pools)
        controls = ControlStore(self.store, cfg.bot.instance_id)
        rt.risk_guard.restore(controls)  # a pause or trip from before a restart holds from here on
        self.metrics.bind(rt)
        self.mid_series = MidSeriesRecorder(self.store, rt.state, rt.clock, rt.orders.fair_price)
        rt.engine.listeners.append(self.mid_series.on_event)
        hooks = self.notifications.attach(rt, self.supervisor)
        b = cfg.bot
        schedule_jobs(self.scheduler, rt, b.summary_interval_s, b.snapshot_interval_s, b.jobs)
        if hooks is not None and b.notify.fills_summary_interval_s > 0:
            self.scheduler.add("fills_summary", b.notify.fills_summary_interval_s, hooks.fills_summary)
        self.active = ActiveRunner(
            rt.engine.listeners, self.scheduler, self.supervisor, partial(cancel_orders_on, rt.orders)
        )
        install_strategies(build_strategies(cfg, rt.state, rt.clock.now_ns()), rt.engine, self.active)
        self.metrics.watch_lp(lambda: self.active_strategies)
        self.metrics.watch_edges(lambda: self.active_strategies, rt.clock)
        self.metrics.watch_hedges(lambda: self.active_strategies)
        record = MarketPauseRecord(controls, rt.clock, self.store, lambda: self.active_strategies)
        self.market_pause_record = record
        record.restore(self.active_strategies)  # before any strategy runs
        self.scheduler.add("market_pauses", cfg.risk.check_interval_s, record.periodic_sync)
        if self.config_path is not None:
            self.config_watcher = ConfigWatcher(self, self.config_path, b.config_poll_interval_s)
        for name, venue in self.venues.items():
            if isinstance(venue, UsesSupervisor):
                venue.use_supervisor(self.supervisor)
            await venue.start_streams([m.symbol for m in rt.markets if m.venue == name], rt.engine.on_event)

    @property
    def active_strategies(self) -> list[ActiveStrategy]:
        return self.active.strategies

    def set_config(self, config: AppConfig) -> None:
        """The config now running (hot reload has applied it)."""
        self.config = config

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
        rt = self.runtime
        spawn = self.supervisor.spawn
        own = ["engine", "risk-guard"]
        spawn("engine", rt.engine.run, KERNEL_RESTARTS, context="requote loop")
        self.sim_pools.start()
        self.active.start(rt.context)
        self.scheduler.start()
        self.notifications.start()
        spawn("risk-guard", rt.risk_guard.run, KERNEL_RESTARTS, context="kill-switch checks")
        if self.config_watcher is not None and self.config.bot.config_poll_interval_s > 0:
            own.append("config-watcher")
            spawn("config-watcher", self.config_watcher.run, KERNEL_RESTARTS, context=str(self.config_path))
        waiters: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
        if duration_s is not None:
            waiters.append(asyncio.create_task(asyncio.sleep(duration_s)))
        try:
            # Inside the try: a required endpoint that cannot bind stops the bot cleanly.
            await self._start_ops_server(rt)
            self.ready.set()
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiters:
                task.cancel()
            for name in own[1:]:
                await self.supervisor.cancel(name)
            await self.scheduler.shutdown()
            await self.shutdown()  # stops the engine's loop (the supervisor sees it return)
            await self.notifications.stop()
            if self.ops_server is not None:
                await self.ops_server.stop()
            await self.supervisor.cancel("engine")

    async def _start_ops_server(self, rt: Runtime) -> None:
        """The ops endpoint, where one runs (`ops_endpoint_runs`: never on the simulated clock)."""
        ops = self.config.bot.ops
        if not ops_endpoint_runs(ops, self.config.bot.clock):
            return
        from bot.ops.server import OpsServer

        server = OpsServer(rt, self, self.metrics, ops, self.supervisor, lambda: self.active_strategies)
        try:
            await server.start()
        except OSError as exc:
            await server.stop()
            problem = f"cannot bind {ops.host}:{ops.port} ({exc.strerror})"
            if not ops.optional:  # taken since the check at start
                raise OpsPortTaken(f"ops endpoint: {problem}") from None
            log.warning("ops endpoint: %s; running without it (bot.ops.optional = true)", problem)
            return
        self.ops_server = server

    # ---- operator commands (bot.ops.operator.Operator) -------------------------------------

    async def pause(self, reason: str) -> None:
        await self.runtime.risk_guard.pause("operator", reason)

    async def resume(self) -> bool:
        return await self.runtime.risk_guard.resume("operator")

    def resume_markets(self, market: str | None = None) -> list[str]:
        """Resume markets a strategy paused (`market`: only that "venue:symbol"); returns the keys."""
        if self.market_pause_record is None:
            raise RuntimeError("the bot has not started: no market is paused")
        return self.market_pause_record.resume(self.active_strategies, market)

    def paused_markets(self) -> list[dict[str, Any]]:
        record, running = self.market_pause_record, self.active_strategies
        return paused_markets(running) if record is None else record.paused(running)

    async def cancel_all(self) -> int:
        """Cancel every open order of ours now (quoting goes on unless paused); returns how many left."""
        rt = self.runtime
        timeout_s = self.config.bot.stop_timeout_s
        return await cancel_everything(rt.venues, rt.orders, rt.instance_id, timeout_s, quiesced=False)

    async def cancel_all_offline(self) -> int:
        """`mmbot cancel-all`: reconcile each venue, cancel every open order of ours, close; no quoting."""
        cfg = self.config
        try:
            kernel = await reconcile_at_start(
                cfg, self.store, self.venues, self.metrics, build_venues=not self._injected
            )
            left = await cancel_everything(
                self.venues, kernel.orders, cfg.bot.instance_id, cfg.bot.stop_timeout_s
            )
            self.store.record_event("cancel_all", kernel.clock.now_ns(), open_orders_left=left)
            log.info("cancel-all: %d open orders of ours left", left)
            return left
        finally:
            await self._close()

    # ---- stop ------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Stop quoting, cancel every open order of ours on every venue, snapshot, close.

        All of it within `stop_timeout_s` from the stop request (`stop_deadline`), whatever the
        venues answer: a step they fail or that runs out of time is logged and left to the next
        start (bot.app.stopping); the stop event is stored either way, naming what was skipped.
        """
        total = self.config.bot.stop_timeout_s
        budget = StopBudget(total, self.stop_deadline)
        log.info("stopping: cancelling every open order")
        # each step leaves a share of the whole budget to the ones after it; the last 10 % are for
        # closing the venues and the process's exit
        keep = {"strategies": 0.7 * total, "cancels": 0.35 * total, "fills": 0.2 * total, "end": 0.1 * total}
        strategies = self.active.stop_all(budget.left(keep["strategies"]))
        await budget.step("stopping active strategies", strategies, keep["strategies"])
        await budget.step("stopping the simulated pools", self.sim_pools.stop(), keep["strategies"])
        rt = self._runtime
        if rt is not None:
            await budget.step("stopping the engine", rt.engine.stop(), keep["strategies"])
            left_s, paced = budget.left(keep["cancels"]), rt.engine.rounds.sweep_start  # replay: as recorded
            cancels = cancel_everything(rt.venues, rt.orders, rt.instance_id, left_s, paced=paced)
            remaining = await budget.step("cancelling every open order", cancels, keep["cancels"])
            last_fills = store_last_fills(rt.venues, rt.store, rt.orders, rt.instance_id)
            await budget.step("storing the last fills", last_fills, keep["fills"])
            await budget.step("the final snapshot", snapshot(rt, "final"), keep["end"])
            if remaining is None:  # the venues could not say: what we still track is the best count
                remaining = len(rt.orders.live)
            if self.mid_series is not None:
                self.mid_series.close()
            self.store.record_event(
                "stop", rt.clock.now_ns(), open_orders_left=remaining, skipped=budget.skipped
            )
            report = log.info if remaining == 0 and not budget.skipped else log.warning
            report("stopped: %d open orders left, %d fills this run", remaining, rt.orders.counters.fills)
        await self._close(budget)

    async def _close(self, budget: StopBudget | None = None) -> None:
        """Close the venues this bot built (injected ones belong to the caller) and the store, once."""
        if self._closed:
            return
        self._closed = True
        if not self._injected:
            for name, venue in self.venues.items():
                # closing is local (sessions, sockets): a floor of 0.5 s even past the deadline
                timeout = None if budget is None else max(budget.left(), 0.5)
                try:
                    await asyncio.wait_for(venue.close(), timeout)
                except Exception as exc:  # closing must not hide why we stop, nor stop the others
                    log.warning("closing venue %s: %s: %s", name, type(exc).__name__, exc)
        self.store.close()
        self._release_instance_lock()

    def _release_instance_lock(self) -> None:
        if self.instance_lock is not None:
            self.instance_lock.release()
            self.instance_lock = None


def run_bot(
    config: AppConfig, config_dir: Path, duration_s: float | None, config_path: Path | None = None
) -> None:
    """Entry point of `mmbot run`: wall clock with signal handling, or the simulated clock.

    Under systemd (Type=notify) it says READY once the bot quotes and serves its ops endpoint,
    pings the watchdog from the event loop, and says STOPPING when a stop signal comes. A stop
    signal starts the `stop_timeout_s` budget of the stop (Bot.shutdown).
    """

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        bot = Bot(config, config_dir, config_path=config_path)
        systemd = SystemdNotifier()

        def on_stop_signal() -> None:
            if not stop.is_set():
                bot.stop_deadline = loop.time() + config.bot.stop_timeout_s
                systemd.send("STOPPING=1")
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_stop_signal)
        reloads: set[asyncio.Task[bool]] = set()

        def on_sighup() -> None:
            task = loop.create_task(bot.reload_config())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_sighup)

        async def ready_then_watchdog() -> None:
            # start-up has TimeoutStartSec; the watchdog guards the running loop
            await bot.ready.wait()
            systemd.send("READY=1")
            await systemd.watchdog()

        helper = asyncio.create_task(ready_then_watchdog(), name="sd-notify")
        try:
            await bot.run(duration_s, stop)
        finally:
            helper.cancel()
            await asyncio.gather(helper, return_exceptions=True)
            systemd.close()
            await bot._close()  # a start that failed never reached the stop

    if config.bot.clock == "simulated":
        run_simulated(main)
    else:
        asyncio.run(main())
