"""Fair value without ourselves (issue #15, point 1): the engine takes our resting orders out of
every book it receives and keeps the other participants' top, their mid and their microprice."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bot.core.clock import FixedClock
from bot.core.domain import Order, OrderState, Side
from bot.core.events import BookSnapshot
from bot.kernel.engine import Engine
from bot.kernel.market_state import MarketState, others_level
from tests.kit.stubs import SYMBOL, VENUE, cid, market, request

S = 1_000_000_000
TICK = 0.1  # the stub market's tick


class LiveOrders:
    """The two things the engine's book path reads from the order manager."""

    def __init__(self) -> None:
        self.live: dict[str, Order] = {}

    def orders_of(self, slot: int) -> list[Order]:
        return list(self.live.values())

    def rest(
        self, side: Side, price_ticks: int, size_lots: int, filled: int = 0, *, ioc: bool = False
    ) -> Order:
        seq = len(self.live) + 1
        order = Order(request(cid(seq), side=side, price_ticks=price_ticks, size_lots=size_lots, ioc=ioc))
        order.state = OrderState.PARTIALLY_FILLED if filled else OrderState.OPEN
        order.filled_lots = filled
        self.live[order.client_order_id] = order
        return order


def engine() -> tuple[Engine, MarketState, LiveOrders]:
    state = MarketState([market()], [1], [10])
    orders = LiveOrders()
    return Engine(state, orders, FixedClock(0)), state, orders  # type: ignore[arg-type]


def book(bids: list[tuple[int, int]], asks: list[tuple[int, int]], ts_ns: int = S) -> BookSnapshot:
    return BookSnapshot(VENUE, SYMBOL, tuple(bids), tuple(asks), ts_ns, ts_ns)


def test_a_book_with_only_our_quotes_at_the_top_gives_the_others_mid_and_microprice() -> None:
    eng, state, orders = engine()
    orders.rest(Side.BUY, 600_010, 5)
    orders.rest(Side.SELL, 600_020, 5)
    eng.on_event(book([(600_010, 5), (600_000, 7)], [(600_020, 5), (600_040, 3)]))
    assert state.mid_price[0] == (600_010 + 600_020) / 2 * TICK  # the venue's mid: our own quotes
    assert (state.others_bid_ticks[0], state.others_bid_lots[0]) == (600_000, 7)
    assert (state.others_ask_ticks[0], state.others_ask_lots[0]) == (600_040, 3)
    assert state.mid_ex_own[0] == (600_000 + 600_040) / 2 * TICK  # 60002.0
    # size-weighted towards the thin side: (bid·ask_lots + ask·bid_lots) / (bid_lots + ask_lots)
    assert state.microprice_ex_own[0] == (600_000 * 3 + 600_040 * 7) / 10 * TICK  # 60002.8
    assert math.isclose(state.microprice_ex_own[0], 60_002.8)
    assert state.fair_prices("mid")[0] == state.mid_price[0]
    assert state.fair_prices("mid_ex_own")[0] == state.mid_ex_own[0]
    assert state.fair_prices("microprice")[0] == state.microprice_ex_own[0]


def test_our_order_partially_covering_a_level_leaves_the_remainder_theirs() -> None:
    eng, state, orders = engine()
    orders.rest(Side.BUY, 600_010, 5, filled=1)  # 4 of ours left at 600_010
    orders.rest(Side.SELL, 600_020, 2)
    eng.on_event(book([(600_010, 9), (600_000, 7)], [(600_020, 6), (600_040, 3)]))
    assert (state.others_bid_ticks[0], state.others_bid_lots[0]) == (600_010, 5)
    assert (state.others_ask_ticks[0], state.others_ask_lots[0]) == (600_020, 4)
    assert state.mid_ex_own[0] == state.mid_price[0] == 60_001.5
    assert state.microprice_ex_own[0] == (600_010 * 4 + 600_020 * 5) / 9 * TICK


def test_after_our_cancel_the_level_is_theirs_again() -> None:
    eng, state, orders = engine()
    ours = orders.rest(Side.SELL, 600_020, 5)
    levels = ([(600_010, 4)], [(600_020, 8), (600_040, 3)])
    eng.on_event(book(*levels))
    assert (state.others_ask_ticks[0], state.others_ask_lots[0]) == (600_020, 3)
    del orders.live[ours.client_order_id]  # cancelled: the order manager forgets it
    eng.on_event(book([(600_010, 4)], [(600_020, 3), (600_040, 3)], ts_ns=2 * S))
    assert (state.others_ask_ticks[0], state.others_ask_lots[0]) == (600_020, 3)
    assert state.mid_ex_own[0] == state.mid_price[0] == 60_001.5
    assert state.last_book_ns[0] == 2 * S


def test_without_orders_of_ours_the_others_top_is_the_top_and_ioc_orders_never_rest() -> None:
    eng, state, orders = engine()
    eng.on_event(book([(600_010, 4)], [(600_020, 6)]))
    assert state.mid_ex_own[0] == state.mid_price[0] == 60_001.5
    assert state.microprice_ex_own[0] == (600_010 * 6 + 600_020 * 4) / 10 * TICK
    orders.rest(Side.BUY, 600_010, 4, ioc=True)  # a hedge at the touch: never part of the book
    eng.on_event(book([(600_010, 4)], [(600_020, 6)]))
    assert state.others_bid_lots[0] == 4


def test_a_side_where_only_we_quote_leaves_no_fair_price() -> None:
    eng, state, orders = engine()
    orders.rest(Side.SELL, 600_020, 5)
    eng.on_event(book([(600_010, 4)], [(600_020, 5)]))
    assert state.mid_price[0] == 60_001.5
    assert state.others_ask_ticks[0] == 0 and state.others_ask_lots[0] == 0
    assert np.isnan(state.mid_ex_own[0]) and np.isnan(state.microprice_ex_own[0])


def test_update_top_without_the_others_top_takes_the_venues_top() -> None:
    state = MarketState([market()], [1], [10])
    state.update_top(0, 600_010, 600_020, S, 2, 6)
    assert state.mid_ex_own[0] == state.mid_price[0]
    assert state.microprice_ex_own[0] == (600_010 * 6 + 600_020 * 2) / 8 * TICK
    state.update_top(0, 600_010, 600_020, S, 0, 0)  # sizes unknown: the microprice is the mid
    assert state.microprice_ex_own[0] == state.mid_price[0]


@given(
    sizes=st.lists(st.integers(1, 20), min_size=0, max_size=6),
    ours=st.lists(st.tuples(st.integers(0, 7), st.integers(1, 20), st.integers(0, 19)), max_size=5),
)
def test_others_level_is_the_first_level_with_size_beyond_ours(
    sizes: list[int], ours: list[tuple[int, int, int]]
) -> None:
    """Against a direct count: per level, theirs = venue size − our remaining size there."""
    levels = [(1_000 - i, lots) for i, lots in enumerate(sizes)]  # bids, best first
    orders = []
    for seq, (level, size, filled) in enumerate(ours, start=1):
        order = Order(request(cid(seq), side=Side.BUY, price_ticks=1_000 - level, size_lots=size))
        order.filled_lots = min(filled, size - 1)
        orders.append(order)
    orders.append(Order(request(side=Side.SELL, price_ticks=1_000, size_lots=50)))  # other side
    bids = [o for o in orders if o.request.side is Side.BUY]
    theirs = [
        (price, lots - sum(o.remaining_lots for o in bids if o.request.price_ticks == price))
        for price, lots in levels
    ]
    expected = next(((p, n) for p, n in theirs if n > 0), (0, 0))
    assert others_level(levels, orders, Side.BUY) == expected
