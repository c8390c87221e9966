"""Immediate-or-cancel orders: the domain flag, the mock exchange, and the ccxt request."""

from decimal import Decimal

import pytest

from bot.core.domain import OrderRequest, OrderState, Side
from connectors.ccxt.orders import create_args
from connectors.mock.exchange import MockExchange
from tests.kit import stubs

MARKET = stubs.market(taker_fee_bps=5)


def test_post_only_and_ioc_exclude_each_other():
    with pytest.raises(ValueError, match="post_only and immediate_or_cancel"):
        OrderRequest("c1", "va", "BTC/USDT", Side.BUY, 10, 1, post_only=True, immediate_or_cancel=True)


def test_mock_exchange_fills_an_ioc_up_to_its_limit_and_expires_the_rest():
    ex = MockExchange("va", [MARKET])
    ex.open_account("me", {"USDT": Decimal(10_000), "BTC": Decimal(0)})
    ex.background_place("BTC/USDT", Side.SELL, 600_000, 3, 1)
    ex.background_place("BTC/USDT", Side.SELL, 600_010, 4, 1)
    ex.background_place("BTC/USDT", Side.SELL, 600_030, 9, 1)
    update = ex.place_request(
        "me", stubs.request("c1", side=Side.BUY, price_ticks=600_010, size_lots=10, ioc=True), 2
    )
    assert (update.state, update.filled_lots) == (OrderState.EXPIRED, 7)
    assert ex.open_orders("me") == []
    assert ex.balances("me")["BTC"].total == Decimal("0.007")
    assert ex.depth("BTC/USDT", 5)[1] == ((600_030, 9),)  # the deeper level is untouched


def test_ccxt_request_of_an_ioc():
    ioc = stubs.request("c1", side=Side.SELL, price_ticks=600_000, size_lots=5, ioc=True)
    args = create_args(MARKET, ioc)
    assert args[1:5] == ("limit", "sell", "0.005", "60000")
    assert args[5] == {"clientOrderId": "c1", "timeInForce": "IOC"}
