"""Two accounts on one facade, each behind its own API key, trading on the same books through real ccxt.

Account "main" (key A) and account "b" (key B) start with the same balances. Each key sees only its
own account: balances, open orders, trades, order lookups and cancels, and user data stream. An
order of A filled by an order of B is one trade with one trade id, reported to each side with its
own side, role and fee.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt
import ccxt.pro
import pytest

from connectors.ccxt.urls import rewrite_api_urls
from connectors.mock.facade import FacadeHandle, serve_facade
from connectors.mock.facade.auth import ws_signed_payload
from connectors.mock.facade.server import main as facade_main
from tests.ccxt.conftest import API_KEY, API_SECRET, BINANCE_LOCAL_OPTIONS, facade_params
from tests.reliability.procs import KEY_B, SECRET_B, FacadeProcess, VenueView, facade_config

BTC = "BTC/USDT"
KEY_B_LOCAL, SECRET_B_LOCAL = "test-key-b-0123456789", "test-secret-b-abcdef0123456789"
INITIAL = {"USDT": Decimal("100000"), "BTC": Decimal("2"), "ETH": Decimal("10")}
QTY = Decimal("0.01")


@pytest.fixture
async def facade() -> AsyncIterator[FacadeHandle]:
    handle = await serve_facade(
        "127.0.0.1",
        0,
        facade_params(),
        API_KEY,
        API_SECRET,
        extra_accounts={"b": (KEY_B_LOCAL, SECRET_B_LOCAL)},
    )
    try:
        yield handle
    finally:
        await handle.stop()


@pytest.fixture
async def clients(facade: FacadeHandle) -> AsyncIterator[tuple[Any, Any]]:
    made = []
    for key, secret in ((API_KEY, API_SECRET), (KEY_B_LOCAL, SECRET_B_LOCAL)):
        exchange = ccxt.pro.binance(
            {"apiKey": key, "secret": secret, "options": dict(BINANCE_LOCAL_OPTIONS), "rateLimit": 1}
        )
        exchange.urls["api"] = rewrite_api_urls(exchange.urls["api"], facade.url)
        made.append(exchange)
    try:
        await asyncio.gather(*(e.load_markets() for e in made))
        yield made[0], made[1]
    finally:
        for exchange in made:
            await exchange.close()


def totals(balance: dict[str, Any]) -> dict[str, Decimal]:
    return {b["asset"]: Decimal(b["free"]) + Decimal(b["locked"]) for b in balance["info"]["balances"]}


def inside_ask(facade: FacadeHandle) -> Decimal:
    """A sell price inside the spread: the best ask once placed, above the best bid."""
    book = facade.exchange.book(BTC)
    assert book.best_ask() - book.best_bid() > 2
    return facade.exchange.markets[BTC].price(book.best_ask() - 1)


async def test_each_key_sees_only_its_own_account(facade, clients):
    a, b = clients
    bal_a, bal_b = await asyncio.gather(a.fetch_balance(), b.fetch_balance())
    assert totals(bal_a) == totals(bal_b) == INITIAL
    assert (bal_a["info"]["uid"], bal_b["info"]["uid"]) == (1, 2)

    price = facade.exchange.markets[BTC].price(facade.exchange.book(BTC).best_bid() - 10)
    order = await a.create_order(BTC, "limit", "buy", float(QTY), float(price), {"newClientOrderId": "a-1"})
    assert order["status"] == "open"
    assert [o["clientOrderId"] for o in await a.fetch_open_orders(BTC)] == ["a-1"]
    assert await b.fetch_open_orders(BTC) == []
    locked = {x["asset"]: Decimal(x["locked"]) for x in (await a.fetch_balance())["info"]["balances"]}
    assert locked["USDT"] > 0
    assert all(Decimal(x["locked"]) == 0 for x in (await b.fetch_balance())["info"]["balances"])
    assert [u.client_order_id for u in facade.exchange.open_orders("main")] == ["a-1"]
    assert facade.exchange.open_orders("b") == []


async def test_another_accounts_order_is_unknown_and_client_ids_are_per_account(facade, clients):
    a, b = clients
    price = float(facade.exchange.markets[BTC].price(facade.exchange.book(BTC).best_bid() - 10))
    theirs = await b.create_order(BTC, "limit", "buy", float(QTY), price, {"newClientOrderId": "same-1"})
    with pytest.raises(ccxt.OrderNotFound):
        await a.cancel_order(None, BTC, {"origClientOrderId": "same-1"})
    with pytest.raises(ccxt.OrderNotFound):
        await a.cancel_order(theirs["id"], BTC)
    with pytest.raises(ccxt.OrderNotFound):
        await a.fetch_order(theirs["id"], BTC)
    with pytest.raises(ccxt.OrderNotFound):  # A has nothing open: B's order is not A's to cancel
        await a.cancel_all_orders(BTC)
    # The same client id is free on A's account; cancelling it there leaves B's alone.
    ours = await a.create_order(BTC, "limit", "buy", float(QTY), price, {"newClientOrderId": "same-1"})
    assert ours["id"] != theirs["id"]
    cancelled = await a.cancel_order(None, BTC, {"origClientOrderId": "same-1"})
    assert (cancelled["id"], cancelled["status"]) == (ours["id"], "canceled")
    assert [(o["id"], o["status"]) for o in await b.fetch_open_orders(BTC)] == [(theirs["id"], "open")]
    assert (await b.fetch_order(theirs["id"], BTC))["clientOrderId"] == "same-1"


async def test_a_resting_order_taken_by_the_other_account_is_one_trade_seen_from_both_sides(facade, clients):
    a, b = clients
    price = inside_ask(facade)
    notional = price * QTY
    maker = await a.create_order(
        BTC, "limit", "sell", float(QTY), float(price), {"newClientOrderId": "a-ask"}
    )
    assert maker["status"] == "open" and maker["trades"] == []
    taker = await b.create_order(BTC, "limit", "buy", float(QTY), float(price), {"timeInForce": "IOC"})
    assert (taker["status"], Decimal(str(taker["filled"]))) == ("closed", QTY)
    # B's FULL answer carries B's fill only (not A's maker side of the same trade).
    assert [Decimal(str(t["amount"])) for t in taker["trades"]] == [QTY]

    trades_a, trades_b = await asyncio.gather(a.fetch_my_trades(BTC), b.fetch_my_trades(BTC))
    assert [(t["side"], t["takerOrMaker"], t["order"]) for t in trades_a] == [("sell", "maker", maker["id"])]
    assert [(t["side"], t["takerOrMaker"], t["order"]) for t in trades_b] == [("buy", "taker", taker["id"])]
    assert trades_a[0]["id"] == trades_b[0]["id"] == str(taker["trades"][0]["id"])  # one trade, one id
    assert Decimal(str(trades_a[0]["price"])) == Decimal(str(trades_b[0]["price"])) == price
    assert (await a.fetch_order(maker["id"], BTC))["status"] == "closed"

    bal_a, bal_b = await asyncio.gather(a.fetch_balance(), b.fetch_balance())
    maker_fee, taker_fee = notional * Decimal("0.0001"), notional * Decimal("0.0005")
    assert totals(bal_a) == {
        **INITIAL,
        "BTC": INITIAL["BTC"] - QTY,
        "USDT": INITIAL["USDT"] + notional - maker_fee,
    }
    assert totals(bal_b) == {
        **INITIAL,
        "BTC": INITIAL["BTC"] + QTY,
        "USDT": INITIAL["USDT"] - notional - taker_fee,
    }

    # A lagging /account (fault) answers each account from its own history: A as right after it
    # placed its ask (BTC locked), B as after its trade (its only balance event).
    facade.faults.balance_lag_ms = 600_000
    lagged_a, lagged_b = await asyncio.gather(a.fetch_balance(), b.fetch_balance())
    assert {x["asset"]: Decimal(x["locked"]) for x in lagged_a["info"]["balances"]}["BTC"] == QTY
    assert totals(lagged_b) == totals(bal_b)


async def _subscribe(ws: aiohttp.ClientWebSocketResponse, key: str, secret: str) -> None:
    params: dict[str, object] = {"apiKey": key, "timestamp": int(time.time() * 1000)}
    signature = hmac.new(secret.encode(), ws_signed_payload(params).encode(), hashlib.sha256).hexdigest()
    await ws.send_json(
        {
            "id": "sub",
            "method": "userDataStream.subscribe.signature",
            "params": {**params, "signature": signature},
        }
    )
    answer = json.loads((await ws.receive()).data)
    assert (answer["id"], answer["status"]) == ("sub", 200)


async def _events_until_ping(ws: aiohttp.ClientWebSocketResponse) -> list[tuple[str, ...]]:
    """(kind, client id, execution type, trade id) of every user event queued before a ping answer.

    The facade queues events as the engine makes them, and the ping answer after them on the same
    socket: what arrives before it is everything this stream was sent so far.
    """
    await ws.send_json({"id": "sentinel", "method": "ping"})
    out: list[tuple[str, ...]] = []
    while True:
        message = json.loads((await asyncio.wait_for(ws.receive(), 10)).data)
        if message.get("id") == "sentinel":
            return out
        event = message["event"]
        if event["e"] == "executionReport":
            out.append(("report", event["c"], event["x"], event["S"], str(event["t"])))
        else:
            out.append(("balances", *sorted(b["a"] for b in event["B"])))


async def test_user_streams_deliver_only_the_own_accounts_events(facade, clients):
    a, b = clients
    url = f"{facade.ws_url}/ws-api/v3"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url) as ws_a,
        session.ws_connect(url) as ws_b,
    ):
        await _subscribe(ws_a, API_KEY, API_SECRET)
        await _subscribe(ws_b, KEY_B_LOCAL, SECRET_B_LOCAL)
        price = float(inside_ask(facade))
        await a.create_order(BTC, "limit", "sell", float(QTY), price, {"newClientOrderId": "a-ask"})
        await b.create_order(
            BTC, "limit", "buy", float(QTY), price, {"newClientOrderId": "b-bid", "timeInForce": "IOC"}
        )
        trade_id = (await a.fetch_my_trades(BTC))[0]["id"]
        events_a, events_b = await asyncio.gather(_events_until_ping(ws_a), _events_until_ping(ws_b))
    assert events_a == [
        ("report", "a-ask", "NEW", "SELL", "-1"),
        ("balances", "BTC"),
        ("report", "a-ask", "TRADE", "SELL", trade_id),
        ("balances", "BTC", "USDT"),
    ]
    assert events_b == [
        ("report", "b-bid", "NEW", "BUY", "-1"),
        ("report", "b-bid", "TRADE", "BUY", trade_id),
        ("balances", "BTC", "USDT"),
    ]


async def test_ccxt_pro_watchers_see_only_their_own_orders_and_trades(facade, clients):
    a, b = clients
    price = float(inside_ask(facade))
    watch_a = asyncio.ensure_future(a.watch_my_trades(BTC))
    watch_b = asyncio.ensure_future(b.watch_my_trades(BTC))
    while sum(s.user_data for s in facade.core.subscribers) < 2:  # both user streams subscribed
        await asyncio.sleep(0.01)
    await a.create_order(BTC, "limit", "sell", float(QTY), price, {"newClientOrderId": "a-ask"})
    await b.create_order(
        BTC, "limit", "buy", float(QTY), price, {"newClientOrderId": "b-bid", "timeInForce": "IOC"}
    )
    mine_a, mine_b = await asyncio.wait_for(asyncio.gather(watch_a, watch_b), 10)
    assert [(t["side"], t["takerOrMaker"]) for t in mine_a] == [("sell", "maker")]
    assert [(t["side"], t["takerOrMaker"]) for t in mine_b] == [("buy", "taker")]
    assert mine_a[0]["id"] == mine_b[0]["id"]
    # A sentinel order on A's own stream: everything sent to A before it has arrived by then.
    far = float(facade.exchange.markets[BTC].price(facade.exchange.book(BTC).best_bid() - 10))
    await a.create_order(BTC, "limit", "buy", float(QTY), far, {"newClientOrderId": "a-sentinel"})
    while "a-sentinel" not in {o["clientOrderId"] for o in await asyncio.wait_for(a.watch_orders(BTC), 10)}:
        pass
    assert {o["clientOrderId"] for o in a.orders} == {"a-ask", "a-sentinel"}
    assert [t["id"] for t in a.myTrades] == [mine_a[0]["id"]]


def test_mock_exchange_serves_the_accounts_given_by_env_var_names(tmp_path, monkeypatch):
    facade = FacadeProcess(tmp_path, facade_config(taker_rate_per_s=0.0), second_account=True)
    try:
        lines = []
        while not any("account2" in line and "$" in line for line in lines):
            line = facade.proc.stdout.readline() if facade.proc.stdout else ""
            assert line, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        assert SECRET_B not in text and KEY_B not in text  # named by env var, never printed
        view_b = VenueView(facade.url, KEY_B, SECRET_B)
        assert view_b.exchange.fetch_balance()["info"]["uid"] == 2
        assert VenueView(facade.url).exchange.fetch_balance()["info"]["uid"] == 1
    finally:
        facade.stop()

    monkeypatch.delenv("NOT_SET_KEY_ENV", raising=False)
    with pytest.raises(SystemExit, match="environment variable NOT_SET_KEY_ENV is not set"):
        facade_main(["--port", "0", "--account", "NOT_SET_KEY_ENV:ALSO_NOT_SET"])
    with pytest.raises(SystemExit, match="expected KEY_ENV:SECRET_ENV"):
        facade_main(["--port", "0", "--account", "ONLY_ONE_NAME"])
