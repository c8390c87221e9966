"""XEMM on two mock venues on the simulated clock: every maker fill hedged, retries, escalation."""

import asyncio
import itertools
import json
from decimal import Decimal

import pytest

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import OrderRequest
from bot.core.events import OrderUpdate
from bot.kernel.store import Store
from bot.reports.status import collect_status, format_status
from connectors.base import OrderRejected
from connectors.mock.venue import MockVenue
from strategies.xvenue.obligation_store import ObligationStore
from strategies.xvenue.store import XvenueLedger
from tests.kit import small_config_dict
from tests.ops.kit import run_with_script


class FlakyTakerVenue(MockVenue):
    """The real mock venue, refusing its first `reject_ioc` immediate-or-cancel orders."""

    reject_ioc: float = 0

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        if request.immediate_or_cancel and self.reject_ioc > 0:
            self.reject_ioc -= 1
            raise OrderRejected(self.name, f"{request.client_order_id}: taker venue refuses (injected)")
        return await super().place_order(request)


class RecordingMakerVenue(MockVenue):
    """The real mock venue, noting the (virtual) time of every order placed on it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.placed_ns: list[int] = []

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        self.placed_ns.append(self.clock.now_ns())
        return await super().place_order(request)


def _config(tmp_path, **xemm):
    data = small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite")
    data["markets"] = [m for m in data["markets"] if m["symbol"] == "BTC/USDT"]
    for venue in data["venues"].values():
        venue["markets"] = [m for m in venue["markets"] if m["symbol"] == "BTC/USDT"]
        # a livelier maker venue: takers reach our quotes a dozen bps from fair
        venue["markets"][0].update(
            noise_taker_rate_per_s=2.0, noise_taker_size_lots=15, volatility_annual=1.5
        )
    data["strategies"] = {
        "x": {
            "kind": "xemm",
            "maker_markets": ["va:BTC/USDT"],
            "taker_market": "vb:BTC/USDT",
            "min_profitability_bps": 1,
            "hedge_retry_delay_ms": 100,
            **xemm,
        }
    }
    return validate_config(data)


def _run(config, tmp_path, duration_s, reject_ioc=0.0):
    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venues = {
            "va": RecordingMakerVenue("va", config.venues["va"], clock),
            "vb": FlakyTakerVenue("vb", config.venues["vb"], clock),
        }
        venues["vb"].reject_ioc = reject_ioc
        bot = Bot(config, tmp_path, venues=venues)
        await bot.run(duration_s=duration_s)
        open_left = await venues["va"].fetch_open_orders()
        for v in venues.values():
            await v.close()
        return bot, open_left

    return run_simulated(main)


def _signed_base(store: Store, venue: str) -> Decimal:
    return sum(((1 if f.side == "buy" else -1) * Decimal(f.size) for f in store.fills(venue)), Decimal(0))


def test_every_maker_fill_is_hedged_and_its_edge_stored(tmp_path):
    config = _config(tmp_path)
    _run(config, tmp_path, duration_s=240)
    store = Store(config.bot.database_url, config.bot.instance_id)
    maker_fills = store.fills("va")
    assert len(maker_fills) >= 5, f"only {len(maker_fills)} maker fills"
    assert all(f.is_maker for f in maker_fills)
    assert all(not f.is_maker for f in store.fills("vb"))
    # hedged quantity equals filled quantity (opposite sign), within one lot
    assert abs(_signed_base(store, "va") + _signed_base(store, "vb")) <= Decimal("0.001")
    trips = XvenueLedger(store).round_trips("x")
    assert len(trips) == len(maker_fills)
    assert {t.status for t in trips} == {"hedged"}
    assert sum(Decimal(t.hedged_base) for t in trips) == sum(Decimal(f.size) for f in maker_fills)
    # realised edge = maker leg − hedge leg − both fees, exactly as stored
    for t in trips:
        sign = 1 if t.maker_side == "buy" else -1
        size = Decimal(t.hedged_base)
        gross = sign * (Decimal(t.hedge_notional) - Decimal(t.maker_price) * size)
        assert Decimal(t.realised_edge_quote) == gross - Decimal(t.maker_fee) - Decimal(t.hedge_fees)
    assert store.events("alert") == []


def test_maker_quotes_are_an_engine_strategy_throttled_by_its_min_requote_interval(tmp_path):
    config = _config(tmp_path, min_requote_interval_ms=1_500)
    seen = {}

    async def script(bot):
        await asyncio.sleep(30)
        seen["quoting"] = [(type(qs.strategy).__name__, qs.attached) for qs in bot.runtime.engine.strategies]

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venues = {name: RecordingMakerVenue(name, config.venues[name], clock) for name in ("va", "vb")}
        bot = Bot(config, tmp_path, venues=venues)
        await run_with_script(bot, 60, script)
        for v in venues.values():
            await v.close()
        return bot, venues["va"].placed_ns

    bot, placed_ns = run_simulated(main)
    assert seen["quoting"] == [("XemmQuotes", True)]  # quoted by the engine while it runs
    assert bot.runtime.engine.strategies == []  # and detached when it stopped
    rounds = sorted(set(placed_ns))  # the orders of one requote go out at one virtual instant
    assert len(rounds) >= 5
    assert min(b - a for a, b in itertools.pairwise(rounds)) >= 1_500 * 1_000_000


def test_rejected_first_hedge_is_retried(tmp_path):
    config = _config(tmp_path)
    bot, _ = _run(config, tmp_path, duration_s=120, reject_ioc=1)
    store = Store(config.bot.database_url, config.bot.instance_id)
    trips = XvenueLedger(store).round_trips("x")
    assert trips, "no maker fill in 120 s"
    assert trips[0].status == "hedged" and trips[0].attempts == 2
    assert {t.status for t in trips} == {"hedged"}
    assert abs(_signed_base(store, "va") + _signed_base(store, "vb")) <= Decimal("0.001")
    assert store.open_orders() == []
    assert bot.runtime.orders.counters.rejected >= 1


def test_taker_that_keeps_rejecting_escalates_pauses_and_never_writes_the_size_off(tmp_path):
    config = _config(tmp_path, hedge_max_attempts=3)
    bot, open_left = _run(config, tmp_path, duration_s=120, reject_ioc=float("inf"))
    store = Store(config.bot.database_url, config.bot.instance_id)
    trips = XvenueLedger(store).round_trips("x")
    # still owed: every maker fill's obligation open, retried on (attempts counted past the 3)
    assert trips and {t.status for t in trips} == {"pending"} and trips[0].attempts > 3
    assert len(store.fills("va")) == len({t.maker_trade_id for t in trips})
    hedges = ObligationStore(store, "x").hedges()
    assert len(hedges) == trips[0].attempts and all(h.outcome == "known" for h in hedges)
    assert all(h.filled_lots == 0 and "refuses (injected)" in (h.error or "") for h in hedges)
    # the limit widens by the step per retry, up to the bound
    spread = [abs(h.limit_ticks - hedges[0].limit_ticks) for h in hedges[:3]]
    assert spread[0] == 0 < spread[1] < spread[2]
    alerts = [json.loads(a.detail) for a in store.events("alert")]
    assert [a["reason"] for a in alerts] == ["xemm_hedge_escalated"]
    assert Decimal(alerts[0]["unhedged_base"]) == _signed_base(store, "va") != 0
    assert alerts[0]["attempts"] == 3 and alerts[0]["age_s"] >= 0
    xemm = bot.active_strategies[0]
    maker = next(iter(xemm.makers.values()))
    assert maker.paused
    assert xemm.paused_markets() == {"va:BTC/USDT": {"unhedged_base": str(_signed_base(store, "va"))}}
    assert store.fills("vb") == []
    assert open_left == []
    shown = format_status(collect_status(store)).splitlines()
    i = shown.index("open XEMM hedge obligations (maker fills not hedged yet):")
    assert len(shown[i + 1 :]) == len(trips) and shown[i + 1].startswith("  x va:BTC/USDT ")


@pytest.mark.parametrize("key", ["maker_markets", "taker_market"])
def test_config_names_the_bad_market(tmp_path, key):
    data = small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite")
    data["strategies"]["x"] = {
        "kind": "xemm",
        "maker_markets": ["va:BTC/USDT"],
        "taker_market": "vb:BTC/USDT",
    }
    data["strategies"]["x"][key] = ["zz:BTC/USDT"] if key == "maker_markets" else "zz:BTC/USDT"
    data["strategies"]["mm"]["markets"].remove("va:BTC/USDT")
    with pytest.raises(ValueError, match="'zz:BTC/USDT' is not in"):
        validate_config(data)


def test_config_refuses_a_maker_market_quoted_by_another_strategy(tmp_path):
    data = small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite")
    x = {"kind": "xemm", "maker_markets": ["va:BTC/USDT"], "taker_market": "vb:BTC/USDT"}
    data["strategies"]["x"] = x
    with pytest.raises(ValueError, match="already quoted by mm"):
        validate_config(data)
