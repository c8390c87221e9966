"""Risk checks know the direction of an order: one that reduces exposure is never refused by a
gross or shared limit, one that adds to it is (pure, on constructed exposures)."""

import asyncio
import logging
from decimal import Decimal

import pytest

from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import Market, Side
from bot.kernel.new_order import NewOrder, TimeInForce
from bot.kernel.risk import Exposure, RiskLimits, largest_admissible_lots, refuse_reason
from bot.kernel.risk_log import RefusalLog
from connectors.mock.venue import MockVenue
from tests.kit.mock_market import mock_market, mock_venue_params

# BTC at 50 000 (ticks of 0.1, lots of 0.001 = 50 USDT a lot)
M = Market("vb", "BTC/USDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"), Decimal("5"))
PRICE = 500_000
LIMITS = RiskLimits(Decimal(10_000), Decimal(1_000), max_open_orders=10)
RICH = dict(free_quote=Decimal(10**6), free_base=Decimal(100))


def check(side, lots, exposure, *, total=Decimal(0), open_orders=0, reduces=False, limits=LIMITS, **free):
    return refuse_reason(
        M, side, PRICE, lots, exposure, limits, open_orders=open_orders,
        total_position_notional=total, reduces_exposure=reduces, **{**RICH, **free},
    )  # fmt: skip


def limit_of(refusal):
    return None if refusal is None else refusal.limit


# position -10 lots (short 0.010 BTC), max 10; another strategy's bids take 8 lots of the headroom
SHARED = Exposure(position_lots=-10, open_buy_lots=8, open_sell_lots=0, max_position_lots=10)


def test_an_order_toward_zero_passes_a_max_position_another_strategy_filled():
    # the buy closes 5 of our 10 short lots; counting the other strategy's 8 bid lots it would not fit
    assert check(Side.BUY, 5, SHARED) is None
    # the same size that adds (a sell from -10) is refused by the limit, named
    refusal = check(Side.SELL, 5, SHARED)
    assert limit_of(refusal) == "max_position" and "-15 lots < -10" in refusal.message
    # a buy past zero to the other side by more than we are short does not reduce: the limit holds
    assert limit_of(check(Side.BUY, 20, SHARED)) == "max_position"


def test_an_order_toward_zero_passes_the_gross_position_notional():
    short = Exposure(-10, 0, 0, 100)  # 500 USDT short; the book's gross is at its 1 000 limit
    at_limit = Decimal(1_000)
    assert check(Side.BUY, 4, short, total=at_limit) is None
    refusal = check(Side.SELL, 4, short, total=at_limit)
    assert limit_of(refusal) == "max_total_position_notional" and "1000 + 200.0000 > 1000" in refusal.message
    # flat: anything adds
    assert (
        limit_of(check(Side.BUY, 1, Exposure(0, 0, 0, 100), total=at_limit)) == "max_total_position_notional"
    )


def test_a_hedge_passes_every_gross_and_shared_limit_but_not_the_venue_or_the_balance():
    # a hedge adds on its own market (flat taker venue) but closes the maker fill elsewhere
    flat_full = Exposure(position_lots=8, open_buy_lots=2, open_sell_lots=0, max_position_lots=10)
    crowded = dict(total=Decimal(5_000), open_orders=10)
    assert limit_of(check(Side.BUY, 5, flat_full, **crowded)) == "max_open_orders"
    assert check(Side.BUY, 5, flat_full, reduces=True, **crowded) is None
    # what the venue or the account cannot take is refused whatever the order is for
    assert limit_of(check(Side.BUY, 5, flat_full, reduces=True, free_quote=Decimal(100))) == "free_balance"
    assert (
        limit_of(check(Side.SELL, 5, flat_full, reduces=True, free_base=Decimal("0.001"))) == "free_balance"
    )
    assert limit_of(
        check(Side.BUY, 1, flat_full, reduces=True, limits=RiskLimits(Decimal(10), Decimal(1), 1))
    ) == ("max_order_notional")
    tiny = Market("vb", "BTC/USDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"), Decimal("100"))
    r = refuse_reason(tiny, Side.BUY, PRICE, 1, flat_full, LIMITS, open_orders=0,
                      total_position_notional=Decimal(0), reduces_exposure=True, **RICH)  # fmt: skip
    assert limit_of(r) == "min_notional"


def test_a_resting_order_toward_zero_still_counts_as_an_open_order():
    assert limit_of(check(Side.BUY, 5, SHARED, open_orders=10)) == "max_open_orders"


def test_the_largest_admitted_size_is_found_by_bisection():
    long = Exposure(position_lots=4, open_buy_lots=3, open_sell_lots=0, max_position_lots=10)
    assert largest_admissible_lots(lambda q: check(Side.BUY, q, long) is None, 50) == 3
    # short 6: every buy up to 11 lots moves toward zero; past that, the limit with our bids counts
    short = Exposure(position_lots=-6, open_buy_lots=3, open_sell_lots=0, max_position_lots=10)
    assert largest_admissible_lots(lambda q: check(Side.BUY, q, short) is None, 50) == 13
    assert (
        largest_admissible_lots(lambda q: check(Side.BUY, q, short, free_quote=Decimal(300)) is None, 50) == 6
    )  # 300 USDT: 6 lots


@pytest.mark.parametrize("reduces", [False, True])
def test_refusals_are_warnings_naming_the_limit_and_repeats_are_debug(caplog, reduces):
    log = RefusalLog()
    refused = check(Side.SELL, 5, SHARED)
    order = NewOrder(Side.SELL, PRICE, 5, TimeInForce.IOC if reduces else TimeInForce.POST_ONLY, reduces)
    with caplog.at_level(logging.DEBUG, logger="mmbot.risk"):
        for _ in range(3):
            log.note(M.key, order, refused)
        log.admitted(M.key, Side.SELL)
        log.note(M.key, order, refused)
    levels = [(r.levelname, "by max_position" in r.getMessage()) for r in caplog.records]
    if reduces:  # a closing order refused leaves a position open: every time
        assert levels == [("WARNING", True)] * 4
    else:
        assert levels == [("WARNING", True), ("DEBUG", True), ("DEBUG", True), ("WARNING", True)]
    assert log.by_limit == {"max_position": 4}


def test_through_the_order_manager_a_hedge_is_sent_where_another_strategy_filled_the_limit(tmp_path, caplog):
    """The issue's case on a mock venue: another strategy's bids take the taker market's
    max_position; XEMM's hedge (a buy) goes out, a plain buy of the same size is refused by name."""

    async def main():
        venue = MockVenue("vb", mock_venue_params("vb", "0.1", 1), LoopClock())
        limits = RiskLimits(Decimal(10_000), Decimal(100_000), 10)
        m = await mock_market(venue, tmp_path, max_position_lots=10, limits=limits, with_engine=False)
        orders = m.orders  # max_position 10 lots
        bids = await orders.submit(0, [NewOrder(Side.BUY, 590_000, 8)])  # another strategy's, far below
        ask = venue.exchange.depth("BTC/USDT", 1)[1][0][0]
        plain = await orders.submit(0, [NewOrder(Side.BUY, ask, 5, TimeInForce.IOC)])
        hedge = await orders.submit(0, [NewOrder(Side.BUY, ask, 5, TimeInForce.IOC, reduces_exposure=True)])
        await asyncio.sleep(0.1)
        out = ([o.state.value for o in bids], plain, [(o.state.value, o.filled_lots) for o in hedge])
        await venue.close()
        return out, orders

    with caplog.at_level(logging.WARNING, logger="mmbot.risk"):
        (bids, plain, hedge), orders = run_simulated(main)
    assert bids == ["open"] and plain == [] and hedge == [("filled", 5)]
    assert orders.counters.risk_refused == 1 and orders.refusals.by_limit == {"max_position": 1}
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith("risk refused order vb:BTC/USDT buy 5 lots @ ")
    assert message.endswith("by max_position: position would reach 13 lots > 10")  # 8 bid lots + 5
