"""The ops endpoint (aiohttp): /health (bot.ops.health), /metrics, /status, and token-protected
control actions.

Binds 127.0.0.1 by default. Control actions (POST /pause, /resume[?market=venue:symbol],
/cancel-all) need `Authorization: Bearer <token>` where the token is the value of the environment
variable named by [bot.ops] token_env; without that variable set, control is disabled. The token
is never logged.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from bot.core.supervision import Supervisor
from bot.kernel.runtime import Runtime
from bot.ops.health import health_report
from bot.ops.metrics import BotMetrics
from bot.ops.operator import Operator
from bot.ops.settings import OpsConfig
from bot.reports.status import collect_status

log = logging.getLogger("mmbot.ops")


def live_status(rt: Runtime, operator: Operator) -> dict[str, Any]:
    """`mmbot status` from the store plus what only the running bot knows."""
    out = collect_status(rt.store)
    guard, orders = rt.risk_guard, rt.orders
    out["counters"] = {k: getattr(orders.counters, k) for k in orders.counters.__slots__}
    out["live_orders"] = len(orders.live)
    tripped = guard.kill_switch.tripped
    out["pause"] = {
        "paused": guard.paused_by is not None,
        "by": guard.paused_by,
        "reason": guard.pause_reason,
        "kill_switch": None if tripped is None else {"rule": tripped.rule, "message": tripped.message},
    }
    out["pnl_total_quote"] = str(guard.pnl_total())
    out["paused_markets"] = operator.paused_markets()
    out["instance_id"] = rt.instance_id
    return out


class OpsServer:
    """Serves one started bot: reads its `Runtime`, sends control actions to its `Operator`."""

    def __init__(
        self,
        rt: Runtime,
        operator: Operator,
        metrics: BotMetrics,
        config: OpsConfig,
        supervisor: Supervisor | None = None,
        strategies: Callable[[], Sequence[object]] = tuple,
    ) -> None:
        """`supervisor`: the bot's, whose restarting or failed tasks make /health fail;
        `strategies()`: the active ones, whose degradations (`health.Degradations`) it reports."""
        self.rt = rt
        self.supervisor = supervisor
        self.strategies = strategies
        self.operator = operator
        self.metrics = metrics
        self.config = config
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/status", self._status)
        app.router.add_post("/pause", self._pause)
        app.router.add_post("/resume", self._resume)
        app.router.add_post("/cancel-all", self._cancel_all)
        self.app = app

    async def start(self) -> int:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        addresses = self._runner.addresses  # (host, port, ...) of each bound socket: port 0 resolved
        self.port = int(addresses[0][1]) if addresses else self.config.port
        log.info("ops endpoint on http://%s:%d", self.config.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- read-only -------------------------------------------------------------------------

    async def _health(self, _request: web.Request) -> web.Response:
        ok, report = health_report(
            self.rt, self.config.stale_book_s, self.supervisor, self.operator, self.strategies()
        )
        return web.json_response(report, status=200 if ok else 503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = self.metrics.render()
        return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    async def _status(self, _request: web.Request) -> web.Response:
        return web.json_response(live_status(self.rt, self.operator))

    # ---- control ---------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        token = os.environ.get(self.config.token_env) if self.config.token_env else None
        if not token:
            return False
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())

    def _deny(self, request: web.Request) -> web.Response:
        log.warning(
            "refused %s %s from %s: bad or missing token", request.method, request.path, request.remote
        )
        return web.json_response({"error": "unauthorized"}, status=401)

    async def _pause(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._deny(request)
        reason = request.query.get("reason", "operator request")[:200]
        await self.operator.pause(f"ops endpoint: {reason}")
        return web.json_response({"paused": True})

    async def _resume(self, request: web.Request) -> web.Response:
        """Without `market`: the bot-wide pause and every market a strategy paused; with it: that one."""
        if not self._authorized(request):
            return self._deny(request)
        market = request.query.get("market")
        if market is None:
            quoting = await self.operator.resume()
            markets = self.operator.resume_markets()
            return web.json_response({"resumed": quoting or bool(markets), "markets": markets})
        if market not in {m.key for m in self.rt.markets}:
            return web.json_response(
                {"error": f"market: {market[:100]!r} is not a market of this bot"}, status=404
            )
        markets = self.operator.resume_markets(market)
        if not markets:
            return web.json_response({"error": f"market: {market} is not paused by a strategy"}, status=409)
        return web.json_response({"resumed": True, "markets": markets})

    async def _cancel_all(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._deny(request)
        left = await self.operator.cancel_all()
        return web.json_response({"open_orders_left": left})
