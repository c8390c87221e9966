"""Control state kept in the store across restarts: pauses, kill-switch trips, loss baselines.

Each "process" is a fresh Store, ControlStore and RiskGuard on the same SQLite file, as after a
crash (nothing is closed cleanly in between). The clock is injected and the PnL scripted: a real
process's PnL restarts at 0, so every restart here restarts the scripted PnL at 0 too.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from bot.core.clock import NS_PER_S, FixedClock
from bot.kernel.control_store import KILL_SWITCH_TRIP, LOSS_BASELINES, OPERATOR_PAUSE, ControlStore
from bot.kernel.engine import Engine
from bot.kernel.kill_switch import DAY_NS
from bot.kernel.market_pauses import MarketPauseRecord, PauseAnnouncer, paused_markets
from bot.kernel.market_state import MarketState
from bot.kernel.order_manager import OrderManager
from bot.kernel.risk import RiskLimits
from bot.kernel.risk_config import RiskConfig
from bot.kernel.risk_guard import RiskGuard
from bot.kernel.store import Store

DAY0 = 20_000 * DAY_NS  # 00:00 UTC of some day
H = 3600 * NS_PER_S
M = 60 * NS_PER_S


class ScriptedGuard(RiskGuard):
    """The real RiskGuard with the PnL scripted by the test (the clock is injected)."""

    pnl = Decimal(0)

    def pnl_total(self) -> Decimal:
        return self.pnl


class Process:
    """One bot process's control objects on the store file, restored as `Bot.start` does."""

    def __init__(
        self,
        path: Path,
        clock: FixedClock,
        limits: RiskConfig,
        instance_id: str = "mm1",
        deferred: bool = False,
    ) -> None:
        self.store = Store(f"sqlite:///{path}", durability="deferred" if deferred else "immediate")
        state = MarketState([], [], [])
        orders = OrderManager(instance_id, {}, state, self.store, clock, RiskLimits(1, 1, 1), 1)
        self.engine = Engine(state, orders, clock)
        self.guard = ScriptedGuard(limits, self.engine, orders, self.store, clock)
        self.controls = ControlStore(self.store, instance_id)
        self.guard.restore(self.controls)

    def check(self, pnl: str):
        self.guard.pnl = Decimal(pnl)
        return asyncio.run(self.guard.check_once())


def test_daily_loss_counts_from_midnight_across_midnight_and_restarts(tmp_path):
    path = tmp_path / "bot.sqlite"
    clock = FixedClock(DAY0 - H)  # 23:00 UTC
    limits = RiskConfig(daily_loss_limit_quote=Decimal("100"), pause_cooldown_s=60)

    first = Process(path, clock, limits)
    assert first.check("0") is None  # the day's first check: that day's reference
    clock.advance_ns(30 * M)
    assert first.check("-80") is None  # 80 lost today
    # Killed at 23:30 (no clean stop); back at 00:00:30: yesterday's 80 do not count today.
    clock.advance_ns(30 * M + 30 * NS_PER_S)
    second = Process(path, clock, limits)
    assert second.check("0") is None
    clock.advance_ns(10 * M)
    assert second.check("-90") is None  # 90 lost since 00:00 UTC
    # Killed at 00:10:30, back at 00:25: the new process's PnL starts at 0 again, the 90 lost
    # today are carried (before: the baseline restarted at the process start, so 11 more was 11).
    clock.advance_ns(15 * M)
    third = Process(path, clock, limits)
    assert third.check("0") is None
    assert third.guard.kill_switch.day_start_pnl == Decimal("90")  # 0 on this process's scale = -90
    clock.advance_ns(5 * M)
    trip = third.check("-11")
    assert trip is not None and trip.rule == "daily_loss" and trip.value == 101.0
    assert "since 00:00 UTC" in trip.message
    assert third.engine.paused and third.guard.paused_by == "kill_switch"
    assert trip.resume_after_ns == DAY0 + DAY_NS  # a daily-loss trip waits for the next UTC day

    # The trip survives the next restart: paused before any check, still tripped, no new trip.
    clock.advance_ns(H)
    fourth = Process(path, clock, limits)
    assert fourth.engine.paused and fourth.guard.paused_by == "kill_switch"
    assert fourth.guard.kill_switch.tripped == trip
    assert fourth.check("50") is None and fourth.engine.paused
    # After midnight the cool-down resumes it, and the stored pause and trip are gone.
    clock.advance_ns(DAY0 + DAY_NS - clock.now_ns() + NS_PER_S)
    assert fourth.check("50") is None
    assert not fourth.engine.paused and fourth.guard.paused_by is None
    assert fourth.controls.get(KILL_SWITCH_TRIP) is None and fourth.controls.get(OPERATOR_PAUSE) is None
    fifth = Process(path, clock, limits)
    assert not fifth.engine.paused and fifth.guard.kill_switch.tripped is None
    resumes = [json.loads(e.detail)["source"] for e in fifth.store.events("resume")]
    assert resumes == ["cool-down"]


def test_drawdown_peak_is_carried_across_a_restart(tmp_path):
    path = tmp_path / "bot.sqlite"
    clock = FixedClock(DAY0 + 5 * H)
    limits = RiskConfig(max_drawdown_quote=Decimal("50"))
    first = Process(path, clock, limits)
    first.check("0")
    clock.advance_ns(M)
    first.check("40")  # peak 40
    clock.advance_ns(M)
    first.check("10")  # 30 below the peak
    clock.advance_ns(M)
    second = Process(path, clock, limits)
    second.check("0")  # the same PnL on the new scale: peak 30 here
    clock.advance_ns(M)
    trip = second.check("-21")  # 51 below the peak of before the restart
    assert trip is not None and trip.rule == "drawdown" and trip.value == 51.0


def test_operator_pause_holds_through_restarts_until_resumed(tmp_path):
    path = tmp_path / "bot.sqlite"
    clock = FixedClock(DAY0 + 5 * H)
    first = Process(path, clock, RiskConfig())
    assert not first.engine.paused
    asyncio.run(first.guard.pause("operator", "ops endpoint: maintenance"))
    clock.advance_ns(M)
    for _ in range(2):  # two restarts (crash or clean: nothing is cleared by a stop)
        again = Process(path, clock, RiskConfig())
        assert again.engine.paused
        assert (again.guard.paused_by, again.guard.pause_reason) == ("operator", "ops endpoint: maintenance")
    assert asyncio.run(again.guard.resume("operator")) is True
    after = Process(path, clock, RiskConfig())
    assert not after.engine.paused and after.guard.paused_by is None
    # An operator's resume also accepts the day's loss: the stored reference is the PnL at resume.
    assert after.controls.get(LOSS_BASELINES) is not None


def test_a_backtest_store_gets_the_baselines_once_when_the_checks_stop(tmp_path):
    """Deferred durability (a backtest, never restarted): no control row per check, the last
    baselines written when the risk guard's task ends."""
    clock = FixedClock(DAY0 + H)
    bt = Process(tmp_path / "bt.sqlite", clock, RiskConfig(check_interval_s=1.0), deferred=True)
    writes = []
    put = bt.controls.put
    bt.controls.put = lambda name, value, ts_ns: (writes.append(name), put(name, value, ts_ns))  # type: ignore[method-assign]
    bt.guard.pnl = Decimal("5")

    async def checks() -> None:
        task = asyncio.create_task(bt.guard.run())
        for _ in range(3):
            await asyncio.sleep(0)
            clock.advance_ns(NS_PER_S)
            await bt.guard.check_once()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(checks())
    assert writes == ["loss_baselines"]
    kept = bt.controls.get(LOSS_BASELINES)
    assert kept is not None and (kept["ts_ns"], kept["peak_pnl"]) == (DAY0 + H + 3 * NS_PER_S, "5")


def test_control_rows_are_per_instance_id(tmp_path):
    path = tmp_path / "bot.sqlite"
    clock = FixedClock(DAY0)
    asyncio.run(Process(path, clock, RiskConfig(), "mm1").guard.pause("operator", "mm1 only"))
    assert Process(path, clock, RiskConfig(), "mm1").engine.paused
    assert not Process(path, clock, RiskConfig(), "mm2").engine.paused


class PausingStrategy:
    """A strategy that pauses markets on its own and can be handed a stored pause (the protocol)."""

    def __init__(self, name: str, markets: list[str]) -> None:
        self.name = name
        self.markets = markets
        self.paused: dict[str, dict[str, str]] = {}
        self.pause_announcer = PauseAnnouncer()

    def paused_markets(self) -> dict[str, dict[str, str]]:
        return dict(self.paused)

    def resume(self, market_key: str) -> bool:
        return self.paused.pop(market_key, None) is not None

    def hold(self, market_key: str, detail: dict[str, str]) -> bool:
        if market_key not in self.markets:
            return False
        self.paused[market_key] = detail
        return True


def test_market_pauses_are_stored_and_handed_back_at_start(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/bot.sqlite")
    clock = FixedClock(DAY0)
    xemm = PausingStrategy("xemm", ["a:BTC/USDT", "b:BTC/USDT"])
    running = [xemm]
    record = MarketPauseRecord(ControlStore(store, "mm1"), clock, store, lambda: running)
    assert record.restore([xemm]) == []
    xemm.paused["a:BTC/USDT"] = {"unhedged_base": "0.003"}
    xemm.pause_announcer.announce()  # stored the moment it is taken, not on the next period
    stored = {"xemm|a:BTC/USDT": {"unhedged_base": "0.003"}}
    assert ControlStore(store, "mm1").with_prefix("market_pause:") == stored
    assert [json.loads(e.detail)["market"] for e in store.events("market_pause")] == ["a:BTC/USDT"]

    # Restart: the same pause comes back before the strategy runs; one whose market is gone from
    # the config stays stored and listed until the operator resumes it.
    ControlStore(store, "mm1").put("market_pause:xemm|c:ETH/USDT", {"unhedged_base": "1"}, clock.now_ns())
    again = PausingStrategy("xemm", ["a:BTC/USDT", "b:BTC/USDT"])
    running = [again]
    record = MarketPauseRecord(ControlStore(store, "mm1"), clock, store, lambda: running)
    assert record.restore([again]) == ["a:BTC/USDT"]
    assert paused_markets([again]) == [{"strategy": "xemm", "market": "a:BTC/USDT", "unhedged_base": "0.003"}]
    assert [p["market"] for p in record.paused([again])] == ["a:BTC/USDT", "c:ETH/USDT"]
    # A strategy that quotes a stored pause again on its own is paused again: only a resume lifts it.
    again.paused.clear()
    record.sync([again])
    assert again.paused == {"a:BTC/USDT": {"unhedged_base": "0.003"}}
    assert len(ControlStore(store, "mm1").with_prefix("market_pause:")) == 2

    # The operator resumes one market, then the rest: each stored as an event, gone from the store.
    assert record.resume([again], "a:BTC/USDT") == ["a:BTC/USDT"] and again.paused == {}
    assert record.resume([again], None) == ["c:ETH/USDT"]
    assert [json.loads(e.detail)["market"] for e in store.events("market_resume")] == [
        "a:BTC/USDT",
        "c:ETH/USDT",
    ]
    assert ControlStore(store, "mm1").with_prefix("market_pause:") == {}
    third = PausingStrategy("xemm", ["a:BTC/USDT"])
    assert MarketPauseRecord(ControlStore(store, "mm1"), clock, store, lambda: [third]).restore([third]) == []
    assert third.paused == {}


def test_xemm_market_paused_by_a_failed_hedge_stays_paused_after_a_restart_and_a_reload(tmp_path):
    """The real XEMM strategy in a real Bot (simulated clock, mock venues kept across the restart)."""
    import tomli_w

    from bot.app.lifecycle import Bot
    from bot.core.clock import LoopClock, run_simulated
    from connectors.mock.venue import MockVenue
    from strategies.xvenue.obligation_store import ObligationStore
    from strategies.xvenue.store import XvenueLedger
    from tests.ops.kit import our_open_orders, run_with_script
    from tests.xvenue.test_xemm import FlakyTakerVenue, _config

    config = _config(tmp_path, hedge_max_attempts=2)
    path = tmp_path / "bot.toml"  # the restarted bot's file: a reload rebuilds XEMM
    path.write_text(tomli_w.dumps(config.model_dump(mode="json", exclude_none=True)))

    async def until_paused(bot):
        xemm = bot.active_strategies[0]
        while not xemm.paused_markets():  # the taker refuses every hedge
            await asyncio.sleep(0.01)
        return xemm.paused_markets()  # and stop at once: the pause was stored when it was taken

    async def after_restart(bot):
        xemm = bot.active_strategies[0]
        held = xemm.paused_markets()
        hedge_orders = ObligationStore(bot.runtime.store, "x")
        placed, hedges = bot.runtime.orders.counters.placed, len(hedge_orders.hedges())
        await asyncio.sleep(30)
        hedged = len(hedge_orders.hedges()) - hedges  # the taken-up obligation's hedge
        quiet = (bot.runtime.orders.counters.placed - placed - hedged, await our_open_orders(bot))
        wider = config.model_dump(mode="json", exclude_none=True)
        wider["strategies"]["x"]["min_profitability_bps"] = 7
        path.write_text(tomli_w.dumps(wider))
        assert await bot.reload_config()
        rebuilt = bot.active_strategies[0]
        held_after_reload = rebuilt.paused_markets() if rebuilt is not xemm else None
        await asyncio.sleep(30)
        hedged = len(hedge_orders.hedges()) - hedges
        quiet_after_reload = (
            bot.runtime.orders.counters.placed - placed - hedged,
            await our_open_orders(bot),
        )
        resumed = bot.resume_markets("va:BTC/USDT")
        await asyncio.sleep(5)
        return held, quiet, held_after_reload, quiet_after_reload, resumed, await our_open_orders(bot)

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venues = {
            "va": MockVenue("va", config.venues["va"], clock),
            "vb": FlakyTakerVenue("vb", config.venues["vb"], clock),
        }
        venues["vb"].reject_ioc = float("inf")
        stop = asyncio.Event()

        async def until_paused_then_stop(bot):
            try:
                return await until_paused(bot)
            finally:
                stop.set()

        first = Bot(config, tmp_path, venues=venues)
        paused = await run_with_script(first, 1500, until_paused_then_stop, stop=stop)
        venues["vb"].reject_ioc = 0  # the operator dealt with the taker venue, not yet with the pause
        out = await run_with_script(Bot(config, tmp_path, venues=venues, config_path=path), 80, after_restart)
        for v in venues.values():
            await v.close()
        return paused, out

    paused, (held, quiet, held_after_reload, quiet_after_reload, resumed, open_after) = run_simulated(main)
    assert list(paused) == ["va:BTC/USDT"] and paused["va:BTC/USDT"]["unhedged_base"] != "0"
    # the same market held paused; its obligation, taken up at start, is hedged now the taker trades
    assert list(held) == ["va:BTC/USDT"] and held["va:BTC/USDT"]["unhedged_base"] == "0"
    trips = XvenueLedger(Store(config.bot.database_url, config.bot.instance_id)).round_trips("x")
    assert trips and {t.status for t in trips} == {"hedged"}
    assert quiet == (0, 0)  # 30 s after the restart: nothing placed on the paused maker market
    assert held_after_reload == held  # the rebuilt instance holds it before it quotes
    assert quiet_after_reload == (0, 0)  # 30 s after the reload: still nothing placed
    assert resumed == ["va:BTC/USDT"] and open_after > 0
    store = Store(config.bot.database_url, config.bot.instance_id)
    assert ControlStore(store, config.bot.instance_id).with_prefix("market_pause:") == {}


def test_an_arbitrage_pause_holds_through_a_hot_reload_and_a_restart_until_resumed(tmp_path):
    """The real arbitrage in a real Bot (simulated clock, the mock CEX and pool kept across)."""
    import copy

    import tomli_w

    from bot.app.config import load_config, validate_config
    from bot.core.clock import LoopClock, run_simulated
    from strategies.xvenue.store import XvenueLedger
    from tests.ops.kit import run_with_script
    from tests.xvenue.test_amm_arbitrage import BotWithPool, _pool, config_data
    from tests.xvenue.test_xemm import FlakyTakerVenue

    path = tmp_path / "bot.toml"
    data = config_data(tmp_path)
    data["bot"]["config_poll_interval_s"] = 0  # reloads only when the test asks
    path.write_text(tomli_w.dumps(data))
    config = validate_config(data)
    pool = _pool(3030.0)  # 1 % over the CEX: a trade is wanted all the time
    market = "va:ETH/USDT"

    def quiet_for(bot, seconds):
        """Trades and orders over `seconds` of a paused market (both must stay 0)."""
        ledger, orders = XvenueLedger(bot.store), bot.runtime.orders

        async def measure():
            trades, placed = len(ledger.arb_trades()), orders.counters.placed + orders.counters.risk_refused
            await asyncio.sleep(seconds)
            return len(
                ledger.arb_trades()
            ) - trades, orders.counters.placed + orders.counters.risk_refused - placed

        return measure()

    async def pause_then_reload(bot):
        old = bot.active_strategies[0]
        while not old.paused_markets():  # the CEX refuses every leg: 3 failed trades pause it
            await asyncio.sleep(0.01)
        out = {"paused": old.paused_markets()}
        changed = copy.deepcopy(data)
        changed["strategies"]["arb"]["slippage_buffer_bps"] = 4
        path.write_text(tomli_w.dumps(changed))
        assert await bot.reload_config()
        new = bot.active_strategies[0]
        out["rebuilt"] = new is not old and new.params.slippage_buffer_bps == 4
        out["after_reload"] = new.paused_markets()
        bot.venues["va"].reject_ioc = 0  # the CEX takes orders again: only the pause stops a trade
        out["quiet_after_reload"] = await quiet_for(bot, 20)
        return out

    async def restart_then_resume(bot):
        arb = bot.active_strategies[0]
        out = {"after_restart": arb.paused_markets(), "quiet_after_restart": await quiet_for(bot, 20)}
        out["resumed"] = bot.resume_markets(market)
        ledger = XvenueLedger(bot.store)
        while not any(t.status == "done" for t in ledger.arb_trades()):
            await asyncio.sleep(0.1)
        return out

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venue = FlakyTakerVenue("va", config.venues["va"], clock)
        venue.reject_ioc = float("inf")
        first = BotWithPool(config, tmp_path, venues={"va": venue}, config_path=path)
        first.pool = pool
        stop = asyncio.Event()

        async def script(bot):
            try:
                return await pause_then_reload(bot)
            finally:
                stop.set()

        before = await run_with_script(first, 300, script, stop=stop)
        second = BotWithPool(load_config(path), tmp_path, venues={"va": venue})
        second.pool = pool
        after = await run_with_script(second, 120, restart_then_resume)
        await venue.close()
        return before, after

    before, after = run_simulated(main)
    paused = before["paused"]
    assert paused == {market: {"unhedged_base": "0", "pool": "uni", "reason": "3 failed trades in a row"}}
    assert before["rebuilt"] and before["after_reload"] == paused
    assert before["quiet_after_reload"] == (0, 0)  # 20 s: no trade, no order on the paused market
    assert after["after_restart"] == paused and after["quiet_after_restart"] == (0, 0)
    assert after["resumed"] == [market]
    store = Store(config.bot.database_url, config.bot.instance_id)
    statuses = [t.status for t in XvenueLedger(store).arb_trades("arb")]
    assert statuses[:3] == ["unwound"] * 3 and set(statuses[3:]) == {"done"}  # trades only after the resume
    # one pause taken, stored once; one resume, stored as an event; nothing left in the store
    assert [json.loads(e.detail)["market"] for e in store.events("market_pause")] == [market]
    assert [json.loads(e.detail) for e in store.events("market_resume")] == [
        {"strategy": "arb", "market": market, **paused[market]}
    ]
    assert ControlStore(store, config.bot.instance_id).with_prefix("market_pause:") == {}
