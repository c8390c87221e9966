"""A 40 s outage between the bot and the exchange: everything comes back by itself, nothing is lost.

The whole bot (wall clock, real ccxt, its ops endpoint) trades through a TCP proxy in front of the
facade; the proxy cuts every connection and refuses new ones for 40 s (as when the exchange is
down), while the facade keeps matching: the orders we left resting fill during the cut. Before
the supervisor, the private streams died of ccxt's InvalidNonce then KeyError 'spot' and were never
restarted, /health said 200 again while fills were first stored at shutdown, and asyncio logged
"Future exception was never retrieved" eight times.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.supervision import TaskState
from bot.kernel.store import Store
from connectors.mock.venue import DEFAULT_ACCOUNT
from tests.reliability.faultkit import assert_nothing_lost, errors_logged, start_facade
from tests.reliability.procs import bot_config
from tests.reliability.tcp_proxy import TcpProxy

CUT_S = 40.0
RECOVERY_BOUND_S = 30.0  # the bound for /health 200 and orders again after the cut


def outage_bot(proxy_url: str, workdir) -> Bot:
    # the venue's default reconnect pacing and reconciliation period, not the fast test ones
    data = bot_config(proxy_url, backoff_base_s=0.25, backoff_max_s=10.0, reconcile_interval_s=30.0)
    data["bot"]["database_url"] = f"sqlite:///{workdir}/bot.sqlite"
    data["bot"]["log_format"] = "text"
    data["bot"]["ops"] = {"port": 0, "token_env": None}
    return Bot(validate_config(data), workdir)


async def health(http: aiohttp.ClientSession, base: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{base}/health") as r:
        return r.status, await r.json()


async def until(cond, timeout_s: float, step_s: float = 0.1) -> float:
    """Seconds until `cond()` (awaited if async) is true; AssertionError after `timeout_s`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        value = cond()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return time.monotonic() - start
        await asyncio.sleep(step_s)
    raise AssertionError(f"not within {timeout_s}s")


def stored_trade_ids(workdir) -> set[tuple[str, str]]:
    store = Store(f"sqlite:///{workdir}/bot.sqlite")
    try:
        return {(f.symbol, f.venue_trade_id) for f in store.fills("fx")}
    finally:
        store.close()


async def test_a_40s_cut_is_survived_health_is_truthful_and_every_fill_is_stored_while_running(
    tmp_path, caplog, credentials
):
    caplog.set_level(logging.INFO)
    facade = await start_facade()
    proxy = TcpProxy(facade.url)
    await proxy.start()
    bot = outage_bot(proxy.url, tmp_path)
    stop = asyncio.Event()
    run = asyncio.create_task(bot.run(stop=stop))
    try:
        async with aiohttp.ClientSession() as http:
            await until(lambda: bot.ops_server is not None and bot.ops_server.port, 30)
            base = f"http://127.0.0.1:{bot.ops_server.port}"
            await until(lambda: bot.runtime.orders.counters.placed > 0, 30)
            await until(lambda: _healthy(http, base), 30)
            venue_fills_at_cut = len(facade.exchange.fills(DEFAULT_ACCOUNT))

            await proxy.cut()
            cut_at = time.monotonic()
            during: list[tuple[int, list[str]]] = []
            while time.monotonic() - cut_at < CUT_S:
                await asyncio.sleep(2.0)
                status, body = await health(http, base)
                during.append((status, body["reasons"]))
            fills_during_cut = len(facade.exchange.fills(DEFAULT_ACCOUNT)) - venue_fills_at_cut
            placed_at_restore = bot.runtime.orders.counters.placed
            await proxy.restore()

            restored_at = time.monotonic()
            health_back_s = orders_back_s = None
            while health_back_s is None or orders_back_s is None:
                since_s = time.monotonic() - restored_at
                assert since_s < 60, (health_back_s, orders_back_s)
                if orders_back_s is None and bot.runtime.orders.counters.placed > placed_at_restore:
                    orders_back_s = since_s
                if health_back_s is None and await _healthy(http, base):
                    health_back_s = since_s
                await asyncio.sleep(0.1)
            # every trade the venue made so far, the cut's included, is stored while the bot runs
            venue = {(f.symbol, f.venue_trade_id) for f in facade.exchange.fills(DEFAULT_ACCOUNT)}
            stored_after_s = await until(lambda: venue <= stored_trade_ids(tmp_path), 10)
            statuses = {s.name: s for s in bot.supervisor.statuses() if s.name.startswith("fx:")}
            async with http.get(f"{base}/metrics") as r:
                metrics = {
                    (s.name, s.labels.get("task")): s.value
                    for family in text_string_to_metric_families(await r.text())
                    for s in family.samples
                    if s.name.startswith("mmbot_task_")
                }
    finally:
        stop.set()
        await asyncio.wait_for(run, 60)
        await proxy.stop()
        await facade.stop()

    print(
        f"outage {CUT_S:.0f}s: /health 200 {health_back_s:.1f}s after, orders {orders_back_s:.1f}s after, "
        f"venue trades stored {stored_after_s:.1f}s after; {fills_during_cut} fills during the cut; "
        f"restarts { ({n: s.restarts for n, s in statuses.items()}) }"
    )
    assert len(during) >= 15 and all(status == 503 for status, _ in during), during
    assert all(any("task fx:fills restarting" in r for r in reasons) for _, reasons in during[1:])
    assert fills_during_cut > 0  # the cut mattered: resting orders filled while we could not see it
    assert health_back_s <= RECOVERY_BOUND_S and orders_back_s <= RECOVERY_BOUND_S
    assert all(s.state is TaskState.UP for s in statuses.values()), statuses
    for key in ("orders", "fills", "balance"):
        assert statuses[f"fx:{key}"].restarts >= 1
        assert metrics[("mmbot_task_up", f"fx:{key}")] == 1
        assert metrics[("mmbot_task_restarts_total", f"fx:{key}")] == statuses[f"fx:{key}"].restarts
    assert errors_logged(caplog) == []  # no stream death, no "Future exception was never retrieved"
    assert_nothing_lost(tmp_path, facade)


async def _healthy(http: aiohttp.ClientSession, base: str) -> bool:
    status, _ = await health(http, base)
    return status == 200
