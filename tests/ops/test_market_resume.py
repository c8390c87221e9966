"""An operator resumes an XEMM maker market paused by a failed hedge, through POST /resume."""

import asyncio
import json
from decimal import Decimal

import aiohttp

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from bot.kernel.store import Store
from bot.ops.server import OpsServer
from connectors.mock.venue import MockVenue
from strategies.xvenue.store import XvenueLedger
from tests.ops.kit import our_open_orders, run_with_script
from tests.xvenue.test_amm_arbitrage import BotWithPool
from tests.xvenue.test_amm_arbitrage import _config as arb_config
from tests.xvenue.test_arb_unwind import front_run_pool
from tests.xvenue.test_xemm import FlakyTakerVenue, _config

TOKEN = "ops-resume-token-77a1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def until(predicate, step_s=1.0, limit_s=600.0):
    for _ in range(int(limit_s / step_s)):
        if predicate():
            return
        await asyncio.sleep(step_s)
    raise AssertionError("condition never met")


def test_post_resume_resumes_a_paused_xemm_market(tmp_path, monkeypatch):
    monkeypatch.setenv("MMBOT_TEST_OPS_TOKEN", TOKEN)
    data = _config(tmp_path, hedge_max_attempts=2).model_dump(mode="json")
    data["bot"]["ops"] = {"port": 0, "token_env": "MMBOT_TEST_OPS_TOKEN"}
    config = validate_config(data)

    async def script(bot):
        xemm = bot.active_strategies[0]
        await until(lambda: xemm.paused_markets())  # the taker refuses every hedge
        await asyncio.sleep(2)
        maker = next(iter(xemm.makers.values()))
        out = {"unhedged": maker.unhedged_base, "open_while_paused": await our_open_orders(bot)}
        # simulated runs start no ops endpoint: the test serves one
        server = OpsServer(bot.runtime, bot, bot.metrics, config.bot.ops)
        base = f"http://127.0.0.1:{await server.start()}"
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/status") as r:
                    out["status_before"] = (await r.json())["paused_markets"]
                answers = []
                for query, headers in (
                    ("market=va:BTC/USDT", {}),
                    ("market=va:ETH/USDT", AUTH),
                    ("market=vb:BTC/USDT", AUTH),
                    ("market=va:BTC/USDT", AUTH),
                ):
                    async with http.post(f"{base}/resume?{query}", headers=headers) as r:
                        answers.append((r.status, await r.json()))
                        if r.status == 401:
                            out["paused_after_401"] = bool(xemm.paused_markets())
                out["answers"] = answers
                async with http.get(f"{base}/status") as r:
                    out["status_after"] = (await r.json())["paused_markets"]
                placed = bot.runtime.orders.counters.placed
                await asyncio.sleep(0.5)
                out["open_after_resume"] = await our_open_orders(bot)
                out["placed_after_resume"] = bot.runtime.orders.counters.placed - placed
                # the taker still refuses: the next maker fill pauses it again; a plain /resume
                # then resumes it together with the (unpaused) bot
                await until(lambda: xemm.paused_markets())
                async with http.post(f"{base}/resume", headers=AUTH) as r:
                    out["plain"] = await r.json()
                out["paused_at_end"] = xemm.paused_markets()
        finally:
            await server.stop()
        return out

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venues = {
            "va": MockVenue("va", config.venues["va"], clock),
            "vb": FlakyTakerVenue("vb", config.venues["vb"], clock),
        }
        venues["vb"].reject_ioc = float("inf")
        bot = Bot(config, tmp_path, venues=venues)
        stop = asyncio.Event()

        async def script_then_stop(bot):
            try:
                return await script(bot)
            finally:
                stop.set()

        out = await run_with_script(bot, 1500, script_then_stop, stop=stop)
        for v in venues.values():
            await v.close()
        return out

    out = run_simulated(main)
    unhedged = str(out["unhedged"])
    assert out["unhedged"] != 0 and out["open_while_paused"] == 0
    assert out["status_before"] == [{"strategy": "x", "market": "va:BTC/USDT", "unhedged_base": unhedged}]
    assert out["paused_after_401"] is True
    assert out["answers"] == [
        (401, {"error": "unauthorized"}),
        (404, {"error": "market: 'va:ETH/USDT' is not a market of this bot"}),
        (409, {"error": "market: vb:BTC/USDT is not paused by a strategy"}),
        (200, {"resumed": True, "markets": ["va:BTC/USDT"]}),
    ]
    assert out["status_after"] == []
    assert out["open_after_resume"] > 0 and out["placed_after_resume"] > 0  # it quotes again
    assert out["plain"] == {"resumed": True, "markets": ["va:BTC/USDT"]}
    assert out["paused_at_end"] == {}
    store = Store(config.bot.database_url, config.bot.instance_id)
    resumes = [json.loads(e.detail) for e in store.events("market_resume")]
    assert len(resumes) == 2
    assert resumes[0] == {"strategy": "x", "market": "va:BTC/USDT", "unhedged_base": unhedged}


def test_post_resume_resumes_a_market_the_arbitrage_paused(tmp_path, monkeypatch):
    monkeypatch.setenv("MMBOT_TEST_OPS_TOKEN", TOKEN)
    data = arb_config(tmp_path).model_dump(mode="json")
    data["bot"]["ops"] = {"port": 0, "token_env": "MMBOT_TEST_OPS_TOKEN"}
    config = validate_config(data)
    # the CEX refuses the leg, and the buy-back swap is front-run 4% past its slippage limit
    pool = front_run_pool(3030.0, {1: (False, 30_000 * 10**6)})

    async def script(bot):
        arb = bot.active_strategies[0]
        await until(lambda: arb.paused_markets(), step_s=0.5, limit_s=60)
        out = {}
        server = OpsServer(bot.runtime, bot, bot.metrics, config.bot.ops)
        base = f"http://127.0.0.1:{await server.start()}"
        ledger = XvenueLedger(bot.store)
        try:
            async with aiohttp.ClientSession() as http:
                await asyncio.sleep(5)  # paused: no new trade however wide the gap
                out["trades_while_paused"] = len(ledger.arb_trades())
                async with http.get(f"{base}/status") as r:
                    out["status_before"] = (await r.json())["paused_markets"]
                bot.venues["va"].reject_ioc = 0  # the operator dealt with the CEX side
                async with http.post(f"{base}/resume?market=va:ETH/USDT", headers=AUTH) as r:
                    out["answer"] = (r.status, await r.json())
                async with http.get(f"{base}/status") as r:
                    out["status_after"] = (await r.json())["paused_markets"]
                await until(lambda: len(ledger.arb_trades()) > 1, step_s=0.5, limit_s=30)
                out["statuses"] = [t.status for t in ledger.arb_trades()]
        finally:
            await server.stop()
        return out

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venue = FlakyTakerVenue("va", config.venues["va"], clock)
        venue.reject_ioc = float("inf")
        bot = BotWithPool(config, tmp_path, venues={"va": venue})
        bot.pool = pool
        stop = asyncio.Event()

        async def script_then_stop(bot):
            try:
                return await script(bot)
            finally:
                stop.set()

        out = await run_with_script(bot, 300, script_then_stop, stop=stop)
        await venue.close()
        return out

    out = run_simulated(main)
    assert out["trades_while_paused"] == 1
    (paused,) = out["status_before"]
    size = paused["unhedged_base"]
    assert size.startswith("-") and Decimal(size) < 0
    assert paused == {
        "strategy": "arb",
        "market": "va:ETH/USDT",
        "unhedged_base": size,
        "pool": "uni",
        "reason": f"could not unwind {size} ETH",
    }
    assert out["answer"] == (200, {"resumed": True, "markets": ["va:ETH/USDT"]})
    assert out["status_after"] == []
    assert out["statuses"][:2] == ["unhedged", "done"]  # it trades again once resumed
    store = Store(config.bot.database_url, config.bot.instance_id)
    (resume,) = [json.loads(e.detail) for e in store.events("market_resume")]
    assert resume == paused
