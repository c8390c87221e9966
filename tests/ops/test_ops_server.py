"""The ops endpoint of a bot running on the wall clock (paper mode), on a free port of 127.0.0.1."""

import asyncio

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.events import VenueStatus
from tests.kit import small_config_dict
from tests.ops.kit import our_open_orders, store_path

TOKEN = "ops-test-token-5f1c9a"


def wall_config(tmp_path, token_env="MMBOT_TEST_OPS_TOKEN"):
    data = small_config_dict(store_path(tmp_path), venues=("va",))
    data["bot"]["clock"] = "wall"
    data["bot"]["ops"] = {"port": 0, "token_env": token_env, "stale_book_s": 5}
    return validate_config(data)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def started(bot: Bot) -> str:
    for _ in range(500):
        if bot.ops_server is not None and bot.ops_server.port:
            return f"http://127.0.0.1:{bot.ops_server.port}"
        await asyncio.sleep(0.01)
    raise AssertionError("ops server never started")


async def test_health_metrics_status_and_token_protected_control(tmp_path, monkeypatch):
    monkeypatch.setenv("MMBOT_TEST_OPS_TOKEN", TOKEN)
    bot = Bot(wall_config(tmp_path), tmp_path)
    stop = asyncio.Event()
    run = asyncio.create_task(bot.run(stop=stop))
    try:
        base = await started(bot)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # healthy once the first books arrived
                async with http.get(f"{base}/health") as r:
                    if r.status == 200:
                        health = await r.json()
                        break
                await asyncio.sleep(0.05)
            assert health["venues"]["va"]["connected"] is True
            assert set(health["venues"]["va"]["book_age_s"]) == {"BTC/USDT", "ETH/USDT"}

            async with http.get(f"{base}/metrics") as r:
                assert r.headers["Content-Type"].startswith("text/plain")
                first = samples(await r.text())
            await asyncio.sleep(1.5)
            async with http.get(f"{base}/metrics") as r:
                second = samples(await r.text())
            for name in ("mmbot_events_total", "mmbot_orders_placed_total"):
                assert second[(name, ())] > first[(name, ())] > 0, name
            latency = ("mmbot_venue_request_seconds_count", (("op", "place"), ("venue", "va")))
            assert second[latency] > first[latency] > 0
            e2o = ("mmbot_event_to_order_seconds_count", (("market", "va:BTC/USDT"),))
            assert second[e2o] > 0
            for key in ("va:BTC/USDT", "va:ETH/USDT"):
                assert ("mmbot_inventory_base", (("market", key),)) in second
                assert ("mmbot_mid_price", (("market", key),)) in second
                # the quote model's live inputs (bot.ops.metrics.QuoteDiagnostics)
                for name in ("toxicity_bid_bps", "toxicity_ask_bps", "flow_imbalance", "markout_ask_10s_bps"):
                    assert (f"mmbot_quote_{name}", (("market", key),)) in second, name
            assert second[("mmbot_paused", ())] == 0

            async with http.get(f"{base}/status") as r:
                status = await r.json()
            assert status["instance_id"] == "t1" and status["pause"]["paused"] is False
            assert status["counters"]["placed"] > 0

            async with http.post(f"{base}/pause") as r:
                assert r.status == 401
            async with http.post(f"{base}/pause", headers={"Authorization": "Bearer wrong"}) as r:
                assert r.status == 401
            assert bot.runtime.engine.paused is False
            async with http.post(f"{base}/pause?reason=maintenance", headers=auth) as r:
                assert r.status == 200
            await asyncio.sleep(0.3)
            assert bot.runtime.engine.paused and await our_open_orders(bot) == 0
            async with http.get(f"{base}/status") as r:
                assert (await r.json())["pause"]["by"] == "operator"
            async with http.get(f"{base}/metrics") as r:
                assert samples(await r.text())[("mmbot_paused", ())] == 1
            async with http.post(f"{base}/resume", headers=auth) as r:
                assert (await r.json()) == {"resumed": True, "markets": []}
            await asyncio.sleep(0.5)
            assert not bot.runtime.engine.paused and await our_open_orders(bot) > 0
            async with http.post(f"{base}/cancel-all", headers=auth) as r:
                assert r.status == 200 and "open_orders_left" in await r.json()

            bot.runtime.engine.on_event(VenueStatus("va", False, "socket closed", bot.runtime.clock.now_ns()))
            async with http.get(f"{base}/health") as r:
                assert r.status == 503
                assert (await r.json())["venues"]["va"]["connected"] is False
    finally:
        stop.set()
        await run
    assert bot.ops_server is not None and bot.ops_server._runner is None  # stopped with the bot
    kinds = [e.kind for e in bot.store.events()]
    assert "pause" in kinds and "resume" in kinds


async def test_control_is_refused_when_the_token_variable_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("MMBOT_UNSET_TOKEN", raising=False)
    bot = Bot(wall_config(tmp_path, token_env="MMBOT_UNSET_TOKEN"), tmp_path)
    stop = asyncio.Event()
    run = asyncio.create_task(bot.run(stop=stop))
    try:
        base = await started(bot)
        async with aiohttp.ClientSession() as http:
            for path in ("/pause", "/resume", "/cancel-all"):
                async with http.post(base + path, headers={"Authorization": "Bearer "}) as r:
                    assert r.status == 401, path
        assert bot.runtime.engine.paused is False
    finally:
        stop.set()
        await run
