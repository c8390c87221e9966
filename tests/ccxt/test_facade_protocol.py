"""The facade's Binance protocol seen from a plain HTTP/websocket client (no ccxt)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.core.domain import Side
from connectors.mock.facade.auth import ws_signed_payload
from tests.ccxt.conftest import API_KEY, API_SECRET
from tests.kit import child_env

ROOT = Path(__file__).resolve().parents[2]


def _signed(params: dict[str, object], secret: str = API_SECRET) -> str:
    query = urlencode(params)
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


async def _get(session, url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, object]:
    async with session.get(url, headers=headers or {}) as resp:
        return resp.status, dict(resp.headers), await resp.json()


async def test_signed_endpoint_checks_key_signature_and_recv_window(facade):
    now_ms = int(time.time() * 1000)
    headers = {"X-MBX-APIKEY": API_KEY}
    base = f"{facade.url}/api/v3/account?"
    async with aiohttp.ClientSession() as session:
        status, _, body = await _get(session, base + _signed({"timestamp": now_ms}), headers)
        assert status == 200 and {b["asset"] for b in body["balances"]} == {"USDT", "BTC", "ETH"}
        status, _, body = await _get(session, base + _signed({"timestamp": now_ms}, "wrong"), headers)
        assert (status, body["code"]) == (400, -1022)
        status, _, body = await _get(session, base + _signed({"timestamp": now_ms - 20_000}), headers)
        assert (status, body["code"]) == (400, -1021)
        stale_but_allowed = _signed({"timestamp": now_ms - 20_000, "recvWindow": 30_000})
        assert (await _get(session, base + stale_but_allowed, headers))[0] == 200
        status, _, body = await _get(session, base + _signed({"timestamp": now_ms}), {"X-MBX-APIKEY": "nope"})
        assert (status, body["code"]) == (401, -2015)
        facade.faults.reject_next, facade.faults.retry_after_s = 1, 7
        status, resp_headers, body = await _get(session, f"{facade.url}/api/v3/ping")
        assert (status, body["code"], resp_headers["Retry-After"]) == (429, -1003, "7")
        assert (await _get(session, f"{facade.url}/api/v3/ping"))[0] == 200


async def test_order_errors_use_binance_codes(facade):
    headers = {"X-MBX-APIKEY": API_KEY}
    ask = facade.exchange.book("BTC/USDT").best_ask() / 10
    common = {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.002"}
    cases = [
        ({"type": "LIMIT_MAKER", "price": f"{ask:.1f}"}, -2010, "Order would immediately match and take."),
        ({"type": "LIMIT_MAKER", "price": "100.05"}, -1013, "Filter failure: PRICE_FILTER"),
        ({"type": "LIMIT", "timeInForce": "GTC", "price": "100", "quantity": "5000"}, -2010, None),
        ({"type": "LIMIT", "price": "100"}, -1102, None),
    ]
    async with aiohttp.ClientSession() as session:
        for extra, code, msg in cases:
            body = _signed({**common, **extra, "timestamp": int(time.time() * 1000)})
            async with session.post(f"{facade.url}/api/v3/order", data=body, headers=headers) as resp:
                answer = await resp.json()
            assert (resp.status, answer["code"]) == (400, code), extra
            if msg:
                assert answer["msg"] == msg
        query = _signed({"symbol": "BTCUSDT", "orderId": 999999, "timestamp": int(time.time() * 1000)})
        async with session.delete(f"{facade.url}/api/v3/order?{query}", headers=headers) as resp:
            assert (resp.status, (await resp.json())["msg"]) == (400, "Unknown order sent.")
    assert facade.exchange.open_orders("main") == []


async def test_depth_stream_update_ids_are_continuous(facade):
    engine = facade.exchange
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{facade.ws_url}/ws/0") as ws:
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1})
        assert json.loads((await ws.receive()).data) == {"result": None, "id": 1}
        status, _, snapshot = await _get(session, f"{facade.url}/api/v3/depth?symbol=BTCUSDT&limit=1000")
        assert status == 200
        book = {"b": {p: q for p, q in snapshot["bids"]}, "a": {p: q for p, q in snapshot["asks"]}}
        last = snapshot["lastUpdateId"]
        for i in range(5):
            best_bid = engine.book("BTC/USDT").best_bid()
            engine.background_place("BTC/USDT", Side.BUY, best_bid + 1 + i, 3, facade.core.now_ns())
            event = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
            assert event["e"] == "depthUpdate" and event["U"] == last + 1 and event["u"] >= event["U"]
            last = event["u"]
            for side in ("b", "a"):
                for price, qty in event[side]:
                    if qty == "0":
                        book[side].pop(price)
                    else:
                        book[side][price] = qty
    bids, asks = engine.depth("BTC/USDT", 20)
    market = engine.markets["BTC/USDT"]
    assert sorted((market.exact_ticks(p), market.exact_lots(q)) for p, q in book["b"].items()) == sorted(bids)
    assert sorted((market.exact_ticks(p), market.exact_lots(q)) for p, q in book["a"].items()) == sorted(asks)


async def test_ws_api_user_stream_subscription_checks_the_signature(facade):
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{facade.ws_url}/ws-api/v3") as ws:
        params: dict[str, object] = {"apiKey": API_KEY, "timestamp": int(time.time() * 1000)}
        bad = {**params, "signature": "00" * 32}
        await ws.send_json({"id": "1", "method": "userDataStream.subscribe.signature", "params": bad})
        answer = json.loads((await ws.receive()).data)
        assert (answer["status"], answer["error"]["code"]) == (400, -1022)
        signature = hmac.new(
            API_SECRET.encode(), ws_signed_payload(params).encode(), hashlib.sha256
        ).hexdigest()
        good = {**params, "signature": signature}
        await ws.send_json({"id": "2", "method": "userDataStream.subscribe.signature", "params": good})
        answer = json.loads((await ws.receive()).data)
        assert (answer["id"], answer["status"], answer["result"]) == ("2", 200, {"subscriptionId": 0})
        bid = facade.exchange.book("BTC/USDT").best_bid()
        facade.exchange.place_order(
            "main", "BTC/USDT", "x-1", Side.BUY, 2, facade.core.now_ns(), price_ticks=bid - 1
        )
        events = [json.loads((await asyncio.wait_for(ws.receive(), 5)).data) for _ in range(2)]
    kinds = {e["event"]["e"]: e["event"] for e in events}
    assert kinds["executionReport"]["x"] == "NEW" and kinds["executionReport"]["c"] == "x-1"
    assert kinds["outboundAccountPosition"]["B"][0]["a"] == "USDT"
    assert all(e["subscriptionId"] == 0 for e in events)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_main_serves_until_sigint(tmp_path):
    env = child_env(MMBOT_FACADE_API_KEY="cli-key", MMBOT_FACADE_API_SECRET="cli-secret")
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectors.mock.facade.server", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        assert proc.stdout is not None
        while not any("API secret" in line for line in lines):
            line = proc.stdout.readline()
            assert line, f"facade exited early: {''.join(lines)}"
            lines.append(line)
        text = "".join(lines)
        url = text.split(" on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert "cli-key" in text and "cli-secret" in text

        async def ping() -> int:
            async with aiohttp.ClientSession() as session, session.get(f"{url}/api/v3/ping") as resp:
                return resp.status

        assert asyncio.run(ping()) == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
