from decimal import Decimal

import pytest

from bot.core.domain import (
    ALLOWED_TRANSITIONS,
    IllegalTransition,
    Market,
    MarketKey,
    Order,
    OrderRequest,
    OrderState,
    Side,
)
from bot.core.ids import client_order_seq, make_client_order_id


def _order() -> Order:
    return Order(OrderRequest("mm1-a", "mock", "BTC/USDT", Side.BUY, 100, 2))


def test_happy_path_through_partial_fill_to_filled():
    order = _order()
    order.transition(OrderState.OPEN, 1)
    order.transition(OrderState.PARTIALLY_FILLED, 2)
    order.transition(OrderState.FILLED, 3)
    assert [s for s, _ in order.history] == [OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.FILLED]
    assert order.updated_ns == 3


@pytest.mark.parametrize(
    "terminal", [OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED, OrderState.EXPIRED]
)
@pytest.mark.parametrize("target", list(OrderState))
def test_terminal_states_refuse_every_transition(terminal, target):
    order = _order()
    order.transition(terminal, 1)
    with pytest.raises(IllegalTransition, match=f"{terminal.value} -> {target.value}"):
        order.transition(target, 2)
    assert order.state is terminal


def test_illegal_transitions_leave_state_untouched():
    order = _order()
    order.transition(OrderState.OPEN, 1)
    with pytest.raises(IllegalTransition):
        order.transition(OrderState.PENDING_NEW, 2)
    with pytest.raises(IllegalTransition):
        order.transition(OrderState.REJECTED, 2)  # a resting order is cancelled, not rejected
    assert order.state is OrderState.OPEN and order.updated_ns == 1


def test_cancel_refused_returns_to_open_and_fill_can_race_the_ack():
    order = _order()
    order.transition(OrderState.FILLED, 1)  # fill seen before the ack
    assert order.state.is_terminal
    other = _order()
    other.transition(OrderState.OPEN, 1)
    other.transition(OrderState.PENDING_CANCEL, 2)
    other.transition(OrderState.OPEN, 3)
    assert other.state is OrderState.OPEN


def test_every_state_has_a_transition_entry():
    assert set(ALLOWED_TRANSITIONS) == set(OrderState)


def test_client_order_ids_are_deterministic_and_prefixed():
    assert make_client_order_id("mm1", 0) == "mm1-0"
    assert make_client_order_id("mm1", 36**3) == "mm1-1000"
    cid = make_client_order_id("mm1", 123456789)
    assert client_order_seq("mm1", cid) == 123456789
    assert client_order_seq("mm10", cid) is None
    assert client_order_seq("mm1", "other-12") is None


def test_market_grid_is_exact():
    m = Market(
        "mock",
        "BTC/USDT",
        "BTC",
        "USDT",
        Decimal("0.01"),
        Decimal("0.0001"),
        maker_fee_bps=Decimal("-1"),
        taker_fee_bps=Decimal("7.5"),
    )
    assert m.exact_ticks(Decimal("30000.12")) == 3000012
    with pytest.raises(ValueError, match="not a multiple of tick"):
        m.exact_ticks(Decimal("30000.123"))
    assert m.notional(3000012, 15) == Decimal("45.000180")
    assert m.fee(3000012, 15, is_maker=False) == Decimal("0.0337501350")
    assert m.fee(3000012, 15, is_maker=True) == Decimal("-0.0045000180")


def test_market_key_parses_venue_and_symbol_and_indexes_like_the_tuple():
    key = MarketKey.parse("binance:BTC/USDT")
    assert (key.venue, key.symbol) == ("binance", "BTC/USDT")
    assert str(key) == "binance:BTC/USDT"
    assert {("binance", "BTC/USDT"): 3}[key] == 3  # MarketState.slot_of is keyed by (venue, symbol)
    for bad in ("BTC/USDT", ":BTC/USDT", "binance:", "a:b:c"):
        with pytest.raises(ValueError, match="venue:symbol"):
            MarketKey.parse(bad)
