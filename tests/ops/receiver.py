"""A local notification endpoint on 127.0.0.1 (free port): a webhook and a Telegram Bot API double."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web


class Receiver:
    """Records every webhook body and Telegram `sendMessage` call; `hang` makes it never answer."""

    def __init__(self, *, hang: bool = False, telegram_status: int = 200) -> None:
        self.webhook: list[dict[str, Any]] = []
        self.telegram: list[tuple[str, dict[str, Any]]] = []  # (token in the path, body)
        self.started = 0  # requests received, answered or not
        self.hang = hang
        self.telegram_status = telegram_status
        self.release = asyncio.Event()
        self.port = 0
        self._runner: web.AppRunner | None = None
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_post("/bot{token}/sendMessage", self._telegram)
        self.app = app

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Receiver:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _hook(self, request: web.Request) -> web.Response:
        self.started += 1
        if self.hang:
            await self.release.wait()
        self.webhook.append(await request.json())
        return web.json_response({"ok": True})

    async def _telegram(self, request: web.Request) -> web.Response:
        self.started += 1
        self.telegram.append((request.match_info["token"], await request.json()))
        if self.telegram_status != 200:
            return web.json_response(
                {"ok": False, "error_code": self.telegram_status}, status=self.telegram_status
            )
        return web.json_response({"ok": True, "result": {}})

    def kinds(self) -> list[str]:
        return [m["kind"] for m in self.webhook]

    async def wait_for(self, kind: str, timeout_s: float = 5.0) -> dict[str, Any]:
        for _ in range(int(timeout_s / 0.02)):
            for m in self.webhook:
                if m["kind"] == kind:
                    return m
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {kind} notification; got {self.kinds()}")
