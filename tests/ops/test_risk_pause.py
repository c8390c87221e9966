"""Kill switch on a running bot: a scripted crash trips it, quotes are pulled, it resumes; cancel-all."""

import asyncio
import json

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import run_simulated
from bot.core.domain import OrderRequest, Side
from bot.kernel.store import Store
from tests.kit import small_config_dict
from tests.ops.kit import crash_fair_price, mock_venues, our_open_orders, run_with_script, store_path


def crash_config(tmp_path):
    data = small_config_dict(store_path(tmp_path), venues=("va",))
    data["markets"][0]["target_base"] = "0.9"  # start 0.1 BTC long: a 30 % crash costs ~1800 USDT
    data["risk"].update(max_drawdown_quote="300", check_interval_s=1, pause_cooldown_s=120)
    return validate_config(data)


def test_drawdown_trip_pauses_cancels_everything_and_resumes_after_cooldown(tmp_path):
    config = crash_config(tmp_path)

    async def script(bot):
        await asyncio.sleep(10)
        before = await our_open_orders(bot)
        pnl_before = bot.runtime.risk_guard.pnl_total()
        crash_fair_price(bot.venues["va"], "BTC/USDT", 0.7)
        await asyncio.sleep(5)
        paused = (
            bot.runtime.engine.paused,
            bot.runtime.risk_guard.paused_by,
            await our_open_orders(bot),
            len(bot.runtime.orders.live),
        )
        pnl_after = bot.runtime.risk_guard.pnl_total()
        await asyncio.sleep(130)
        resumed = (bot.runtime.engine.paused, await our_open_orders(bot))
        return before, pnl_before, paused, pnl_after, resumed

    async def main():
        venues = mock_venues(config)
        bot = Bot(config, tmp_path, venues=venues)
        out = await run_with_script(bot, 200, script)
        for v in venues.values():
            await v.close()
        return out

    before, pnl_before, paused, pnl_after, resumed = run_simulated(main)
    assert before > 0
    assert pnl_before - pnl_after > 300  # the crash really cost more than the limit
    assert paused == (True, "kill_switch", 0, 0)  # quotes pulled on the venue and in the tracker
    assert resumed[0] is False and resumed[1] > 0  # quoting again after the 120 s cool-down
    store = Store(config.bot.database_url, config.bot.instance_id)
    kinds = [e.kind for e in store.events()]
    trip = json.loads(store.events("kill_switch")[0].detail)
    assert trip["rule"] == "drawdown" and trip["value"] > 300 and trip["limit"] == 300
    assert kinds.index("kill_switch") < kinds.index("pause") < kinds.index("resume")
    assert json.loads(store.events("resume")[0].detail)["source"] == "cool-down"


def test_cancel_all_command_cancels_ours_only_and_updates_the_store(tmp_path):
    config = validate_config(small_config_dict(store_path(tmp_path), venues=("va",)))

    async def main():
        venues = mock_venues(config)
        bot = Bot(config, tmp_path, venues=venues)

        async def crash_without_cleanup(bot):
            await asyncio.sleep(30)
            await bot.runtime.engine.stop()  # as if the process died: orders stay on the venue
            bot.runtime.orders.live.clear()
            bot.shutdown = _no_cleanup  # type: ignore[method-assign]
            return await our_open_orders(bot)

        async def _no_cleanup():
            bot.store.close()

        left_behind = await run_with_script(bot, 31, crash_without_cleanup)
        other = OrderRequest("someone-else-1", "va", "BTC/USDT", Side.BUY, 500_000, 1, True)
        await venues["va"].place_order(other)
        stored_open = len(Store(config.bot.database_url, config.bot.instance_id).open_orders())
        left = await Bot(config, tmp_path, venues=venues).cancel_all_offline()
        ours_after = await our_open_orders(bot)
        others = [u.client_order_id for u in await venues["va"].fetch_open_orders()]
        for v in venues.values():
            await v.close()
        return left_behind, stored_open, left, ours_after, others

    left_behind, stored_open, left, ours_after, others = run_simulated(main)
    assert left_behind > 0 and stored_open == left_behind
    assert (left, ours_after) == (0, 0)
    assert others == ["someone-else-1"]  # another bot's order on the account is never touched
    store = Store(config.bot.database_url, config.bot.instance_id)
    assert store.open_orders() == []
    assert store.events()[-1].kind == "cancel_all"
