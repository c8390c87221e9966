"""XEMM's hedge obligations under faults (fake venues, simulated clock): never naked, never twice.

Each scenario checks the ledger (`Scenario.check_ledger`: one obligation per maker fill, settled
only by real hedge fills or an opposite maker fill, hedge fills summing to them), the true net
position across both venues at the end (within one taker lot of zero), and that a naked interval
longer than the escalation bound raised an alert.
"""

import asyncio
import json
from decimal import Decimal

from bot.core.clock import run_simulated
from bot.core.domain import Side
from bot.kernel.reconcile import reconcile_periodic
from connectors.base import AuthError, OrderRejected, RateLimited
from tests.xvenue.hedge_kit import PRICE, Scenario

LOT = Decimal("0.001")


def _url(tmp_path):
    return f"sqlite:///{tmp_path}/bot.sqlite"


def test_unknown_outcome_blocks_the_next_hedge_until_the_venue_says(tmp_path):
    """The taker executes the hedge but its answer is lost, lookups fail for 3 s and the user
    stream is silent: exactly one hedge order, settled from the venue once it answers."""

    async def main():
        s = Scenario(_url(tmp_path))
        await s.start()
        s.taker.lose_answers, s.taker.silent = 1, True
        s.taker.lookups_down_until = asyncio.get_running_loop().time() + 3.0
        await s.fill_maker(Side.BUY, 5)
        await asyncio.sleep(6)
        await s.stop()
        return s

    s = run_simulated(main)
    s.check_ledger()
    assert s.taker.placed == 1  # one hedge, not one per retry
    (hedge,) = s.hedges()
    assert (hedge.outcome, hedge.filled_lots, hedge.booked_lots) == ("known", 5, 5)
    (o,) = s.obligations()
    assert o.status == "hedged" and Decimal(o.hedged_base) == 5 * LOT
    assert s.net_base == 0 and s.exposure.max_abs <= 5 * LOT
    # the bot could not know it was flat for 3 s: longer than the 2 s bound, so it alerted
    (alert,) = [json.loads(a) for a in s.alerts()]
    assert alert["reason"] == "xemm_hedge_escalated" and alert["unhedged_base"] == "0.005"
    print("unknown outcome:", s.figures())


def test_maker_fills_found_by_reconciliation_are_hedged(tmp_path):
    """Maker fills made while the bot was down (before XEMM saw any fill, and later): found by
    the start-up reconciliation, which runs before XEMM, and hedged when XEMM starts; one the
    stream never brought: found by the periodic REST catch-up and hedged at once."""

    async def main():
        s = Scenario(_url(tmp_path))
        await s.start()
        cid = (await s.orders.submit(0, [_post_only(Side.BUY, 2)]))[0].client_order_id
        await s.stop()  # a crash before XEMM ever saw a fill; the order fills while it is down
        s.maker.fill(cid)
        await s.start()
        s.maker.silent = True
        await s.fill_maker(Side.SELL, 3)
        await asyncio.sleep(0.5)
        assert [o.maker_side for o in s.obligations()] == ["buy"]  # the sell not seen yet
        await reconcile_periodic(s.ctx.venues, s.store, s.orders, s.clock, "t1", sink=s.engine.on_event)
        await asyncio.sleep(0.5)
        hedged_live = s.net_base
        cid = (await s.orders.submit(0, [_post_only(Side.BUY, 4)]))[0].client_order_id
        await s.stop()  # a crash; the resting order fills while the bot is down
        s.maker.fill(cid)
        await asyncio.sleep(1)
        s.maker.silent = False
        await s.start()  # reconciliation stores the fill, then XEMM finds it in the store
        await asyncio.sleep(1)
        await s.stop()
        return s, hedged_live

    s, hedged_live = run_simulated(main)
    assert hedged_live == 0
    s.check_ledger()
    assert [(o.maker_side, o.size_base, o.status) for o in s.obligations()] == [
        ("buy", "0.002", "hedged"),
        ("sell", "0.003", "hedged"),
        ("buy", "0.004", "hedged"),
    ]
    assert s.net_base == 0 and s.alerts() == []
    print("reconciliation-found:", s.figures())


def test_a_fill_naked_across_a_long_restart_escalates_at_once(tmp_path):
    """A maker fill while the bot is down for 3 s (the bound is 2 s): the obligation's age counts
    from the fill, not from when the restarted bot found it, so the first turn escalates."""

    async def main():
        s = Scenario(_url(tmp_path))
        await s.start()
        cid = (await s.orders.submit(0, [_post_only(Side.BUY, 2)]))[0].client_order_id
        await s.stop()
        s.maker.fill(cid)
        await asyncio.sleep(3)
        await s.start()
        await asyncio.sleep(1)
        await s.stop()
        return s

    s = run_simulated(main)
    s.check_ledger()
    assert s.net_base == 0
    (alert,) = [json.loads(a) for a in s.alerts()]
    assert alert["reason"] == "xemm_hedge_escalated" and alert["unhedged_base"] == "0.002"


def test_sub_lot_residuals_keep_their_sign(tmp_path):
    """Taker lot 0.002, maker lot 0.001: a rest below a taker lot stays open with its sign and is
    netted by the next fill, whichever side it is on."""

    async def main():
        s = Scenario(_url(tmp_path), taker_lot="0.002")
        await s.start()
        nets = []
        for side, lots in [(Side.BUY, 1), (Side.SELL, 1), (Side.BUY, 3), (Side.SELL, 2), (Side.SELL, 1)]:
            await s.fill_maker(side, lots)
            await asyncio.sleep(0.5)
            nets.append(s.net_base)
        await s.stop()
        return s, nets

    s, nets = run_simulated(main)
    s.check_ledger()
    # +1 (below a lot), 0, +3 → sell 2 → +1, −2 + 1 = −1 (below a lot), −1 −1 = −2 → buy 2 → 0
    assert nets == [LOT, 0, LOT, -LOT, 0]
    assert [h.side for h in s.hedges()] == ["sell", "buy"]
    assert all(o.status == "hedged" for o in s.obligations())
    assert s.alerts() == []
    print("sub-lot residuals:", s.figures())


def test_a_failing_taker_is_retried_with_widening_limits_then_escalated(tmp_path):
    async def main():
        s = Scenario(_url(tmp_path), hedge_max_attempts=3, hedge_slippage_step_bps=5)
        await s.start()
        s.taker.place_errors = [OrderRejected("vb", "refused (injected)") for _ in range(5)]
        await s.fill_maker(Side.BUY, 2)
        await asyncio.sleep(1.0)
        paused = s.xemm.paused_markets()
        await asyncio.sleep(5.0)
        resumed = s.xemm.resume("va:BTC/USDT")
        await s.stop()
        return s, paused, resumed

    s, paused, resumed = run_simulated(main)
    s.check_ledger()
    hedges = s.hedges()
    assert [h.filled_lots for h in hedges] == [0, 0, 0, 0, 0, 2]
    # sell limits: 10, 15, 20, 25, 30 bps under the expected price, then the bound (50) is far
    assert [h.limit_ticks for h in hedges[:5]] == [
        int((PRICE - 1) * (1 - b / 1e4)) + 1 for b in (10, 15, 20, 25, 30)
    ]
    (alert,) = [json.loads(a) for a in s.alerts()]
    assert (alert["reason"], alert["unhedged_base"], alert["attempts"]) == (
        "xemm_hedge_escalated",
        "0.002",
        3,
    )
    assert paused == {"va:BTC/USDT": {"unhedged_base": "0.002"}}
    assert resumed and s.net_base == 0  # hedged by the retries, not written off by the resume
    print("retry then escalate:", s.figures())


def test_rate_limit_is_waited_out_and_auth_escalates_at_once(tmp_path):
    async def main():
        s = Scenario(_url(tmp_path))
        await s.start()
        s.taker.place_errors = [RateLimited("vb", "429 (injected)", retry_after_s=1.5)]
        await s.fill_maker(Side.SELL, 2)
        await asyncio.sleep(3)
        first = s.hedges()
        live_after_429 = [o for o in s.orders.live.values() if o.request.venue == "vb"]
        s.taker.place_errors = [AuthError("vb", "401 (injected)")]
        await s.fill_maker(Side.BUY, 1)
        await asyncio.sleep(3)
        await s.stop()
        return s, first, live_after_429

    s, first, live_after_429 = run_simulated(main)
    s.check_ledger()
    assert live_after_429 == []  # the refused order is closed, not left pending
    assert [(h.attempt, h.filled_lots, (h.error or "")[:11]) for h in first] == [
        (1, 0, "RateLimited"),
        (2, 2, ""),
    ]
    assert (first[1].created_ns - first[0].created_ns) / 1e9 >= 1.5  # the venue's Retry-After
    counters = s.xemm.hedger.counters
    assert (counters.rate_limited, counters.auth_failed) == (1, 1)
    alerts = [json.loads(a) for a in s.alerts()]
    assert [a["why"][:26] for a in alerts] == ["authentication refused: vb"]
    assert s.xemm.paused_markets() and s.net_base == 0
    print("429 and auth:", s.figures())


def test_fills_known_by_rest_are_hedged_at_once_and_booked_at_their_real_price(tmp_path):
    """Both user streams silent: the maker fill is learnt from the order's REST state (a cancel
    answered FILLED) and hedged within the fill wait; the hedge's fills, which no stream brings,
    are fetched by REST and booked at the price they traded at, not at the limit."""

    async def main():
        s = Scenario(_url(tmp_path))
        await s.start()
        s.maker.silent = s.taker.silent = True
        cid = (await s.orders.submit(0, [_post_only(Side.BUY, 3)]))[0].client_order_id
        s.maker.fill(cid)
        await asyncio.sleep(0.05)
        await s.orders.cancel_order(cid)  # the venue answers: no such open order -> FILLED
        await asyncio.sleep(2)
        await s.stop()
        return s

    s = run_simulated(main)
    s.check_ledger()
    (o,) = s.obligations()
    assert o.status == "hedged" and s.net_base == 0
    # sold 3 lots at the bid 59 999.9, the limit was 10 bps lower
    assert Decimal(o.hedge_notional) == Decimal("59999.9") * 3 * LOT
    (hedge,) = s.hedges()
    assert hedge.limit_ticks < PRICE - 1
    assert (o.done_ts_ns - o.fill_ts_ns) / 1e9 < 1.0
    print("late fills:", s.figures())


def _post_only(side, lots):
    from bot.kernel.new_order import NewOrder, TimeInForce

    return NewOrder(side, PRICE - 10 if side is Side.BUY else PRICE + 10, lots, TimeInForce.POST_ONLY)


def test_arbitrage_leg_with_an_unknown_outcome_is_sent_once_and_priced_at_its_fills(tmp_path):
    """The arbitrage's executor (its CEX legs and unwinds): the answer lost, lookups failing for
    1 s, no stream: one order, settled from the venue, booked at the price it traded at."""
    from strategies.xvenue.hedging import HedgeExecutor
    from strategies.xvenue.store import XvenueLedger

    async def main():
        s = Scenario(_url(tmp_path))
        await s.start()
        s.taker.lose_answers, s.taker.silent = 1, True
        s.taker.lookups_down_until = asyncio.get_running_loop().time() + 1.0
        executor = HedgeExecutor(s.orders, XvenueLedger(s.store))
        result = await executor.execute(
            1, Side.SELL, 3, PRICE - 1, max_slippage_bps=10, max_attempts=3, retry_delay_s=0.1, deadline_s=5
        )
        await s.stop()
        return s, result

    s, result = run_simulated(main)
    assert s.taker.placed == 1
    assert (result.filled_lots, result.attempts) == (3, 1)
    assert result.notional == Decimal("59999.9") * 3 * LOT  # the bid it sold at, not the limit
