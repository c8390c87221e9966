"""A stored LP position the bot cannot adopt at start is not silent (#21 item 6): the whole bot on
anvil, its uniswap_v3 venue behind a JSON-RPC proxy that answers HTTP 500 to every positions()
read. /health answers 503 "degraded" naming the pool and the position, /metrics exports it, the
operator's webhook gets the alert; the pool is left unmanaged (an untracked position may be live)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hexbytes import HexBytes
from web3 import Web3

from amm.chain.artifacts import load_abi
from amm.chain.local_chain import UniswapDeployment
from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.kernel.lp_store import LpPositionRow, LpStore
from tests.chain.conftest import LP_ACCOUNT
from tests.chain.test_chain_faults import RpcProxy
from tests.chain.test_lp_manager_on_chain import bot_config, wait_for
from tests.ops.test_failing_strategy import WebhookReceiver
from tests.ops.test_ops_server import samples

pytestmark = pytest.mark.chain
TOKEN_ID = 7


class PositionsDown(RpcProxy):
    """Answers HTTP 500 to every eth_call of the position manager's positions()."""

    def __init__(self, upstream: str, selector: str) -> None:
        super().__init__(upstream)
        self.selector = selector

    async def _handle(self, request: web.Request) -> web.Response:
        message = json.loads(await request.read())
        if message["method"] == "eth_call" and message["params"][0].get("data", "").startswith(self.selector):
            return web.Response(status=500, text="upstream error")
        return await super()._handle(request)


async def test_an_unadoptable_position_makes_health_degraded_and_is_exported_and_notified(
    tmp_path: Any, uniswap: UniswapDeployment, rpc: Web3, monkeypatch: Any, chain_snapshot: None
) -> None:
    npm = rpc.eth.contract(address=uniswap.position_manager, abi=load_abi("NonfungiblePositionManager"))  # type: ignore[call-overload]
    proxy = PositionsDown(uniswap.rpc_url, HexBytes(npm.encode_abi("positions", args=[1])).to_0x_hex()[:10])
    hook = WebhookReceiver()
    await proxy.start()
    await hook.start()
    monkeypatch.setenv("MMBOT_LP_KEY", uniswap.accounts[LP_ACCOUNT].private_key)
    monkeypatch.setenv("MMBOT_NOTIFY_WEBHOOK_URL", hook.url)
    data = bot_config(tmp_path, uniswap)
    data["venues"]["uni"]["rpc_url"] = proxy.url
    data["venues"]["va"]["markets"][0]["volatility_annual"] = 0.5  # a live book: healthy but for the LP
    data["bot"]["ops"] = {"port": 0, "token_env": None, "stale_book_s": 30}
    data["bot"]["notify"] = {"fills_summary_interval_s": 0}
    bot = Bot(validate_config(data), tmp_path)
    LpStore(bot.store).open_position(
        LpPositionRow(strategy="lp", pool="uni", token_id=TOKEN_ID, tick_lower=-200820, tick_upper=-199800,
                      liquidity="1000", amount0_in="1", amount1_in="1", value_in_token1=1.0, opened_ns=1)
    )  # fmt: skip
    stop = asyncio.Event()
    running = asyncio.create_task(bot.run(stop=stop))
    health: dict[str, Any] = {}
    try:
        await wait_for(lambda: bot.ops_server is not None and bool(bot.ops_server.port), "the ops server")
        assert bot.ops_server is not None
        base = f"http://127.0.0.1:{bot.ops_server.port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                async with http.get(f"{base}/health") as r:
                    status, health = r.status, await r.json()
                if health["status"] == "degraded":
                    break
                await asyncio.sleep(0.05)
            async with http.get(f"{base}/metrics") as r:
                metrics = samples(await r.text())
        await wait_for(lambda: bool(hook.bodies), "the webhook")
    finally:
        stop.set()
        await running
        await hook.stop()
        await proxy.stop()

    assert status == 503 and health["status"] == "degraded", health["reasons"]
    (part,) = health["degraded"]["lp"]
    assert part.startswith(f"pool uni: position #{TOKEN_ID} cannot be adopted (ClientResponseError")
    assert part.endswith("; pool not managed") and f"strategy lp degraded: {part}" in health["reasons"]
    labels = (("pool", "uni"), ("position", str(TOKEN_ID)), ("strategy", "lp"))
    assert metrics[("mmbot_lp_unadoptable_position", labels)] == 1.0
    (alert,) = [b for b in hook.bodies if f"position #{TOKEN_ID} cannot be adopted" in json.dumps(b)]
    assert "ALERT lp: uni:" in json.dumps(alert)
    (row,) = LpStore(bot.store).positions("lp")
    assert row.closed_ns is None  # kept open: nothing is known of it yet
    assert [a.action for a in LpStore(bot.store).actions("lp")] == ["adopt_failed"]  # no round ran
