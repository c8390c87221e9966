"""Hot reload on the simulated clock: good changes apply while running, bad ones are refused."""

import asyncio
import copy
import logging

import tomli_w

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.app.reload import plan_reload
from bot.core.clock import run_simulated
from bot.core.domain import Side
from tests.kit import small_config_dict
from tests.ops.kit import mock_venues, run_with_script, store_path

BTC, ETH = "va:BTC/USDT", "va:ETH/USDT"


def base_data(tmp_path):
    data = small_config_dict(store_path(tmp_path), venues=("va",))
    data["bot"]["config_poll_interval_s"] = 2
    data["markets"] = [m for m in data["markets"] if m["symbol"] == "BTC/USDT"]  # ETH comes later
    data["strategies"]["mm"]["markets"] = [BTC]
    return data


def live_by_market(bot):
    out = {}
    for o in bot.runtime.orders.live.values():
        out.setdefault(f"{o.request.venue}:{o.request.symbol}", []).append(o)
    return out


def distance_bps(bot, order):
    slot = bot.runtime.engine.state.slot(order.request.venue, order.request.symbol)
    mid = bot.runtime.engine.state.mid_price[slot]
    price = order.request.price_ticks * bot.runtime.engine.state.tick_size[slot]
    return (mid - price) / mid * 1e4 if order.request.side is Side.BUY else (price - mid) / mid * 1e4


def test_reload_applies_good_changes_and_rejects_bad_ones_while_running(tmp_path, caplog):
    path = tmp_path / "bot.toml"
    data = base_data(tmp_path)
    path.write_text(tomli_w.dumps(data))
    config = validate_config(data)

    def write(d):
        path.write_text(tomli_w.dumps(d))

    async def script(bot):
        seen = {}
        await asyncio.sleep(20)
        seen["before"] = sorted(live_by_market(bot))
        seen["near"] = max(distance_bps(bot, o) for o in bot.runtime.orders.live.values())

        wide = copy.deepcopy(data)  # add ETH, widen to 30 bps, change a risk limit
        wide["markets"].append(
            {"venue": "va", "symbol": "ETH/USDT", "order_size": "0.1", "max_position": "2"}
        )
        wide["strategies"]["mm"].update(markets=[BTC, ETH], half_spread_bps=30)
        wide["risk"]["max_open_orders"] = 30
        write(wide)
        await asyncio.sleep(10)
        seen["wide_markets"] = sorted(live_by_market(bot))
        seen["wide_min_bps"] = min(distance_bps(bot, o) for o in bot.runtime.orders.live.values())
        seen["limits"] = bot.runtime.orders.limits.max_open_orders

        narrow = copy.deepcopy(wide)  # drop ETH again
        narrow["strategies"]["mm"]["markets"] = [BTC]
        narrow["markets"] = narrow["markets"][:1]
        write(narrow)
        await asyncio.sleep(10)
        seen["narrow_markets"] = sorted(live_by_market(bot))
        venue_open = await bot.venues["va"].fetch_open_orders("ETH/USDT")
        seen["eth_on_venue"] = [u for u in venue_open if u.client_order_id.startswith("t1")]

        bad = copy.deepcopy(narrow)
        bad["strategies"]["mm"]["half_spread_bps"] = -1
        write(bad)
        await asyncio.sleep(5)
        seen["after_bad"] = bot.config.strategies["mm"].half_spread_bps

        venue_change = copy.deepcopy(narrow)
        venue_change["venues"]["va"]["seed"] = 99
        venue_change["strategies"]["mm"]["half_spread_bps"] = 40
        write(venue_change)
        await asyncio.sleep(5)
        seen["after_venue_change"] = (
            bot.config.strategies["mm"].half_spread_bps,
            bot.config.venues["va"].seed,
        )
        return seen

    async def main():
        venues = mock_venues(config)
        bot = Bot(config, tmp_path, venues=venues, config_path=path)
        out = await run_with_script(bot, 60, script)
        for v in venues.values():
            await v.close()
        return bot, out

    with caplog.at_level(logging.INFO, logger="mmbot"):
        bot, seen = run_simulated(main)
    assert seen["before"] == [BTC] and seen["near"] < 15
    assert seen["wide_markets"] == [BTC, ETH]  # the added market is quoted
    assert seen["wide_min_bps"] > 25  # every live order follows the new 30 bps spread
    assert seen["limits"] == 30
    assert seen["narrow_markets"] == [BTC] and seen["eth_on_venue"] == []  # removed market cancelled
    assert seen["after_bad"] == 30  # the running config stayed
    rejected = [r.getMessage() for r in caplog.records if "reload rejected" in r.getMessage()]
    assert len(rejected) == 1 and "strategies.mm.half_spread_bps" in rejected[0]
    assert seen["after_venue_change"] == (40, 3)  # strategy applied, venue kept until a restart
    assert any("[venues] changed" in r.getMessage() and "restart" in r.getMessage() for r in caplog.records)
    kinds = [e.kind for e in bot.store.events() if e.kind.startswith("reload")]
    assert kinds == ["reload", "reload", "reload_rejected", "reload"]


def test_plan_reload_refuses_markets_on_venues_that_are_not_running(tmp_path):
    running = validate_config(base_data(tmp_path))
    data = small_config_dict(store_path(tmp_path), venues=("va", "vb"))
    new = validate_config(data)
    try:
        plan_reload(running, new)
    except ValueError as exc:
        assert "markets[2].venue: venue 'vb' is not running" in str(exc)
    else:
        raise AssertionError("a market on a new venue was accepted")
    plan = plan_reload(running, validate_config(base_data(tmp_path)))
    assert plan.applied == () and plan.restart_needed == ()
