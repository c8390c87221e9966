"""The LP hedger's orders know their direction: a hedge that moves the combined position (LP delta
+ CEX position) toward zero passes the hedge market's max_position even as the CEX position grows
past it; one that adds to the combined position is still refused (a real mock venue, order
manager and simulated pool, on the simulated clock)."""

import asyncio
from decimal import Decimal

from amm.math.conversions import price_to_sqrt_price_x96
from amm.ports import TokenInfo
from amm.sim.pool import SimulatedPool
from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import Market, Side
from bot.kernel.context import BotContext
from bot.kernel.lp_store import LpStore
from bot.kernel.market_state import MarketState
from bot.kernel.new_order import NewOrder, TimeInForce
from connectors.mock.venue import MockVenue
from strategies.lp.hedger import Hedger, HedgerParams
from tests.kit.mock_market import mock_market, mock_venue_params

MAX_POSITION_LOTS = 10  # 0.010 BTC on vb:BTC/USDT (lots of 0.001)
SHORT_LOTS = -10  # the hedge already holds it: at the limit


def hedger_params() -> HedgerParams:
    return HedgerParams(
        kind="hedger", market="vb:BTC/USDT", pools=["uni"], band=0.001, min_trade_size=0.001,
        check_interval_s=1.0, maker_timeout_s=1.0, taker_slippage_bps=20.0,
    )  # fmt: skip


async def hedge_setup(tmp_path, wallet_btc: str):
    """A hedger whose pool wallet holds `wallet_btc` idle (its LP delta), short SHORT_LOTS on vb."""
    clock = LoopClock()
    venue = MockVenue("vb", mock_venue_params("vb", "0.1", 1), clock)
    m = await mock_market(venue, tmp_path, max_position_lots=MAX_POSITION_LOTS)
    state, store, orders, engine = m.state, m.store, m.orders, m.engine
    assert engine is not None
    state.position_lots[0] = SHORT_LOTS
    pool = SimulatedPool(
        TokenInfo("sim:BTC", "BTC", 8), TokenInfo("sim:USDT", "USDT", 6), 3000,
        price_to_sqrt_price_x96(60_000.0, 8, 6), clock=clock, wallet0=int(Decimal(wallet_btc) * 10**8),
    )  # fmt: skip
    ctx = BotContext(clock, store, {"vb": venue}, state, orders, engine, pools={"uni": pool})
    hedger = Hedger("hedge", hedger_params())
    hedger._ctx, hedger._store, hedger._slot = ctx, LpStore(store), 0
    engine.listeners.append(hedger.on_event)
    return venue, state, orders, hedger


def test_a_hedge_that_shrinks_the_combined_position_passes_the_max_position_it_crosses(tmp_path):
    """LP delta +0.015 BTC (idle pool wallet), CEX short 0.010 at its max_position: the hedger sells
    5 lots, the CEX position goes to -15 lots, the combined one from +5 to 0."""

    async def main():
        venue, state, orders, hedger = await hedge_setup(tmp_path, "0.015")
        touch = int(state.best_ask_ticks[0])
        # what the hedger sent before it marked its orders: refused by the limit it crosses
        plain = await orders.submit(0, [NewOrder(Side.SELL, touch, 5, TimeInForce.POST_ONLY)])
        refused_before = dict(orders.refusals.by_limit)
        await hedger.rebalance()  # post-only at the touch for 1 s, then the rest crosses
        await asyncio.sleep(0.5)
        out = plain, refused_before, int(state.position_lots[0]), hedger.combined_lots(), hedger.book.trades
        await venue.close()
        return out, dict(orders.refusals.by_limit), round(hedger.book.position, 9)

    (plain, refused_before, position, combined, trades), refusals, hedged = run_simulated(main)
    assert plain == [] and refused_before == {"max_position": 1}
    assert refusals == {"max_position": 1}  # the hedger's own orders: none refused
    assert trades >= 1 and hedged == -0.005
    assert position == SHORT_LOTS - 5 and combined == 0


def test_a_hedge_that_adds_to_the_combined_position_is_still_refused(tmp_path):
    """The hedger measured LP delta +0.005 BTC; since then a fill of another strategy took the CEX
    position to -10 lots (combined -5): its remaining sell of 5 would take the combined position to
    -10, so it is not marked and the max_position it crosses refuses it; a buy (toward zero) passes."""

    async def main():
        venue, state, orders, hedger = await hedge_setup(tmp_path, "0.005")
        hedger.last_lp_delta = await hedger.lp_delta()
        touch = int(state.best_ask_ticks[0])
        sell = hedger.hedge_order(Side.SELL, touch, 5, TimeInForce.POST_ONLY)
        buy = hedger.hedge_order(Side.BUY, int(state.best_bid_ticks[0]), 5, TimeInForce.POST_ONLY)
        sent = await orders.submit(0, [sell])
        out = hedger.combined_lots(), sell.reduces_exposure, buy.reduces_exposure, sent
        await venue.close()
        return out, dict(orders.refusals.by_limit)

    (combined, sell_reduces, buy_reduces, sent), refusals = run_simulated(main)
    assert combined == -5 and (sell_reduces, buy_reduces) == (False, True)
    assert sent == [] and refusals == {"max_position": 1}


def test_an_order_marked_reducing_never_adds_to_the_combined_position():
    """Combined +5.5 lots (LP 0.0155 BTC, CEX -10 lots) counts as 5: a sell of 9 is marked, one of
    11 (|5.5 - 11| = 5.5, not less) is not; no size is ever marked that does not truly reduce."""
    market = Market("vb", "BTC/USDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"), Decimal("5"))
    state = MarketState([market], [5], [MAX_POSITION_LOTS])
    state.position_lots[0] = SHORT_LOTS
    hedger = Hedger("hedge", hedger_params())
    hedger._ctx, hedger._slot = BotContext(None, None, {}, state, None, None), 0
    for lp_btc in ("0.0155", "0.0150", "0.0159", "0.0101", "0.0099"):
        hedger.last_lp_delta = float(lp_btc)
        combined = Decimal(lp_btc) / market.lot_size + SHORT_LOTS
        for size in range(1, 25):
            marked = hedger.hedge_order(Side.SELL, 1, size, TimeInForce.IOC).reduces_exposure
            assert not marked or abs(combined - size) < abs(combined), (lp_btc, size)
    hedger.last_lp_delta = 0.0155
    assert hedger.combined_lots() == 5
    marked = {q: hedger.hedge_order(Side.SELL, 1, q, TimeInForce.IOC).reduces_exposure for q in (9, 11)}
    assert marked == {9: True, 11: False}
