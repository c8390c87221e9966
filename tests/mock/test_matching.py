import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.domain import Side
from connectors.mock.matching import Execution, OrderBook


def _book_with_asks(*levels: tuple[int, int]) -> OrderBook:
    book = OrderBook()
    for i, (price, size) in enumerate(levels, start=1):
        book.rest(i, f"m{i}", Side.SELL, price, size)
    return book


def test_two_orders_at_one_price_fill_in_arrival_order():
    book = OrderBook()
    book.rest(1, "first", Side.SELL, 100, 2)
    book.rest(2, "second", Side.SELL, 100, 3)
    executions, expired = book.take(Side.BUY, 4)
    assert executions == [Execution(1, "first", 100, 2, 0), Execution(2, "second", 100, 2, 1)]
    assert expired == []
    assert book.depth(5) == ((), ((100, 1),))
    assert book.order(1) is None and book.order(2).size_lots == 1


def test_limit_order_fills_across_levels_and_rests_the_remainder():
    book = _book_with_asks((100, 2), (101, 3), (103, 5))
    executions, _, resting = book.submit_limit(10, "taker", Side.BUY, 102, 6)
    assert [(e.price_ticks, e.size_lots) for e in executions] == [(100, 2), (101, 3)]
    assert resting is not None and (resting.price_ticks, resting.size_lots) == (102, 1)
    assert book.best_bid() == 102 and book.best_ask() == 103
    assert book.depth(3) == (((102, 1),), ((103, 5),))


def test_post_only_is_rejected_when_crossing_and_rests_when_not():
    book = _book_with_asks((100, 2))
    version = book.version
    with pytest.raises(ValueError, match="post-only"):
        book.submit_limit(10, "mm", Side.BUY, 100, 1, post_only=True)
    assert book.version == version and book.depth(5) == ((), ((100, 2),))
    executions, _, resting = book.submit_limit(11, "mm", Side.BUY, 99, 1, post_only=True)
    assert executions == [] and resting is not None
    assert book.depth(5) == (((99, 1),), ((100, 2),))


def test_market_order_sweeps_levels_best_first():
    book = OrderBook()
    book.rest(1, "a", Side.BUY, 97, 5)
    book.rest(2, "b", Side.BUY, 99, 3)
    book.rest(3, "c", Side.BUY, 98, 4)
    assert book.sweep_limit(Side.SELL, 10) == 97
    executions, _ = book.take(Side.SELL, 10)
    assert [(e.maker_order_id, e.price_ticks, e.size_lots) for e in executions] == [
        (2, 99, 3),
        (3, 98, 4),
        (1, 97, 3),
    ]
    assert book.depth(5) == (((97, 2),), ())


def test_market_order_larger_than_the_book_takes_everything():
    book = _book_with_asks((100, 2), (101, 3))
    executions, _ = book.take(Side.BUY, 50)
    assert sum(e.size_lots for e in executions) == 5
    assert book.best_ask() is None and len(book) == 0


def test_cancel_keeps_fifo_of_the_others_and_drops_empty_levels():
    book = OrderBook()
    for order_id in (1, 2, 3):
        book.rest(order_id, "o", Side.SELL, 100, order_id)
    book.rest(4, "o", Side.SELL, 101, 7)
    assert book.cancel(2) == 2
    assert book.cancel(2) is None
    assert book.depth(5)[1] == ((100, 4), (101, 7))
    executions, _ = book.take(Side.BUY, 2)
    assert [(e.maker_order_id, e.size_lots) for e in executions] == [(1, 1), (3, 1)]
    assert book.cancel(4) == 7
    assert book.depth(5)[1] == ((100, 2),)


def test_self_trade_prevention_expires_the_takers_own_resting_orders():
    book = OrderBook()
    book.rest(1, "us", Side.SELL, 100, 2)
    book.rest(2, "them", Side.SELL, 100, 2)
    executions, expired = book.take(Side.BUY, 3, 100, stp_owner="us")
    assert [e.maker_order_id for e in executions] == [2]
    assert [o.order_id for o in expired] == [1]
    assert book.order(1) is None and book.best_ask() is None


def test_lazily_cancelled_entries_are_compacted():
    book = OrderBook()
    book.rest(1, "head", Side.BUY, 100, 1)
    for order_id in range(2, 500):
        book.rest(order_id, "churn", Side.BUY, 100, 1)
        book.cancel(order_id)
    assert len(book.bids.levels[100].orders) < 40
    assert book.depth(1) == (((100, 1),), ())


# ---- property: the engine agrees with a naive list-scanning reference ---------------------------


class _ReferenceBook:
    def __init__(self) -> None:
        self.orders: list[list] = []  # [id, side, price, size], arrival order

    def take(self, side: Side, size: int, limit: int | None) -> list[tuple[int, int, int]]:
        fills = []
        while size:
            opposite = [o for o in self.orders if o[1] is side.opposite]
            if side is Side.BUY:
                opposite = [o for o in opposite if limit is None or o[2] <= limit]
                best = min((o[2] for o in opposite), default=None)
            else:
                opposite = [o for o in opposite if limit is None or o[2] >= limit]
                best = max((o[2] for o in opposite), default=None)
            if best is None:
                break
            head = next(o for o in self.orders if o[1] is side.opposite and o[2] == best)
            n = min(size, head[3])
            head[3] -= n
            size -= n
            fills.append((head[0], best, n))
            if head[3] == 0:
                self.orders.remove(head)
        return fills

    def depth(self, side: Side) -> tuple[tuple[int, int], ...]:
        levels: dict[int, int] = {}
        for o in self.orders:
            if o[1] is side:
                levels[o[2]] = levels.get(o[2], 0) + o[3]
        return tuple(sorted(levels.items(), reverse=side is Side.BUY))


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("limit"), st.sampled_from(Side), st.integers(95, 105), st.integers(1, 5)),
        st.tuples(st.just("market"), st.sampled_from(Side), st.just(0), st.integers(1, 12)),
        st.tuples(st.just("cancel"), st.integers(1, 60), st.just(0), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(_ops)
def test_book_matches_a_naive_reference(ops):
    book, reference = OrderBook(), _ReferenceBook()
    for order_id, (kind, a, price, size) in enumerate(ops, start=1):
        if kind == "cancel":
            expected = next((o[3] for o in reference.orders if o[0] == a), None)
            reference.orders = [o for o in reference.orders if o[0] != a]
            assert book.cancel(a) == expected
            continue
        limit = price if kind == "limit" else None
        expected = reference.take(a, size, limit)
        executions, _ = book.take(a, size, limit)
        assert [(e.maker_order_id, e.price_ticks, e.size_lots) for e in executions] == expected
        remaining = size - sum(n for _, _, n in expected)
        if kind == "limit" and remaining:
            book.rest(order_id, "x", a, price, remaining)
            reference.orders.append([order_id, a, price, remaining])
        assert book.depth(100) == (reference.depth(Side.BUY), reference.depth(Side.SELL))
