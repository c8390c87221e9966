"""What ccxt makes of a frame it fails on, and how the guard and the checks treat it (real ccxt).

ccxt.pro's binance parses an executionReport in steps: the trade first (cached in its myTrades
ArrayCache, watch_my_trades resolved), then the order, where a fee "abc" raises. The guard skips
the frame, and must still recognise the trade ccxt cached from it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.ccxt import sanity
from connectors.ccxt.message_guard import KEPT_FRAMES, MessageGuard
from connectors.ccxt.venue import CcxtVenue

REPORT = {
    "e": "executionReport",
    "E": 1,
    "s": "BTCUSDT",
    "c": "mm1-1",
    "S": "SELL",
    "o": "LIMIT",
    "f": "GTC",
    "q": "0.005",
    "p": "60000.1",
    "X": "PARTIALLY_FILLED",
    "x": "TRADE",
    "i": 7,
    "T": 1,
    "O": 1,
    "l": "0.001",
    "z": "0.001",
    "L": "60000.1",
    "N": "USDT",
    "m": True,
}


def user_frame(trade_id: int, fee: Any) -> str:
    return json.dumps({"subscriptionId": 0, "event": {**REPORT, "t": trade_id, "n": fee}})


def cached_trade(exchange: Any, trade_id: str) -> dict[str, Any]:
    return next(t for t in exchange.myTrades if t["id"] == trade_id)


async def test_a_trade_ccxt_cached_from_a_skipped_frame_is_recognised(venue: CcxtVenue) -> None:
    exchange, guard = venue.session.exchange, venue.message_guard
    client = exchange.client("ws://127.0.0.1:9/guard-test")  # not connected: frames handed in
    client.handle_text_or_binary_message(user_frame(11, "0.006"))
    assert guard.skipped == 0 and not venue.session.catch_up_wanted.is_set()
    client.handle_text_or_binary_message(user_frame(12, "abc"))
    assert guard.skipped == 1 and venue.session.catch_up_wanted.is_set()
    good, bad = cached_trade(exchange, "11"), cached_trade(exchange, "12")
    # ccxt cached the trade of the frame it failed on, its fee read as "none"
    assert bad["fee"] == {"cost": None, "currency": None} and bad["price"] == 60000.1
    assert sanity.trade_problem(bad, 0.1, 0.001) is None  # nothing else about it looks wrong
    assert guard.from_skipped_frame(bad) and not guard.from_skipped_frame(good)
    assert sanity.fee_problem(bad) == "fee None is not a number" and sanity.fee_problem(good) is None


@pytest.mark.parametrize(
    ("fee", "problem"),
    [
        ({"cost": 0.006, "currency": "USDT"}, None),
        ({"cost": 0.0, "currency": None}, None),  # a zero fee needs no asset
        ({"cost": -0.001, "currency": "USDT"}, None),  # a maker rebate
        ({"cost": None, "currency": None}, "fee None is not a number"),  # what ccxt makes of "abc"
        (None, "fee None is not a number"),
        ({"cost": float("nan"), "currency": "USDT"}, "fee nan is not a number"),
        ({"cost": "abc", "currency": "USDT"}, "fee 'abc' is not a number"),
        ({"cost": 0.006, "currency": None}, "fee 0.006 has no asset"),
        ({"cost": 0.006, "currency": ""}, "fee 0.006 has no asset"),
    ],
)
def test_fee_a_stream_trade_must_carry(fee: Any, problem: str | None) -> None:
    assert sanity.fee_problem({"fee": fee}) == problem


def test_the_guard_keeps_a_bounded_number_of_skipped_messages() -> None:
    guard = MessageGuard("bn")
    messages = [{"event": {"t": i, "levels": [[str(i), "1"]]}} for i in range(KEPT_FRAMES + 1)]
    for message in messages:
        guard.remember_skipped(message)
    trade_of = [{"info": m["event"]} for m in messages]
    assert not guard.from_skipped_frame(trade_of[0])  # the oldest was let go
    assert all(guard.from_skipped_frame(t) for t in trade_of[1:])
    assert not guard.from_skipped_frame({"info": {"t": 1, "levels": [["1", "1"]]}})  # equal, not the same
    assert guard.held_containers == KEPT_FRAMES * 4  # per message: itself, event, levels, the level
