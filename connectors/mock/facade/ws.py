"""Binance websockets over the facade core: market streams and the WS-API user data stream.

Market streams (`/ws/...`, `/stream/...`): `SUBSCRIBE` / `UNSUBSCRIBE` requests answered with
`{"result": null, "id": ...}`, then `depthUpdate` and `trade` events of the subscribed streams.
WS-API (`/ws-api/v3`): `userDataStream.subscribe.signature` (HMAC over the sorted params) answered
with a subscriptionId, then `executionReport` / `outboundAccountPosition` events of the account
whose API key subscribed (a connection holds one user data subscription at a time here).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from connectors.mock.facade import codec
from connectors.mock.facade.auth import KeyRing, check_timestamp, ws_signed_payload
from connectors.mock.facade.codec import BinanceError
from connectors.mock.facade.core import FacadeCore, Subscriber

log = logging.getLogger("mmbot.facade")


class WsApi:
    def __init__(self, core: FacadeCore, keys: KeyRing) -> None:
        self.core = core
        self.keys = keys
        self._sockets: set[web.WebSocketResponse] = set()
        self._subscription_ids = itertools.count()
        self.connections_opened = 0

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ws", self.market_streams),
            web.get("/ws/{tail:.*}", self.market_streams),
            web.get("/stream", self.market_streams),
            web.get("/stream/{tail:.*}", self.market_streams),
            web.get("/ws-api/v3", self.ws_api),
        ]

    async def drop_all(self) -> int:
        """Close every websocket from the server side (clients see a lost stream); returns how many."""
        sockets = list(self._sockets)
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"facade: connection dropped")
        return len(sockets)

    # ---- connection plumbing ---------------------------------------------------------------------

    async def _serve(self, request: web.Request, sub: Subscriber, on_text: Any) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections_opened += 1
        self._sockets.add(ws)
        self.core.subscribers.add(sub)
        writer = asyncio.create_task(self._write(ws, sub))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    message = json.loads(msg.data)
                except ValueError:
                    sub.send(json.dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}))
                    continue
                if isinstance(message, dict):
                    on_text(sub, message)
        finally:
            self.core.subscribers.discard(sub)
            self._sockets.discard(ws)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    @staticmethod
    async def _write(ws: web.WebSocketResponse, sub: Subscriber) -> None:
        while True:
            text = await sub.queue.get()
            if text is None:
                await ws.close(code=1008, message=b"slow consumer")
                return
            try:
                await ws.send_str(text)
            except ConnectionError:
                return

    # ---- market streams ------------------------------------------------------------------------

    async def market_streams(self, request: web.Request) -> web.WebSocketResponse:
        sub = Subscriber()
        for name in filter(None, request.query.get("streams", "").split("/")):
            stream = self._stream(name)
            if stream:
                sub.streams.add(stream)
        return await self._serve(request, sub, self._on_market_request)

    def _stream(self, name: str) -> str | None:
        """Canonical name of a supported stream (`btcusdt@depth`, `btcusdt@trade`), else None."""
        parts = name.split("@")
        if len(parts) < 2 or parts[0].upper() not in self.core.by_id:
            return None
        kind = parts[1]
        if kind == "depth" and (len(parts) == 2 or parts[2] in ("100ms", "1000ms")):
            return f"{parts[0].lower()}@depth"
        if kind == "trade" and len(parts) == 2:
            return f"{parts[0].lower()}@trade"
        return None

    def _on_market_request(self, sub: Subscriber, message: dict[str, Any]) -> None:
        method = message.get("method")
        request_id = message.get("id")
        params = message.get("params") or []
        if method == "LIST_SUBSCRIPTIONS":
            sub.send(json.dumps({"result": sorted(sub.streams), "id": request_id}))
            return
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            sub.send(
                json.dumps({"error": {"code": 2, "msg": "Invalid request: unknown method"}, "id": request_id})
            )
            return
        streams = [self._stream(str(p)) for p in params]
        if None in streams:
            bad = [p for p, s in zip(params, streams, strict=True) if s is None]
            sub.send(
                json.dumps(
                    {"error": {"code": 2, "msg": f"Invalid request: unknown stream {bad}"}, "id": request_id}
                )
            )
            return
        # The ack goes out before any event of the new streams, through the same queue.
        sub.send(json.dumps({"result": None, "id": request_id}))
        if method == "SUBSCRIBE":
            sub.streams.update(s for s in streams if s)
        else:
            sub.streams.difference_update(s for s in streams if s)

    # ---- WS-API ----------------------------------------------------------------------------------

    async def ws_api(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, Subscriber(), self._on_api_request)

    def _on_api_request(self, sub: Subscriber, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        method = message.get("method")
        params = message.get("params") or {}
        try:
            if method == "userDataStream.subscribe.signature":
                result: Any = self._subscribe_user_data(sub, params)
            elif method == "userDataStream.unsubscribe":
                sub.user_account = None
                result = {}
            elif method == "ping":
                result = {}
            elif method == "time":
                result = {"serverTime": self.core.now_ns() // codec.NS_PER_MS}
            else:
                raise BinanceError(400, -1020, f"Unsupported operation {method!r}.")
        except BinanceError as exc:
            sub.send(json.dumps({"id": request_id, "status": exc.http_status, "error": exc.body()}))
            return
        sub.send(json.dumps({"id": request_id, "status": 200, "result": result, "rateLimits": []}))

    def _subscribe_user_data(self, sub: Subscriber, params: Any) -> dict[str, Any]:
        if not isinstance(params, dict):
            raise BinanceError(400, -1102, "Mandatory parameter 'params' was not sent.")
        credentials = self.keys.check_key(params.get("apiKey"))
        check_timestamp({k: str(v) for k, v in params.items()}, self.core.now_ns() // codec.NS_PER_MS)
        credentials.check_signature(ws_signed_payload(params), params.get("signature"))
        sub.subscription_id = next(self._subscription_ids)
        sub.user_account = credentials.account_id
        return {"subscriptionId": sub.subscription_id}
