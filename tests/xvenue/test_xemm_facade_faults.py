"""XEMM's hedge obligations in the whole bot (a real `mmbot run` process, real ccxt) against two
facades with timed faults (issue #22): a SIGKILL just after a maker fill the bot heard of only by
REST, then the taker venue answering 503 to signed calls with a silent user stream while maker
fills keep coming; between the two, the taker venue refusing the next hedge order (503 before
it executes, every send). After each fault the true net position (both venues' own fills) is back within one
taker lot, every stored maker fill has exactly one obligation, hedge fills sum to them, a position
naked longer than the escalation bound raised an alert, and /metrics counts each refused hedge
(`mmbot_xemm_hedge_orders_total{outcome="rejected"}`) on the taker market."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bot.kernel.store import Store
from connectors.mock.venue import DEFAULT_ACCOUNT
from strategies.xvenue.obligation_store import ObligationStore
from strategies.xvenue.store import XemmRoundTripRow, XvenueLedger
from tests.kit import REPO_ROOT
from tests.xvenue.xemm_facade_kit import LOT, Session, signed_base

ESCALATE_S = 2.0
REFUSED = 1  # hedges refused in a row: naked ~1 s, under the escalation bound (makers keep quoting)
TAKER = (("market", "vb:BTC/USDT"), ("strategy", "x"), ("venue", "vb"))


def hedge_orders(metrics: dict, outcome: str) -> float:
    return metrics[("mmbot_xemm_hedge_orders_total", tuple(sorted((*TAKER, ("outcome", outcome)))))]


def signed(obligations: list[XemmRoundTripRow], part: str) -> Decimal:
    """Σ of `part` (base) over the obligations, + for a maker buy."""
    return sum(
        ((1 if o.maker_side == "buy" else -1) * Decimal(getattr(o, part)) for o in obligations), Decimal(0)
    )


async def test_xemm_hedges_each_maker_fill_once_through_a_restart_and_a_taker_outage(tmp_path: Path):
    async with Session(tmp_path, REPO_ROOT, seed=1, xemm={"hedge_escalate_after_s": ESCALATE_S}) as s:
        restart = await s.restart_after_fill()
        before = await s.metrics()
        refused = await s.taker_refuses(REFUSED)
        after = await s.metrics()
        outage = await s.taker_503()
        assert await s.until_settled(5.0), s.log_tail()
        maker_venue = s.maker.exchange.fills(DEFAULT_ACCOUNT)
        taker_venue = s.taker.exchange.fills(DEFAULT_ACCOUNT)
        taker_faults = s.taker.faults
    print(f"\n{restart}\n{refused}\n{outage}")
    assert s.bots_started == 2 and taker_faults.errors_injected >= 3 and taker_faults.user_events_lost >= 1
    for phase in (restart, refused, outage):
        assert phase.maker_fills >= 1, phase
        assert abs(phase.net_end) < LOT, phase  # back within one lot after the fault
        assert phase.unhedged == 0, phase
        assert phase.taker_orders_filled <= phase.maker_fills, phase  # no double hedge
        # judged on the bot's own clock, not the test's polling (which also counts the hedge's round
        # trip after the bot's check); the slack covers the bot's step from its check to the store
        if phase.first_hedge_after_s is not None and phase.first_hedge_after_s > ESCALATE_S + 0.25:
            assert phase.alerts >= 1, phase
    # each refused hedge is stored rejected and counted once, on the taker market; the next went
    assert refused.taker_orders_rejected == REFUSED and refused.taker_orders_filled == 1, refused
    assert hedge_orders(after, "rejected") - hedge_orders(before, "rejected") == REFUSED
    assert hedge_orders(after, "sent") - hedge_orders(before, "sent") == REFUSED + 1
    assert hedge_orders(after, "filled") - hedge_orders(before, "filled") == 1
    # one maker fill before the outage, one in it (its quote pulled while the hedge's outcome is
    # unknown: no more fills can come until the venue answers again)
    assert outage.maker_fills >= 2
    store = Store(f"sqlite:///{tmp_path}/bot.sqlite")
    try:
        stored_maker = store.fills("va")
        assert sorted(f.venue_trade_id for f in stored_maker) == sorted(f.venue_trade_id for f in maker_venue)
        obligations = XvenueLedger(store).round_trips("x")
        assert sorted(o.maker_trade_id for o in obligations) == sorted(f.venue_trade_id for f in stored_maker)
        for o in obligations:  # closed only by what was hedged or netted, and then completely
            done = Decimal(o.hedged_base) + Decimal(o.netted_base)
            assert o.status == "hedged" and done == Decimal(o.size_base), o
        # the hedge fills on the venue are exactly what was booked (a hedge sell settles a maker buy)
        assert signed(obligations, "hedged_base") == -signed_base(taker_venue)
        assert signed(obligations, "netted_base") == 0
        hedges = ObligationStore(store, "x").hedges()
        by_order: dict[str, int] = {}
        for f in taker_venue:
            by_order[f.client_order_id] = by_order.get(f.client_order_id, 0) + f.size_lots
        assert {h.client_order_id: h.booked_lots for h in hedges if h.booked_lots} == by_order
        assert all(h.outcome == "known" for h in hedges)
    finally:
        store.close()
