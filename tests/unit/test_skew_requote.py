"""Skew that acts (issue #15, item 5): the refresh tolerance never swallows a skew change.

A skew change comes from the inventory: after a fill, every order whose target moved by a tick
or more is replaced; mid noise between fills stays absorbed by the tolerance, which itself never
exceeds a fraction of the quoted half spread.
"""

import asyncio
from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bot.core.clock import FixedClock
from bot.core.domain import Order, Side
from bot.kernel.controls import QuotingControls
from bot.kernel.engine import QuotingStrategy
from bot.kernel.market_state import MarketState
from bot.kernel.new_order import NewOrder
from bot.kernel.order_diff import RefreshPolicy, diff_orders, effective_tolerance_ticks
from bot.kernel.order_manager import OrderManager
from bot.kernel.order_sync import requote_market
from bot.kernel.risk import RiskLimits
from bot.kernel.store import Store
from bot.kernel.targets import QuoteTargets
from tests.kit import stubs
from tests.kit.fake_venue import FakeVenue

AGE_NS = 60 * 10**9


def live(cid: str, side: Side, price: int, size: int = 10) -> Order:
    return stubs.order(stubs.request(cid, side=side, price_ticks=price, size_lots=size))


def quotes(center: int, half: int, size: int = 10) -> QuoteTargets:
    return QuoteTargets.one_market(bids=[(center - half, size)], asks=[(center + half, size)])


@given(
    tolerance=st.integers(0, 200),
    half=st.integers(1, 400),
    fraction=st.sampled_from([0.25, 0.5, 1.0]),
    skew=st.integers(-300, 300).filter(lambda n: n != 0),
)
def test_a_skew_change_of_n_ticks_after_a_fill_always_moves_both_orders(tolerance, half, fraction, skew):
    orders = [live("b", Side.BUY, 10_000 - half), live("a", Side.SELL, 10_000 + half)]
    policy = RefreshPolicy(tolerance, 0.5, AGE_NS, fraction, inventory_changed=True)
    d = diff_orders(orders, quotes(10_000 + skew, half), policy, now_ns=1)
    assert d.keep == ()
    assert sorted(o.client_order_id for o in d.cancel) == ["a", "b"]
    assert d.place == (
        NewOrder(Side.BUY, 10_000 + skew - half, 10),
        NewOrder(Side.SELL, 10_000 + skew + half, 10),
    )


@given(
    tolerance=st.integers(0, 200),
    half=st.integers(1, 400),
    fraction=st.sampled_from([0.25, 0.5, 1.0]),
    data=st.data(),
)
def test_noise_within_the_tolerance_moves_nothing_and_beyond_it_moves_the_order(
    tolerance, half, fraction, data
):
    cap = min(tolerance, int(fraction * half))
    noise = data.draw(st.integers(-cap, cap))
    orders = [live("b", Side.BUY, 10_000 - half), live("a", Side.SELL, 10_000 + half)]
    policy = RefreshPolicy(tolerance, 0.5, AGE_NS, fraction)
    assert effective_tolerance_ticks(quotes(10_000 + noise, half), policy) == cap
    d = diff_orders(orders, quotes(10_000 + noise, half), policy, now_ns=1)
    assert [o.client_order_id for o in d.keep] == ["b", "a"] and d.place == () and d.cancel == ()
    beyond = diff_orders(orders, quotes(10_000 + cap + 1, half), policy, now_ns=1)
    assert beyond.keep == () and len(beyond.place) == 2


def test_the_tolerance_is_capped_at_a_fraction_of_the_half_spread():
    # 1.5 bps at 60 000 with tick 0.1 is 90 ticks; a 1 bps half spread is 60 ticks: half of it
    policy = RefreshPolicy(90, 0.5, AGE_NS, 0.5)
    assert effective_tolerance_ticks(quotes(600_000, 60), policy) == 30
    assert effective_tolerance_ticks(quotes(600_000, 300), policy) == 90  # wide: the configured one
    one_sided = QuoteTargets.one_market(asks=[(600_060, 10)])
    assert effective_tolerance_ticks(one_sided, policy) == 90
    assert effective_tolerance_ticks(quotes(600_000, 60), RefreshPolicy(90, 0.5, AGE_NS)) == 90
    # the nearest quoted levels define the spread, empty levels do not
    ladder = QuoteTargets.one_market(bids=[(599_900, 0), (599_800, 5)], asks=[(600_100, 5), (600_200, 5)])
    assert effective_tolerance_ticks(ladder, policy) == 75  # (600 100 - 599 800) / 2 * 0.5


def test_requote_policy_is_exact_once_after_each_position_change():
    controls = QuotingControls(markets=["va:BTC/USDT"], refresh_tolerance_bps=1.5)
    qs = QuotingStrategy(strategy=None, controls=controls)  # type: ignore[arg-type]
    state = MarketState([stubs.market()], [10], [100])
    state.update_top(0, 599_990, 600_010, 0)
    first = qs.requote_policy(state, 0)
    assert first.inventory_changed and first.refresh_tolerance_ticks == 90
    assert first.tolerance_half_spread_fraction == 0.5
    assert not qs.requote_policy(state, 0).inventory_changed
    state.position_lots[0] = 10
    assert qs.requote_policy(state, 0).inventory_changed
    assert not qs.requote_policy(state, 0).inventory_changed
    off = QuotingStrategy(None, controls.model_copy(update={"requote_on_inventory_change": False}))  # type: ignore[arg-type]
    assert not off.requote_policy(state, 0).inventory_changed


class SkewedQuotes:
    """Quotes 60 000 ± 3 bps (180 ticks) around a reservation 1 tick lower per lot held:
    a skew far below the 1.5 bps (90 ticks) refresh tolerance."""

    name = "skewed"
    slots = np.array([0], dtype=np.int64)

    def __init__(self) -> None:
        self.center = stubs.PRICE_TICKS

    def targets(self, state: MarketState, now_ns: int) -> QuoteTargets:
        center = self.center - int(state.position_lots[0])
        return quotes(center, 180, size=5)


def test_through_the_order_manager_a_fill_moves_the_quotes_and_mid_noise_does_not(tmp_path):
    async def main() -> list[list[tuple[str, int]]]:
        clock = FixedClock(1)
        venue = FakeVenue(clock=clock)
        await venue.connect()
        state = MarketState([stubs.market()], [5], [100])
        store = Store(f"sqlite:///{tmp_path}/s.sqlite")
        orders = OrderManager(
            "t1", {"va": venue}, state, store, clock, RiskLimits(Decimal(10**6), Decimal(10**7), 10), 1
        )
        orders.apply_balances("va", await venue.fetch_balances())

        def sink(event: object) -> None:
            if hasattr(event, "fill"):
                orders.apply_fill(event.fill)  # type: ignore[attr-defined]

        await venue.start_streams(["BTC/USDT"], sink)
        controls = QuotingControls(markets=["va:BTC/USDT"], refresh_tolerance_bps=1.5)
        strategy = SkewedQuotes()
        qs = QuotingStrategy(strategy, controls)  # type: ignore[arg-type]
        state.update_top(0, stubs.PRICE_TICKS - 500, stubs.PRICE_TICKS + 500, 0)
        seen: list[list[tuple[str, int]]] = []

        async def round_() -> None:
            clock.advance_ns(10**6)
            await requote_market(orders, 0, strategy.targets(state, 0), qs.requote_policy(state, 0), 0)
            seen.append(sorted((o.request.side.value, o.request.price_ticks) for o in orders.orders_of(0)))

        await round_()  # first quotes
        strategy.center += 40  # the mid moves 40 ticks: noise within the tolerance
        await round_()
        bid = next(o for o in orders.orders_of(0) if o.request.side is Side.BUY)
        venue.fill(bid.client_order_id, 2)  # bought 2 lots: the skew moves 2 ticks down
        await asyncio.sleep(0)  # the venue delivers its events on the next loop turn
        assert int(state.position_lots[0]) == 2
        await round_()
        await round_()  # nothing changed since: nothing moves
        store.close()
        return seen

    seen = asyncio.run(main())
    p = stubs.PRICE_TICKS
    assert seen[0] == [("buy", p - 180), ("sell", p + 180)]
    assert seen[1] == seen[0]  # 40 ticks of noise < min(90, 0.5 x 180): kept
    # after the fill: both sides at the exact target (center + 40 - 2)
    assert seen[2] == [("buy", p + 40 - 2 - 180), ("sell", p + 40 - 2 + 180)]
    assert seen[3] == seen[2]
