"""multi_venue_mm values every book without our own resting orders (issue #15, point 1)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.core.events import BookSnapshot
from bot.kernel.market_state import MarketState
from strategies.quoting.multi_venue import MultiVenueParams, MultiVenueStrategy
from tests.kit.stubs import market

S = 1_000_000_000


def setup(**params) -> tuple[MarketState, MultiVenueStrategy]:
    markets = [market(venue="sim_a", tick_size="0.01"), market(venue="sim_b", tick_size="0.01")]
    state = MarketState(markets, [5, 5], [100, 100])
    state.base_balance[:] = 10.0
    state.quote_balance[:] = 1e6
    p = MultiVenueParams(
        kind="multi_venue_mm", markets=["sim_a:BTC/USDT", "sim_b:BTC/USDT"], refresh_tolerance_ticks=0,
        **{"bid_spread_bps": 1, "ask_spread_bps": 1, "fair_value": {"method": "microprice"}, **params},
    )  # fmt: skip
    # our quotes 100.01 / 100.02 are the top of both books; the others sit at 99.99 / 100.05
    for slot in (0, 1):
        state.update_top(slot, 10_001, 10_002, S, 5, 5, others_bid=(9_999, 2), others_ask=(10_005, 2))
    return state, MultiVenueStrategy("mvm", p, np.array([0, 1]), state)


@pytest.mark.parametrize(("ex_own", "fair"), [(True, 100.02), (False, 100.015)])
def test_the_consolidated_fair_ignores_our_own_quotes(ex_own: bool, fair: float) -> None:
    state, strat = setup(fair_ex_own_orders=ex_own, local_anchor_weight=1.0)
    assert strat.fair.values(state, S, ex_own=ex_own).price[0] == pytest.approx(fair, abs=1e-9)
    t = strat.targets(state, S)
    # 1 bp each side of the centre (the local mid of the same kind: equal here)
    assert t.bid_price_ticks[:, 0].tolist() == [int(np.floor(fair * (1 - 1e-4) / 0.01 + 1e-9))] * 2
    assert t.ask_price_ticks[:, 0].tolist() == [int(np.ceil(fair * (1 + 1e-4) / 0.01 - 1e-9))] * 2


def test_multi_venue_volatility_is_sampled_on_the_clock_from_the_consolidated_fair() -> None:
    _, strat = setup(bid_spread_bps=None, ask_spread_bps=None, model="glft", gamma=0.01)
    vol = strat.core.volatility
    assert vol is not None and strat.core.clock_sampled
    for i in range(1, 32):  # books every 100 ms to 3.1 s: samples at 0.1 (anchor), 1, 2, 3 s
        ts = i * S // 10
        strat.on_event(BookSnapshot("sim_a", "BTC/USDT", (), (), ts, ts))
    assert vol.samples.tolist() == [3, 3] and vol.anchor_ns.tolist() == [3 * S, 3 * S]
    assert vol.last_price.tolist() == pytest.approx([100.02, 100.02], abs=1e-9)
