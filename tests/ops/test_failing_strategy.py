"""A strategy that keeps failing is given up, not left silently unmanaged: /health 503, a webhook.

Before: "strategy arb failed; its markets are no longer managed" was logged once, /health stayed
200, nobody was notified. The arbitrage strategy here trades against a simulated pool whose state
read is broken (as a chain RPC answering garbage would be): every round raises.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from amm.sim.pool import SimulatedPool
from bot.app.active_runner import STRATEGY_RESTARTS
from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.supervision import TaskState
from tests.ops.kit import store_path


class WebhookReceiver:
    """A local webhook endpoint on 127.0.0.1 that keeps every JSON body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        self.url = ""

    async def _hook(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        return web.Response(text="ok")

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hook"

    async def stop(self) -> None:
        await self._runner.cleanup()


def arb_config(tmp_path) -> dict[str, Any]:
    return {
        "bot": {
            "instance_id": "t1",
            "database_url": store_path(tmp_path),
            "clock": "wall",
            "ops": {"port": 0, "token_env": None},
            "notify": {"fills_summary_interval_s": 0},
        },
        "venues": {
            "va": {
                "kind": "mock",
                "seed": 5,
                "initial_balances": {"USDT": "50000", "ETH": "10"},
                "markets": [
                    {"symbol": "ETH/USDT", "tick_size": "0.01", "lot_size": "0.01", "initial_price": "3000"}
                ],
            },
            "uni": {
                "kind": "sim_pool",
                "token0_symbol": "WETH",
                "token1_symbol": "USDT",
                "initial_price": 3000.0,
                "wallet_token0": 5.0,
                "wallet_token1": 15000.0,
                "fair_venue": "va",
                "fair_symbol": "ETH/USDT",
            },
        },
        "markets": [{"venue": "va", "symbol": "ETH/USDT", "order_size": "0.1", "max_position": "5"}],
        "strategies": {
            "arb": {"kind": "amm_arbitrage", "pool": "uni", "cex_market": "va:ETH/USDT", "max_trade_base": 1},
            "mm": {"kind": "fixed_spread", "markets": ["va:ETH/USDT"], "half_spread_bps": 5},
        },
    }


async def test_a_strategy_that_keeps_failing_is_given_up_health_fails_and_the_operator_is_told(
    tmp_path, monkeypatch: pytest.MonkeyPatch
):
    async def broken_state(self: SimulatedPool) -> Any:
        raise RuntimeError("pool state unreadable: slot0 returned 0x")

    monkeypatch.setattr(SimulatedPool, "read_state", broken_state)
    hook = WebhookReceiver()
    await hook.start()
    monkeypatch.setenv("MMBOT_NOTIFY_WEBHOOK_URL", hook.url)
    bot = Bot(validate_config(arb_config(tmp_path)), tmp_path)
    stop = asyncio.Event()
    run = asyncio.create_task(bot.run(stop=stop))
    try:
        async with aiohttp.ClientSession() as http:
            while bot.ops_server is None or not bot.ops_server.port:
                await asyncio.sleep(0.05)
            base = f"http://127.0.0.1:{bot.ops_server.port}"
            started = time.monotonic()
            while not any(b["kind"] == "strategy_failed" for b in hook.bodies):
                assert time.monotonic() - started < 30, hook.bodies
                await asyncio.sleep(0.1)
            async with http.get(f"{base}/health") as r:
                status, health = r.status, await r.json()
            arb = bot.active.get("arb")
            assert arb is not None
            listening = arb.on_event in bot.runtime.engine.listeners
            task = bot.supervisor.status("strategy:arb")
            await asyncio.sleep(1.0)
            live_quotes = len(bot.runtime.orders.live)
    finally:
        stop.set()
        await asyncio.wait_for(run, 30)
        await hook.stop()

    assert status == 503
    reason = (
        "task strategy:arb failed: 3 deaths in a row: RuntimeError: pool state unreadable: slot0 returned 0x"
    )
    assert reason in health["reasons"], health
    assert (
        task is not None
        and task.state is TaskState.FAILED
        and task.restarts == STRATEGY_RESTARTS.give_up_after - 1
    )
    assert not listening  # given up: it sees no more events
    assert live_quotes > 0  # the rest of the bot (the fixed-spread quotes) keeps quoting
    kinds = [b["kind"] for b in hook.bodies]
    assert kinds.count("task_died") == 1 and kinds.count("strategy_failed") == 1, kinds
    failed = next(b for b in hook.bodies if b["kind"] == "strategy_failed")
    assert failed["detail"]["task"] == "strategy:arb" and "pool state unreadable" in failed["text"]
    events = [e for e in bot.store.events() if e.kind == "strategy_failed"]
    assert len(events) == 1
