"""The Venue contract, trading: post-only and IOC orders, refusals, cancels, batches, fills."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.domain import OrderState, Side
from bot.core.events import OrderUpdate
from connectors.base import InsufficientBalance, OrderNotFound, PostOnlyWouldCross, VenueError
from tests.contract import expect
from tests.contract.expect import (
    BEST_ASK,
    BEST_BID,
    DEEP_ASK,
    DEEP_BID,
    INSIDE_BID,
    NEVER_PLACED,
    TOUCH_LOTS,
    fill_shape,
    order_shape,
    shape,
)
from tests.contract.venues import CAN_FILL_RESTING, SYMBOL, Contestant, VenueUnderTest, expected_market
from tests.kit.recorder import Recorder


def test_post_only_orders_rest_are_listed_and_lock_what_they_may_spend(contestant: Contestant) -> None:
    v = contestant.kind

    async def scenario(t: VenueUnderTest) -> None:
        bid = await t.venue.place_order(expect.request(1, Side.BUY, DEEP_BID, 3, v))
        ask = await t.venue.place_order(expect.request(2, Side.SELL, DEEP_ASK, 4, v))
        assert shape(bid) == order_shape(v, 1, bid.venue_order_id, OrderState.OPEN, Side.BUY, DEEP_BID, 3)
        assert shape(ask) == order_shape(v, 2, ask.venue_order_id, OrderState.OPEN, Side.SELL, DEEP_ASK, 4)
        assert bid.venue_order_id and ask.venue_order_id and bid.venue_order_id != ask.venue_order_id

        listed = sorted(await t.venue.fetch_open_orders(), key=lambda u: u.client_order_id)
        assert [shape(u) for u in listed] == [shape(bid), shape(ask)]
        assert [
            shape(u) for u in sorted(await t.venue.fetch_open_orders(SYMBOL), key=lambda u: u.client_order_id)
        ] == [
            shape(bid),
            shape(ask),
        ]
        assert shape(await t.venue.fetch_order(SYMBOL, bid.client_order_id)) == shape(bid)

        balances = await t.venue.fetch_balances()
        market = expected_market(v)
        assert balances["BTC"].locked == market.size(4)  # a sell locks its base size
        assert balances["BTC"].total == 2
        # a buy locks at least its notional (venues may add the fee they could charge)
        assert balances["USDT"].locked >= market.notional(DEEP_BID, 3)
        assert balances["USDT"].total == 100_000

    contestant.run(scenario)


def test_a_post_only_that_would_cross_is_refused_and_leaves_nothing(contestant: Contestant) -> None:
    v = contestant.kind

    async def scenario(t: VenueUnderTest) -> None:
        with pytest.raises(PostOnlyWouldCross) as bid_refused:
            await t.venue.place_order(expect.request(1, Side.BUY, BEST_ASK, 1, v))
        with pytest.raises(PostOnlyWouldCross) as ask_refused:
            await t.venue.place_order(expect.request(2, Side.SELL, BEST_BID, 1, v))
        assert bid_refused.value.venue == ask_refused.value.venue == v
        assert await t.venue.fetch_open_orders() == []
        assert await t.venue.fetch_fills(SYMBOL) == []
        assert await t.venue.fetch_balances() == expect.initial_balances()

    contestant.run(scenario)


def test_an_order_beyond_the_balance_is_refused_as_insufficient(contestant: Contestant) -> None:
    v = contestant.kind

    async def scenario(t: VenueUnderTest) -> None:
        with pytest.raises(InsufficientBalance) as no_usdt:
            await t.venue.place_order(expect.request(1, Side.BUY, DEEP_BID, 2_000, v))  # 118 000 USDT
        with pytest.raises(InsufficientBalance):
            await t.venue.place_order(expect.request(2, Side.SELL, DEEP_ASK, 2_001, v))  # 2.001 BTC
        assert no_usdt.value.venue == v
        assert await t.venue.fetch_open_orders() == []
        assert await t.venue.fetch_balances() == expect.initial_balances()

    contestant.run(scenario)


def test_an_ioc_takes_what_its_limit_reaches_and_expires_the_rest(contestant: Contestant) -> None:
    v = contestant.kind

    async def scenario(t: VenueUnderTest) -> None:
        # 25 lots at the best ask, which holds 20: those 20 trade, the other 5 expire
        buy = await t.venue.place_order(expect.request(1, Side.BUY, BEST_ASK, 25, v, ioc=True))
        assert shape(buy) == order_shape(
            v, 1, buy.venue_order_id, OrderState.EXPIRED, Side.BUY, BEST_ASK, 25, TOUCH_LOTS
        )
        # 5 lots at the best bid, which holds 20: all trade
        sell = await t.venue.place_order(expect.request(2, Side.SELL, BEST_BID, 5, v, ioc=True))
        assert shape(sell) == order_shape(
            v, 2, sell.venue_order_id, OrderState.FILLED, Side.SELL, BEST_BID, 5, 5
        )
        # a limit the book does not reach: nothing trades
        missed = await t.venue.place_order(expect.request(3, Side.BUY, BEST_BID, 1, v, ioc=True))
        assert (missed.state, missed.filled_lots) == (OrderState.EXPIRED, 0)

        for ack in (buy, sell, missed):
            assert shape(await t.venue.fetch_order(SYMBOL, ack.client_order_id)) == shape(ack)
        assert [fill_shape(f) for f in await t.venue.fetch_fills(SYMBOL)] == [
            expect.expected_fill(v, 1, buy.venue_order_id, Side.BUY, BEST_ASK, TOUCH_LOTS, is_maker=False),
            expect.expected_fill(v, 2, sell.venue_order_id, Side.SELL, BEST_BID, 5, is_maker=False),
        ]
        assert await t.venue.fetch_open_orders() == []
        assert await t.venue.fetch_balances() == expect.after_trades(
            (Side.BUY, BEST_ASK, TOUCH_LOTS, expect.fee(BEST_ASK, TOUCH_LOTS, is_maker=False)),
            (Side.SELL, BEST_BID, 5, expect.fee(BEST_BID, 5, is_maker=False)),
        )

    contestant.run(scenario)


def test_a_taker_fill_is_stamped_between_sending_its_order_and_the_answer(contestant: Contestant) -> None:
    v = contestant.kind

    async def scenario(t: VenueUnderTest) -> None:
        await asyncio.sleep(0.005)  # some time after the last market event, as an order goes out
        sent_ns = t.clock.now_ns()
        ack = await t.venue.place_order(expect.request(1, Side.BUY, BEST_ASK, 2, v, ioc=True))
        answered_ns = t.clock.now_ns()
        [fill] = await t.venue.fetch_fills(SYMBOL)
        assert sent_ns - t.clock_slack_ns <= ack.exchange_ts_ns <= answered_ns
        assert sent_ns - t.clock_slack_ns <= fill.exchange_ts_ns <= answered_ns

    contestant.run(scenario)


def test_cancel_releases_the_lock_and_an_unknown_id_is_order_not_found(contestant: Contestant) -> None:
    v = contestant.kind

    async def scenario(t: VenueUnderTest) -> None:
        placed = await t.venue.place_order(expect.request(1, Side.BUY, DEEP_BID, 3, v))
        cancelled = await t.venue.cancel_order(SYMBOL, placed.client_order_id)
        expected = order_shape(v, 1, placed.venue_order_id, OrderState.CANCELLED, Side.BUY, DEEP_BID, 3)
        assert shape(cancelled) == expected
        assert await t.venue.fetch_open_orders() == []
        assert await t.venue.fetch_balances() == expect.initial_balances()
        assert shape(await t.venue.fetch_order(SYMBOL, placed.client_order_id)) == expected

        for gone in (placed.client_order_id, NEVER_PLACED):
            with pytest.raises(OrderNotFound) as not_found:
                await t.venue.cancel_order(SYMBOL, gone)
            assert not_found.value.venue == v
        with pytest.raises(OrderNotFound):
            await t.venue.fetch_order(SYMBOL, NEVER_PLACED)

    contestant.run(scenario)


def test_batch_calls_answer_one_result_per_request_in_order(contestant: Contestant) -> None:
    v = contestant.kind

    async def scenario(t: VenueUnderTest) -> None:
        placed = await t.venue.place_orders(
            [
                expect.request(1, Side.BUY, DEEP_BID, 1, v),
                expect.request(2, Side.BUY, BEST_ASK, 1, v),  # post-only through the ask
                expect.request(3, Side.SELL, DEEP_ASK, 1, v),
            ]
        )
        first, crossing, third = placed
        assert isinstance(first, OrderUpdate) and isinstance(third, OrderUpdate)
        assert isinstance(crossing, PostOnlyWouldCross)
        assert [(u.client_order_id, u.state) for u in (first, third)] == [
            ("t1-1", OrderState.OPEN),
            ("t1-3", OrderState.OPEN),
        ]

        cancelled = await t.venue.cancel_orders([(SYMBOL, "t1-1"), (SYMBOL, NEVER_PLACED), (SYMBOL, "t1-3")])
        assert [type(r) for r in cancelled] == [OrderUpdate, OrderNotFound, OrderUpdate]
        assert all(isinstance(r, VenueError) or r.state is OrderState.CANCELLED for r in cancelled)
        assert await t.venue.fetch_open_orders() == []

    contestant.run(scenario)


def test_a_resting_order_fills_when_the_market_trades_into_it(contestant: Contestant) -> None:
    contestant.require(CAN_FILL_RESTING)
    v = contestant.kind

    async def scenario(t: VenueUnderTest) -> None:
        assert t.fill_resting is not None
        rec = Recorder()
        await t.venue.start_streams([SYMBOL], rec)
        bid = await t.venue.place_order(expect.request(1, Side.BUY, INSIDE_BID, 5, v))
        t.fill_resting(bid, 2)
        await rec.wait_for(lambda: len(rec.fills) == 1, what="the first fill")
        partial = await t.venue.fetch_order(SYMBOL, bid.client_order_id)
        assert shape(partial) == order_shape(
            v, 1, bid.venue_order_id, OrderState.PARTIALLY_FILLED, Side.BUY, INSIDE_BID, 5, 2
        )
        t.fill_resting(bid, 3)
        await rec.wait_for(lambda: len(rec.fills) == 2, what="the second fill")

        done = await t.venue.fetch_order(SYMBOL, bid.client_order_id)
        assert shape(done) == order_shape(
            v, 1, bid.venue_order_id, OrderState.FILLED, Side.BUY, INSIDE_BID, 5, 5
        )
        assert [fill_shape(f) for f in await t.venue.fetch_fills(SYMBOL)] == [
            expect.expected_fill(v, 1, bid.venue_order_id, Side.BUY, INSIDE_BID, lots, is_maker=True)
            for lots in (2, 3)
        ]
        assert await t.venue.fetch_open_orders() == []
        assert await t.venue.fetch_balances() == expect.after_trades(
            (Side.BUY, INSIDE_BID, 2, expect.fee(INSIDE_BID, 2, is_maker=True)),
            (Side.BUY, INSIDE_BID, 3, expect.fee(INSIDE_BID, 3, is_maker=True)),
        )

    contestant.run(scenario)
