"""Hot reload: a changed config file (mtime polling) or SIGHUP applies new strategy parameters,
markets and risk limits to the running bot without a restart.

- an invalid file is rejected with each bad field named in the log; the running config stays,
- strategies are rebuilt and swapped in the engine at once; every market is requoted under the
  new parameters, and markets no strategy quotes any more have their orders cancelled,
- an active strategy (XEMM, arbitrage, LP manager, hedger) whose parameters changed is drained
  (in-flight hedges and legs finish), stopped, and restarted from the store under the new ones;
  added ones start and removed ones stop the same way (bot/app/active_runner.py); a market the
  old instance had paused is handed to the new one before it starts (bot/kernel/market_pauses.py:
  a pause outlives a reload as it outlives a restart),
- added markets get a new engine slot and a stream; removed markets keep their slot, unquoted,
  and stop streaming (their book and trade subscriptions end; a book the bot no longer trades
  must not be judged stale or pull anything), until a later reload adds them back,
- [bot] and [venues] changes (credentials, kinds, database, ops) need a restart: they are logged
  and left as they were, while the rest of the change is applied.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

from bot.app.active_runner import ActiveRunner, OwningStrategy
from bot.app.config import AppConfig, MarketConfig, load_config
from bot.app.startup import init_position, risk_limits
from bot.app.strategy_wiring import build_strategies, cancel_orders_on
from bot.core.config_base import ConfigError
from bot.core.domain import Market
from bot.kernel.market_pauses import MarketPauseRecord
from bot.kernel.runtime import Runtime
from connectors.base import StreamedMarkets

log = logging.getLogger("mmbot.reload")


class Reloadable(Protocol):
    """A started bot, as a reload sees it (bot.app.lifecycle.Bot)."""

    @property
    def config(self) -> AppConfig: ...

    @property
    def runtime(self) -> Runtime: ...

    @property
    def active(self) -> ActiveRunner: ...

    @property
    def market_pause_record(self) -> MarketPauseRecord | None:
        """Where the strategies' per-market pauses are kept (None before the start)."""
        ...

    def set_config(self, config: AppConfig) -> None:
        """The config now running (hot reload has applied it)."""
        ...


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    config: AppConfig  # what will run: the running [bot] and [venues] with the new rest
    applied: tuple[str, ...]  # sections that changed and are applied
    restart_needed: tuple[str, ...]  # sections that changed and wait for a restart


def plan_reload(running: AppConfig, new: AppConfig, source: str = "config") -> ReloadPlan:
    """What of `new` can be applied to a bot running `running`; ConfigError when none of it can."""
    restart = tuple(s for s in ("bot", "venues") if getattr(new, s) != getattr(running, s))
    problems = [
        f"markets[{i}].venue: venue {m.venue!r} is not running (adding a venue needs a restart)"
        for i, m in enumerate(new.markets)
        if m.venue not in running.venues
    ]
    if problems:
        raise ConfigError(source, problems)
    applied = tuple(s for s in ("markets", "strategies", "risk") if getattr(new, s) != getattr(running, s))
    effective = running.model_copy(
        update={"markets": new.markets, "strategies": new.strategies, "risk": new.risk}
    )
    return ReloadPlan(effective, applied, restart)


async def apply_config(bot: Reloadable, new: AppConfig) -> None:
    """Apply markets, strategies and risk limits of `new` to the running bot; all checks first."""
    rt = bot.runtime
    added = await _new_markets(rt, new)
    running_active = {n: p for n, p in bot.config.strategies.items() if bot.active.get(n) is not None}
    streamed = _streamed(bot.config)
    bot.set_config(new)
    _apply_markets(rt, new, added)
    await _apply_strategies(rt, bot.active, new, running_active, bot.market_pause_record)
    rt.orders.limits = risk_limits(new)
    rt.risk_guard.update_limits(new.risk)
    await _apply_streams(rt, streamed, _streamed(new))


def _streamed(config: AppConfig) -> dict[str, list[str]]:
    """Per venue, the symbols of its configured markets (what it streams)."""
    out: dict[str, list[str]] = {}
    for m in config.markets:
        out.setdefault(m.venue, []).append(m.symbol)
    return out


async def _apply_streams(rt: Runtime, before: dict[str, list[str]], after: dict[str, list[str]]) -> None:
    """Each venue whose market set changed streams exactly its configured markets from now on."""
    wanted = {(venue, symbol) for venue, symbols in after.items() for symbol in symbols}
    rt.engine.set_retired(
        {slot for slot, m in enumerate(rt.state.markets) if (m.venue, m.symbol) not in wanted}
    )
    for name, venue in rt.venues.items():
        symbols = after.get(name, [])
        if set(symbols) == set(before.get(name, [])):
            continue
        if isinstance(venue, StreamedMarkets):
            await venue.stream_markets(symbols)
        else:
            await venue.start_streams(symbols, rt.engine.on_event)
        log.info("%s: streaming %s", name, ", ".join(symbols) or "no market")


async def _new_markets(rt: Runtime, new: AppConfig) -> list[tuple[MarketConfig, Market]]:
    """Markets of `new` the bot does not trade yet; ConfigError when a venue does not list one."""
    problems: list[str] = []
    added = []
    for i, mc in enumerate(new.markets):
        if rt.state.slot(mc.venue, mc.symbol) is None:
            available = await rt.venues[mc.venue].load_markets()
            if mc.symbol not in available:
                problems.append(f"markets[{i}].symbol: {mc.symbol!r} is not traded on venue {mc.venue}")
            else:
                added.append((mc, available[mc.symbol]))
    if problems:
        raise ConfigError("config", problems)
    return added


def _apply_markets(rt: Runtime, new: AppConfig, added: list[tuple[MarketConfig, Market]]) -> None:
    """Added markets get a slot (and a position); every market's sizes follow the new config."""
    state = rt.state
    for mc, market in added:
        sizes = market.size_to_lots(mc.order_size), market.size_to_lots(mc.max_position)
        slot = state.add_market(market, *sizes)
        rt.orders.add_market(market)
        rt.engine.add_market_slot()
        init_position(new, rt.store, rt.orders, slot)
    for mc in new.markets:
        found = state.slot(mc.venue, mc.symbol)
        if found is None:
            raise RuntimeError(f"{mc.key} has no engine slot after it was added")
        market = state.markets[found]
        state.order_size_lots[found] = market.size_to_lots(mc.order_size)
        state.max_position_lots[found] = market.size_to_lots(mc.max_position)


async def _apply_strategies(
    rt: Runtime,
    runner: ActiveRunner,
    new: AppConfig,
    running_active: Mapping[str, object],
    pauses: MarketPauseRecord | None,
) -> None:
    """Rebuild every quoting strategy and each active one whose params changed; swap them in.
    Each old instance stops (drained) before its pauses are handed to the new one, which then
    starts: a pause the old one took while draining is kept too."""
    changed = [name for name, params in new.strategies.items() if running_active.get(name) != params]
    built = build_strategies(new, rt.state, rt.clock.now_ns(), only=changed)
    swaps: dict[str, OwningStrategy | None] = {}
    for name in changed:
        if name in built.active:
            swaps[name] = built.active[name]
        elif name in running_active:
            swaps[name] = None  # became a quoting strategy
    for name in running_active:
        if name not in new.strategies:
            swaps[name] = None  # removed
    cancel = partial(cancel_orders_on, rt.orders)
    for name, owning in swaps.items():
        verb = "stopped" if owning is None else "restarted" if name in running_active else "started"
        await runner.replace(name, None, cancel, new.bot.stop_timeout_s)
        if owning is not None:
            if pauses is not None:
                pauses.restore([owning.strategy])
            await runner.replace(name, owning, cancel, new.bot.stop_timeout_s)
        log.info("strategies.%s: active strategy %s under the new config", name, verb)
    rt.engine.replace_strategies(built.quoting)


async def reload_from_file(bot: Reloadable, path: Path) -> bool:
    """Load, plan and apply; every outcome is logged and stored as an event. True when applied."""
    store = bot.runtime.store
    now = bot.runtime.clock.now_ns()
    try:
        plan = plan_reload(bot.config, load_config(path), str(path))
        await apply_config(bot, plan.config)
    except ConfigError as exc:
        log.error("config reload rejected, still running the previous config:\n%s", exc)
        store.record_event("reload_rejected", now, problems=exc.problems)
        return False
    for section in plan.restart_needed:
        log.warning("config reload: [%s] changed; that part applies only after a restart", section)
    log.info("config reloaded from %s: applied %s", path, ", ".join(plan.applied) or "no changes")
    store.record_event("reload", now, applied=plan.applied, restart_needed=plan.restart_needed)
    return True


class ConfigWatcher:
    """Polls the config file's mtime and size on the bot's clock; a change triggers a reload."""

    def __init__(self, bot: Reloadable, path: Path, interval_s: float) -> None:
        self.bot = bot
        self.path = path
        self.interval_s = interval_s
        self._stat = self._read_stat()
        self._digest = self._read_digest()
        self._lock = asyncio.Lock()

    def _read_stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _read_digest(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            stat = self._read_stat()
            if stat is None or stat == self._stat:
                continue
            self._stat = stat
            digest = self._read_digest()
            if digest != self._digest:  # touched but unchanged: nothing to do
                self._digest = digest
                await self.reload()

    async def reload(self) -> bool:
        """Also the SIGHUP handler's action; reloads never overlap."""
        async with self._lock:
            try:
                return await reload_from_file(self.bot, self.path)
            except Exception:
                log.exception("config reload failed; still running the previous config")
                return False
