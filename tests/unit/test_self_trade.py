"""The cross-venue self-trade guard: exactly which new quotes are held back, and when they may go."""

import asyncio
from decimal import Decimal

import pytest

from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import Market, Order, OrderState, Side
from bot.kernel.market_state import MarketState
from bot.kernel.new_order import NewOrder, TimeInForce
from bot.kernel.order_diff import RefreshPolicy
from bot.kernel.order_manager import OrderManager
from bot.kernel.order_sync import requote_market
from bot.kernel.risk import RiskLimits
from bot.kernel.self_trade import TAKER_WAIT_S, SelfTradeGuard, clear_limit, in_the_way, reaches
from bot.kernel.store import Store
from bot.kernel.targets import QuoteTargets
from connectors.mock.venue import MockVenue
from tests.kit import stubs
from tests.kit.mock_market import mock_venue_params as _venue_params

VA = stubs.market(venue="va")
VB = stubs.market(venue="vb", tick_size="0.5")  # a coarser tick
VC = stubs.market(venue="vc")  # in no group


def _order(n: int, m: Market, side: Side, price_ticks: int, state: OrderState, *, ioc: bool = False) -> Order:
    of = stubs.request(f"c{n}", side=side, price_ticks=price_ticks, venue=m.venue, symbol=m.symbol, ioc=ioc)
    return stubs.order(of, state=state)


def _guard() -> tuple[SelfTradeGuard, list[dict[str, Order]], list[int]]:
    slot_orders: list[dict[str, Order]] = [{}, {}, {}]
    guard = SelfTradeGuard([VA, VB, VC], slot_orders)
    released: list[int] = []
    guard.register("owner", [[0, 1]], released.append)
    return guard, slot_orders, released


def test_a_new_quote_at_or_through_our_order_on_the_other_venue_is_held():
    guard, slot_orders, released = _guard()
    on_vb = [
        _order(1, VB, Side.SELL, 120_001, OrderState.OPEN),  # 60000.5
        _order(2, VB, Side.SELL, 120_004, OrderState.PENDING_NEW),  # 60002.0: may already rest
        _order(3, VB, Side.BUY, 119_990, OrderState.PENDING_CANCEL),  # 59995.0: rests until confirmed
        _order(4, VB, Side.SELL, 119_980, OrderState.PENDING_NEW, ioc=True),  # 59990.0: never rests
        _order(5, VB, Side.BUY, 119_000, OrderState.PARTIALLY_FILLED),  # 59500.0
    ]
    slot_orders[1] = {o.client_order_id: o for o in on_vb}
    buy_ok = NewOrder(Side.BUY, 600_004, 5)  # 60000.4 < 60000.5
    buy_at = NewOrder(Side.BUY, 600_005, 5)  # 60000.5: at our ask
    buy_through = NewOrder(Side.BUY, 600_030, 5)  # 60003.0: through both asks
    sell_at = NewOrder(Side.SELL, 599_950, 5)  # 59995.0: at our pending-cancel bid
    sell_ok = NewOrder(Side.SELL, 599_951, 5)
    allowed, held = guard.split(0, [buy_ok, buy_at, buy_through, sell_at, sell_ok])
    assert allowed == [buy_ok, sell_ok]
    assert held == [buy_at, buy_through, sell_at]
    # the other way round, on the coarser tick: vb bids against va's ask at 60000.3 (vb's own
    # orders aside: they hold vb's quotes too, below)
    slot_orders[1] = {}
    slot_orders[0] = {"c9": _order(9, VA, Side.SELL, 600_003, OrderState.OPEN)}
    allowed, held = guard.split(1, [NewOrder(Side.BUY, 120_000, 1), NewOrder(Side.BUY, 120_001, 1)])
    assert (allowed, held) == ([NewOrder(Side.BUY, 120_000, 1)], [NewOrder(Side.BUY, 120_001, 1)])
    # a market in no group is held by nothing but its own orders
    assert guard.split(2, [buy_through]) == ([buy_through], [])
    assert released == []


def test_a_new_quote_never_crosses_our_own_orders_on_its_own_market_whoever_placed_them():
    """Bot-wide, any strategy: vc is in no group; an IOC in flight there (another strategy's
    hedge) holds a quote it would trade against, as does a resting order being cancelled."""
    guard, slot_orders, released = _guard()
    released_vc: list[int] = []
    guard.requote = released_vc.append
    on_vc = [
        _order(1, VC, Side.BUY, 600_100, OrderState.PENDING_NEW, ioc=True),  # a hedge buying to 60010.0
        _order(2, VC, Side.BUY, 599_000, OrderState.PENDING_CANCEL),  # 59900.0, still on the book
        _order(3, VC, Side.SELL, 601_000, OrderState.FILLED),  # gone: holds nothing
    ]
    slot_orders[2] = {o.client_order_id: o for o in on_vc}
    ask_in_ioc = NewOrder(Side.SELL, 600_100, 1)  # 60010.0: the hedge would take it
    ask_ok = NewOrder(Side.SELL, 600_101, 1)
    bid_ok = NewOrder(Side.BUY, 600_099, 1)  # same side as the hedge: no conflict
    assert guard.split(2, [ask_in_ioc, ask_ok, bid_ok]) == ([ask_ok, bid_ok], [ask_in_ioc])
    del slot_orders[2]["c1"]  # the hedge is done: the held market requotes through the engine
    guard.order_closed(2)
    assert (released_vc, released) == ([2], [])
    assert guard.split(2, [ask_in_ioc]) == ([ask_in_ioc], [])
    assert guard.split(2, [NewOrder(Side.SELL, 599_000, 1)]) == ([], [NewOrder(Side.SELL, 599_000, 1)])
    # a grouped market's own orders hold it as well: va's ask blocks va's new bid
    slot_orders[0] = {"c9": _order(9, VA, Side.SELL, 600_003, OrderState.OPEN)}
    assert guard.split(0, [NewOrder(Side.BUY, 600_003, 1)]) == ([], [NewOrder(Side.BUY, 600_003, 1)])


def test_a_taker_cancels_what_is_in_its_way_and_caps_its_limit_short_of_what_is_left():
    ours = [
        _order(1, VC, Side.SELL, 600_010, OrderState.OPEN),  # in the way of a buy to 600_020
        _order(2, VC, Side.SELL, 600_015, OrderState.PARTIALLY_FILLED),  # in the way
        _order(3, VC, Side.SELL, 600_005, OrderState.PENDING_NEW),  # may rest: cannot cancel it yet
        _order(4, VC, Side.SELL, 600_008, OrderState.PENDING_CANCEL),  # its cancel is under way
        _order(5, VC, Side.SELL, 600_030, OrderState.OPEN),  # beyond the limit
        _order(6, VC, Side.BUY, 599_000, OrderState.OPEN),  # same side
        _order(7, VC, Side.SELL, 600_001, OrderState.PENDING_NEW, ioc=True),  # never rests
    ]
    assert [o.client_order_id for o in in_the_way(Side.BUY, 600_020, ours)] == ["c1", "c2"]
    assert clear_limit(Side.BUY, 600_020, ours) == 600_004  # one tick short of the pending-new ask
    assert clear_limit(Side.BUY, 600_004, ours) == 600_004
    assert clear_limit(Side.SELL, 598_000, ours) == 599_001
    assert in_the_way(Side.SELL, 599_001, ours) == []
    assert clear_limit(Side.BUY, 5, [_order(8, VC, Side.SELL, 1, OrderState.OPEN)]) is None
    assert [reaches(Side.BUY, 10, p) for p in (9, 10, 11)] == [True, True, False]
    assert [reaches(Side.SELL, 10, p) for p in (9, 10, 11)] == [False, True, True]


def test_make_way_reserves_the_market_for_the_taker_until_its_cancels_are_done():
    """While our quote in a hedge's way is being cancelled, the quoting strategy's requote of that
    market (it just lost its order) must not put a crossing quote back."""
    guard, slot_orders, _ = _guard()
    released_vc: list[int] = []
    guard.requote = released_vc.append
    slot_orders[2] = {"c1": _order(1, VC, Side.SELL, 600_010, OrderState.OPEN)}
    hedge = NewOrder(Side.BUY, 600_020, 3, TimeInForce.IOC)
    seen: dict[str, object] = {}

    async def cancel(order: Order) -> None:
        await asyncio.sleep(0.1)  # the venue answers later; a requote runs meanwhile
        seen["requote"] = guard.split(2, [NewOrder(Side.SELL, 600_010, 1), NewOrder(Side.SELL, 600_021, 1)])
        order.transition(OrderState.CANCELLED, 1)
        del slot_orders[2][order.client_order_id]

    async def main() -> list[NewOrder]:
        return await guard.make_way(2, [hedge], cancel)

    assert run_simulated(main) == [hedge]  # nothing left in the way: sent as asked
    assert seen["requote"] == ([NewOrder(Side.SELL, 600_021, 1)], [NewOrder(Side.SELL, 600_010, 1)])
    assert released_vc == [2]  # the reservation ended: the held quote is asked again
    assert (guard.cancelled_for_takers, guard.capped_takers) == (1, 0)
    # a cancel that fails leaves the quote on the book: the hedge is capped one tick short of it
    slot_orders[2] = {"c2": _order(2, VC, Side.SELL, 600_010, OrderState.OPEN)}

    async def failing(order: Order) -> None:
        return None

    async def again() -> list[NewOrder]:
        return await guard.make_way(2, [hedge, NewOrder(Side.SELL, 700_000, 1)], failing)

    assert run_simulated(again) == [
        NewOrder(Side.BUY, 600_009, 3, TimeInForce.IOC),
        NewOrder(Side.SELL, 700_000, 1),
    ]
    assert (guard.cancelled_for_takers, guard.capped_takers) == (2, 1)


def test_a_held_slot_is_released_once_when_an_order_of_the_other_venue_closes():
    guard, slot_orders, released = _guard()
    slot_orders[1] = {"c1": _order(1, VB, Side.SELL, 120_001, OrderState.OPEN)}
    guard.split(0, [NewOrder(Side.BUY, 600_005, 1)])  # held
    slot_orders[1] = {}
    guard.order_closed(1)
    guard.order_closed(1)
    assert released == [0]
    # a later sync that holds nothing clears the wait: no spurious release
    slot_orders[1] = {"c1": _order(1, VB, Side.SELL, 120_001, OrderState.OPEN)}
    guard.split(0, [NewOrder(Side.BUY, 600_005, 1)])
    guard.split(0, [NewOrder(Side.BUY, 600_000, 1)])
    guard.order_closed(1)
    assert released == [0]


def test_groups_leave_with_their_owner_and_a_new_owner_takes_a_slot_over():
    guard, slot_orders, released = _guard()
    guard.register("single", [[2]], released.append)  # one venue: nothing to keep apart
    assert guard.group_of(2) == ()
    slot_orders[1] = {"c1": _order(1, VB, Side.SELL, 120_001, OrderState.OPEN)}
    buy_at = NewOrder(Side.BUY, 600_005, 1)
    assert guard.split(0, [buy_at]) == ([], [buy_at])
    # a reload moved vb to a new strategy before the old one unregistered: vb leaves the old group
    guard.register("new", [[1, 2]], released.append)
    assert (guard.group_of(0), guard.group_of(1)) == ((0,), (1, 2))
    assert guard.split(0, [buy_at]) == ([buy_at], [])
    guard.unregister("owner")  # the outgoing owner takes only what is still its own
    assert (guard.group_of(0), guard.group_of(1)) == ((), (1, 2))
    slot_orders[2] = {"c2": _order(2, VC, Side.BUY, 600_100, OrderState.OPEN)}
    assert guard.split(1, [NewOrder(Side.SELL, 120_020, 1)]) == ([], [NewOrder(Side.SELL, 120_020, 1)])
    guard.unregister("new")
    assert guard.split(1, [NewOrder(Side.SELL, 120_020, 1)]) == ([NewOrder(Side.SELL, 120_020, 1)], [])
    assert released == []


def test_order_manager_holds_a_crossing_quote_until_the_other_venue_moves(tmp_path):
    """Through the order manager on two mock venues: what reaches each venue, and when."""
    policy = RefreshPolicy(0, 0.0, 10**12)

    async def main():
        clock = LoopClock()
        venues = {
            "va": MockVenue("va", _venue_params("va", "0.1", 1), clock),
            "vb": MockVenue("vb", _venue_params("vb", "0.5", 2), clock),
        }
        for venue in venues.values():
            await venue.connect()
        markets = [venues[name].exchange.markets["BTC/USDT"] for name in ("va", "vb")]
        state = MarketState(markets, [5, 5], [100, 100])
        limits = RiskLimits(Decimal(10_000), Decimal(100_000), 10)
        orders = OrderManager("t1", venues, state, Store(f"sqlite:///{tmp_path}/s.sqlite"), clock, limits, 1)
        for name, venue in venues.items():
            orders.apply_balances(name, await venue.fetch_balances())
        released: list[int] = []
        orders.self_trade.register("mm", [[0, 1]], released.append)

        async def resting(name: str) -> list[tuple[str, str]]:
            tick = venues[name].exchange.markets["BTC/USDT"].tick_size
            return sorted(
                (o.side.value, str(o.price_ticks * tick))
                for o in await venues[name].fetch_open_orders("BTC/USDT")
            )

        def sync(slot: int, bids=(), asks=()):
            targets = QuoteTargets.one_market(bids=bids, asks=asks)
            return requote_market(orders, slot, targets, policy, clock.now_ns())

        # vb rests an ask at 60000.5; va wants bids at 60000.5 (at it) and 60000.0
        await sync(1, asks=[(120_001, 5)])
        bids = [(600_005, 5), (600_000, 5)]
        await sync(0, bids)
        first = (await resting("va"), orders.counters.self_trade_held, list(released))
        # vb moves its ask up (cancel + new): the cancel closing releases va, whose next sync places it
        await sync(1, asks=[(120_010, 5)])
        after_move = list(released)
        await sync(0, bids)
        second = await resting("va")
        # two syncs started together that would cross: the first one's new bid, tracked before
        # any await, holds the second one's ask back
        await asyncio.gather(sync(0, [*bids, (600_040, 5)]), sync(1, asks=[(120_008, 5)]))
        third = (await resting("va"), await resting("vb"), orders.counters.self_trade_held)
        # single orders go through the same submit: vb may sell IOC through va's bids (it never
        # rests), while the same price as a resting order is held back
        ioc = await orders.submit(1, [NewOrder(Side.SELL, 119_990, 1, TimeInForce.IOC)])
        gtc = await orders.submit(1, [NewOrder(Side.SELL, 119_990, 1, TimeInForce.GTC)])
        fourth = ([o.request.immediate_or_cancel for o in ioc], gtc, orders.counters.self_trade_held)
        for venue in venues.values():
            await venue.close()
        return first, after_move, second, third, fourth

    first, after_move, second, third, fourth = run_simulated(main)
    assert first == ([("buy", "60000.0")], 1, [])
    assert after_move == [0]
    assert second == [("buy", "60000.0"), ("buy", "60000.5")]
    assert third == (
        [("buy", "60000.0"), ("buy", "60000.5"), ("buy", "60004.0")],
        [],  # its ask at 60004.0 was held back, its previous ask (60005.0) cancelled
        2,
    )
    assert fourth == ([True], [], 3)


def test_a_hedge_never_trades_with_another_strategys_quote_on_its_own_market(tmp_path):
    """#22 item 6 on one mock venue: strategy A rests an ask inside the book; another strategy's
    IOC buy (an XEMM hedge) goes through its price. The ask is cancelled first, A's requote
    meanwhile is held back, the hedge fills on the other participants' asks, and the venue's own
    self-trade prevention never has to act (before: it expired A's ask as the hedge arrived)."""
    policy = RefreshPolicy(0, 0.0, 10**12)
    ask = QuoteTargets.one_market(asks=[(600_030, 2)])  # 60003.0: inside the background's 60060.1

    async def main():
        clock = LoopClock()
        vb = MockVenue("vb", _venue_params("vb", "0.1", 2), clock)
        await vb.connect()
        state = MarketState([vb.exchange.markets["BTC/USDT"]], [5], [100])
        limits = RiskLimits(Decimal(10_000), Decimal(100_000), 10)
        orders = OrderManager(
            "t1", {"vb": vb}, state, Store(f"sqlite:///{tmp_path}/s.sqlite"), clock, limits, 1
        )
        orders.apply_balances("vb", await vb.fetch_balances())
        requoted: list[int] = []
        orders.self_trade.requote = requoted.append
        await requote_market(orders, 0, ask, policy, clock.now_ns())
        quote = orders.orders_of(0)[0]

        async def a_requotes_while_the_hedge_waits() -> None:
            await asyncio.sleep(0.005)  # the cancel of its ask is on its way
            await requote_market(orders, 0, ask, policy, clock.now_ns())

        hedge_ioc = NewOrder(Side.BUY, 601_200, 3, TimeInForce.IOC)  # up to 60120.0
        sent, _ = await asyncio.gather(orders.submit(0, [hedge_ioc]), a_requotes_while_the_hedge_waits())
        hedge = sent[0]
        during = (hedge.state, hedge.filled_lots, quote.state, quote.reason, orders.counters.self_trade_held)
        released = list(requoted)
        await requote_market(orders, 0, ask, policy, clock.now_ns())  # the release's requote
        resting = [(o.side, o.price_ticks) for o in await vb.fetch_open_orders("BTC/USDT")]
        fills = [
            (f.client_order_id, f.side, f.price_ticks, f.is_maker) for f in vb.exchange.fills(vb.account_id)
        ]
        counts = (orders.self_trade.cancelled_for_takers, orders.self_trade.capped_takers)
        await vb.close()
        return during, released, resting, fills, counts, hedge.client_order_id

    during, released, resting, fills, counts, hedge_id = run_simulated(main)
    assert during == (OrderState.FILLED, 3, OrderState.CANCELLED, None, 1)  # not expired by the venue
    assert released == [0]
    assert resting == [(Side.SELL, 600_030)]  # A's ask is back once the hedge is done
    assert fills == [(hedge_id, Side.BUY, 600_601, False)]  # no fill with ourselves on either side
    assert counts == (1, 0)


def test_a_taker_waits_for_our_pending_orders_in_its_way_then_caps_short_of_what_never_answered():
    guard, slot_orders, _ = _guard()
    hedge = NewOrder(Side.BUY, 600_020, 3, TimeInForce.IOC)
    cancelled: list[str] = []

    async def cancel(order: Order) -> None:
        cancelled.append(order.client_order_id)
        await asyncio.sleep(0.04)
        order.transition(OrderState.CANCELLED, 1)
        del slot_orders[2][order.client_order_id]
        guard.order_closed(2)

    async def acked_later(order: Order, after_s: float) -> None:
        await asyncio.sleep(after_s)
        order.transition(OrderState.OPEN, 1)
        guard.order_moved(2)

    async def main() -> tuple[list[NewOrder], float, list[NewOrder], float]:
        loop = asyncio.get_running_loop()
        # a quote sent just before the hedge: cancelled as soon as the venue acknowledged it
        quote = _order(1, VC, Side.SELL, 600_010, OrderState.PENDING_NEW)
        slot_orders[2] = {quote.client_order_id: quote}
        started = loop.time()
        ack = asyncio.create_task(acked_later(quote, 0.02))
        first = await guard.make_way(2, [hedge], cancel)
        first_s = loop.time() - started
        await ack
        # one the venue never acknowledges: the hedge goes after TAKER_WAIT_S, short of it
        slot_orders[2] = {"c2": _order(2, VC, Side.SELL, 600_010, OrderState.PENDING_NEW)}
        started = loop.time()
        second = await guard.make_way(2, [hedge], cancel)
        return first, first_s, second, loop.time() - started

    first, first_s, second, second_s = run_simulated(main)
    assert (first, cancelled) == ([hedge], ["c1"])
    assert first_s == pytest.approx(0.06)  # its ack, then our cancel's round trip
    assert second == [NewOrder(Side.BUY, 600_009, 3, TimeInForce.IOC)]
    assert second_s == pytest.approx(TAKER_WAIT_S)
    assert (guard.cancelled_for_takers, guard.capped_takers) == (1, 1)


def test_two_takers_waiting_on_one_market_both_go_on_when_our_order_moves():
    guard, slot_orders, _ = _guard()
    quote = _order(1, VC, Side.SELL, 600_010, OrderState.PENDING_CANCEL)  # another sync cancels it
    slot_orders[2] = {quote.client_order_id: quote}

    async def never(order: Order) -> None:
        raise AssertionError("a pending cancel is waited for, not cancelled again")

    async def cancel_confirmed() -> None:
        await asyncio.sleep(0.03)
        quote.transition(OrderState.CANCELLED, 1)
        del slot_orders[2][quote.client_order_id]
        guard.order_closed(2)

    async def main() -> tuple[list[list[NewOrder]], float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        hedges = [
            NewOrder(Side.BUY, 600_020, 1, TimeInForce.IOC),
            NewOrder(Side.BUY, 600_030, 2, TimeInForce.IOC),
        ]
        *sent, _ = await asyncio.gather(
            guard.make_way(2, [hedges[0]], never), guard.make_way(2, [hedges[1]], never), cancel_confirmed()
        )
        return sent, loop.time() - started

    sent, elapsed_s = run_simulated(main)
    assert sent == [
        [NewOrder(Side.BUY, 600_020, 1, TimeInForce.IOC)],
        [NewOrder(Side.BUY, 600_030, 2, TimeInForce.IOC)],
    ]
    assert elapsed_s == pytest.approx(0.03)  # both went on when the cancel was confirmed
    assert (guard.cancelled_for_takers, guard.capped_takers) == (0, 0)
