"""Malformed REST requests to the facade: Binance's HTTP 400 + {"code", "msg"}, never a 500.

Each request is sent raw (aiohttp, signed by hand) and the answer compared with what Binance
answers; then the same requests go through real ccxt, which must raise the exception class it
raises against Binance, and our error mapping must turn each into the venue error the order
manager handles. No malformed request may place an order or move a balance.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import ccxt
import pytest

from connectors.base import AuthError, InsufficientBalance, OrderRejected, PostOnlyWouldCross, VenueError
from connectors.ccxt.errors import map_ccxt_error
from connectors.ccxt.session import build_exchange
from connectors.mock.facade import FacadeHandle
from tests.ccxt.conftest import API_KEY, API_SECRET, venue_params

ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.002",
    "price": "50000",
}
DECIMAL_RANGE = r"legal range is '^([0-9]{1,20})(\.[0-9]{1,20})?$'."
SYMBOL_RANGE = "legal range is '^[A-Z0-9-_.]{1,20}$'."


def sign(query: str, secret: str = API_SECRET) -> str:
    return f"{query}&signature={hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()}"


def now_ms() -> int:
    return int(time.time() * 1000)


def order(changes: dict[str, Any]) -> dict[str, Any]:
    """ORDER with a fresh timestamp and some fields changed (None removes one)."""
    params = {**ORDER, "timestamp": now_ms(), **changes}
    return {k: v for k, v in params.items() if v is not None}


# (what, changes to a valid order, expected code, expected msg)
BAD_ORDERS: list[tuple[str, dict[str, Any], int, str]] = [
    ("no quantity", {"quantity": None}, -1102, "Mandatory parameter 'quantity' was not sent"),
    ("no side", {"side": None}, -1102, "Mandatory parameter 'side' was not sent"),
    ("no symbol", {"symbol": None}, -1102, "Mandatory parameter 'symbol' was not sent"),
    (
        "NaN quantity",
        {"quantity": "NaN"},
        -1100,
        f"Illegal characters found in parameter 'quantity'; {DECIMAL_RANGE}",
    ),
    (
        "infinite price",
        {"price": "Infinity"},
        -1100,
        f"Illegal characters found in parameter 'price'; {DECIMAL_RANGE}",
    ),
    ("negative price", {"price": "-50000"}, -1100, "Illegal characters found in parameter 'price'"),
    ("exponent", {"quantity": "2e-3"}, -1100, "Illegal characters found in parameter 'quantity'"),
    ("underscore digits", {"quantity": "1_0"}, -1100, "Illegal characters found in parameter 'quantity'"),
    ("zero quantity", {"quantity": "0"}, -1013, "Filter failure: LOT_SIZE"),
    ("quantity off the lot grid", {"quantity": "0.0015"}, -1013, "Filter failure: LOT_SIZE"),
    ("price off the tick grid", {"price": "50000.05"}, -1013, "Filter failure: PRICE_FILTER"),
    ("price above maxPrice", {"price": "2000000000"}, -1013, "Filter failure: PRICE_FILTER"),
    ("quantity above maxQty", {"quantity": "2000000000"}, -1013, "Filter failure: LOT_SIZE"),
    ("unknown symbol", {"symbol": "DOGEUSDT"}, -1121, "Invalid symbol."),
    (
        "symbol with a slash",
        {"symbol": "BTC/USDT"},
        -1100,
        f"Illegal characters found in parameter 'symbol'; {SYMBOL_RANGE}",
    ),
    (
        "client id with spaces",
        {"newClientOrderId": "my order"},
        -1100,
        "Illegal characters found in parameter 'newClientOrderId'",
    ),
    (
        "client id of 37 chars",
        {"newClientOrderId": "x" * 37},
        -1100,
        "Illegal characters found in parameter 'newClientOrderId'",
    ),
    ("unknown side", {"side": "LONG"}, -1117, "Invalid side."),
    ("unknown type", {"type": "STOP_LOSS"}, -1116, "Invalid orderType."),
    ("unknown timeInForce", {"timeInForce": "GTX"}, -1115, "Invalid timeInForce."),
    ("huge recvWindow", {"recvWindow": 600_000}, -1131, "recvWindow must be less than 60000"),
    (
        "timestamp as text",
        {"timestamp": "yesterday"},
        -1100,
        "Illegal characters found in parameter 'timestamp'",
    ),
]


async def _send(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, Any]:
    async with session.request(method, url, **kw) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_malformed_orders_get_binance_errors_and_change_nothing(facade: FacadeHandle) -> None:
    before = facade.exchange.balances("main")
    headers = {"X-MBX-APIKEY": API_KEY}
    async with aiohttp.ClientSession() as session:
        for what, changes, code, msg in BAD_ORDERS:
            status, body = await _send(
                session,
                "POST",
                f"{facade.url}/api/v3/order",
                data=sign(urlencode(order(changes))),
                headers=headers,
            )
            assert (status, body["code"]) == (400, code), (what, body)
            assert body["msg"].startswith(msg) and set(body) == {"code", "msg"}, (what, body)
        duplicated = sign(urlencode(order({})) + "&symbol=ETHBTC")
        status, body = await _send(
            session, "POST", f"{facade.url}/api/v3/order", data=duplicated, headers=headers
        )
        assert (status, body) == (400, {"code": -1101, "msg": "Duplicate values for a parameter detected."})
        status, body = await _send(
            session, "POST", f"{facade.url}/api/v3/order", data=b"\xff\xfe=1", headers=headers
        )
        assert (status, body) == (400, {"code": -1100, "msg": "Illegal characters found in a parameter."})
    assert facade.exchange.open_orders("main") == []
    assert facade.exchange.balances("main") == before


async def test_malformed_reads_and_credentials_get_binance_errors(facade: FacadeHandle) -> None:
    headers = {"X-MBX-APIKEY": API_KEY}
    account = f"{facade.url}/api/v3/account"
    cases: list[tuple[str, str, dict[str, str], int, int]] = [
        ("depth without symbol", f"{facade.url}/api/v3/depth", {}, 400, -1102),
        ("depth limit as text", f"{facade.url}/api/v3/depth?symbol=BTCUSDT&limit=ten", {}, 400, -1100),
        ("depth of an unknown symbol", f"{facade.url}/api/v3/depth?symbol=XRPUSDT", {}, 400, -1121),
        (
            "order id as text",
            f"{facade.url}/api/v3/order?" + sign(f"symbol=BTCUSDT&orderId=abc&timestamp={now_ms()}"),
            headers,
            400,
            -1100,
        ),
        (
            "trades limit 0",
            f"{facade.url}/api/v3/myTrades?" + sign(f"symbol=BTCUSDT&limit=0&timestamp={now_ms()}"),
            headers,
            400,
            -1100,
        ),
        (
            "wrong secret",
            f"{account}?" + sign(f"timestamp={now_ms()}", "not-the-secret"),
            headers,
            400,
            -1022,
        ),
        ("no signature", f"{account}?timestamp={now_ms()}", headers, 400, -1102),
        ("non-ASCII signature", f"{account}?timestamp={now_ms()}&signature=%C3%A9", headers, 400, -1022),
        ("no timestamp", f"{account}?" + sign("recvWindow=5000"), headers, 400, -1102),
        ("no API key", f"{account}?" + sign(f"timestamp={now_ms()}"), {}, 401, -2015),
        (
            "non-ASCII API key",
            f"{account}?" + sign(f"timestamp={now_ms()}"),
            {"X-MBX-APIKEY": "cl\xe9"},
            401,
            -2015,
        ),
    ]
    async with aiohttp.ClientSession() as session:
        for what, url, hdrs, status, code in cases:
            got_status, body = await _send(session, "GET", url, headers=hdrs)
            assert (got_status, body["code"]) == (status, code), (what, body)


@pytest.fixture
async def exchange(facade: FacadeHandle, credentials: None) -> Any:
    ex = build_exchange("bn", venue_params(facade))
    await ex.load_markets()
    try:
        yield ex
    finally:
        await ex.close()


# (what, implicit-API params, ccxt's exception class, our venue error for a create)
CCXT_CASES: list[tuple[str, dict[str, Any], type[Exception], type[VenueError]]] = [
    ("missing quantity", {"quantity": None}, ccxt.BadRequest, OrderRejected),
    ("illegal quantity", {"quantity": "NaN"}, ccxt.BadRequest, OrderRejected),
    ("price off the grid", {"price": "50000.05"}, ccxt.InvalidOrder, OrderRejected),
    ("unknown symbol", {"symbol": "DOGEUSDT"}, ccxt.BadSymbol, OrderRejected),
    ("unknown side", {"side": "LONG"}, ccxt.BadRequest, OrderRejected),
    ("more than the balance", {"quantity": "100"}, ccxt.InsufficientFunds, InsufficientBalance),
    (
        "post-only that crosses",
        {"type": "LIMIT_MAKER", "timeInForce": None, "price": "90000"},
        ccxt.OrderImmediatelyFillable,
        PostOnlyWouldCross,
    ),
]


@pytest.mark.parametrize(
    ("what", "changes", "ccxt_error", "venue_error"), CCXT_CASES, ids=[c[0] for c in CCXT_CASES]
)
async def test_ccxt_raises_its_binance_exception_for_each_rejection(
    facade: FacadeHandle,
    exchange: Any,
    what: str,
    changes: dict[str, Any],
    ccxt_error: type,
    venue_error: type,
) -> None:
    params = {k: v for k, v in {**ORDER, **changes}.items() if v is not None}
    with pytest.raises(ccxt_error) as info:
        await exchange.private_post_order(params)
    assert type(info.value) is ccxt_error, info.value
    mapped = map_ccxt_error("bn", info.value, "create", is_create=True)
    assert type(mapped.error) is venue_error and not mapped.retryable and mapped.not_executed
    assert facade.exchange.open_orders("main") == []


async def test_ccxt_with_a_wrong_secret_raises_authentication_error(
    facade: FacadeHandle, exchange: Any
) -> None:
    exchange.secret = "not-the-secret"
    with pytest.raises(ccxt.AuthenticationError, match="-1022") as info:
        await exchange.fetch_balance()
    mapped = map_ccxt_error("bn", info.value, "balance")
    assert isinstance(mapped.error, AuthError) and not mapped.retryable
