"""The cross-venue self-trade guard: exactly which new quotes are held back, and when they may go."""

import asyncio
from decimal import Decimal

from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import Market, Order, OrderState, Side
from bot.kernel.engine import requote_market
from bot.kernel.market_state import MarketState
from bot.kernel.new_order import NewOrder, TimeInForce
from bot.kernel.order_diff import RefreshPolicy
from bot.kernel.order_manager import OrderManager
from bot.kernel.risk import RiskLimits
from bot.kernel.self_trade import SelfTradeGuard
from bot.kernel.store import Store
from bot.kernel.targets import QuoteTargets
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import MockVenue
from tests.kit import stubs

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
    # the other way round, on the coarser tick: vb bids against va's ask at 60000.3
    slot_orders[0] = {"c9": _order(9, VA, Side.SELL, 600_003, OrderState.OPEN)}
    allowed, held = guard.split(1, [NewOrder(Side.BUY, 120_000, 1), NewOrder(Side.BUY, 120_001, 1)])
    assert (allowed, held) == ([NewOrder(Side.BUY, 120_000, 1)], [NewOrder(Side.BUY, 120_001, 1)])
    # a market in no group is never held; a slot's own orders never hold its quotes back
    assert guard.split(2, [buy_through]) == ([buy_through], [])
    slot_orders[1] = {}
    assert guard.split(0, [NewOrder(Side.BUY, 600_004, 1)]) == ([NewOrder(Side.BUY, 600_004, 1)], [])
    assert released == []


def test_a_held_slot_is_released_once_when_an_order_of_the_other_venue_closes():
    guard, slot_orders, released = _guard()
    slot_orders[1] = {"c1": _order(1, VB, Side.SELL, 120_001, OrderState.OPEN)}
    guard.split(0, [NewOrder(Side.BUY, 600_005, 1)])  # held
    guard.order_closed(0)  # its own venue's orders do not change its conflicts
    assert released == []
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


def _venue_params(name: str, tick: str, seed: int) -> MockVenueParams:
    return MockVenueParams.model_validate(
        {
            "kind": "mock",
            "seed": seed,
            "initial_balances": {"USDT": "100000", "BTC": "1"},
            "markets": [
                {
                    "symbol": "BTC/USDT",
                    "tick_size": tick,
                    "lot_size": "0.001",
                    "initial_price": "60000",
                    "volatility_annual": 0,
                    "noise_taker_rate_per_s": 0,
                    "informed_taker_rate_per_s": 0,
                    "liquidity_refresh_rate_per_s": 0,
                    "book_spread_bps": 10,
                }
            ],
        }
    )


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
