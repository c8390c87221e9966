"""Online toxicity: markout arithmetic, and the picked-off side widened on an informed burst."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from bot.core.domain import Fill, Market, Side
from bot.core.events import FillEvent, PublicTrade
from strategies.quoting.core_strategy import CoreQuoteStrategy
from strategies.quoting.models.fixed_spread import FixedSpreadParams
from strategies.quoting.params import ToxicityParams
from strategies.quoting.toxicity import ASK, BID, ToxicityMonitor

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
NAN = float("nan")


def test_markouts_at_each_horizon_equal_hand_computed_values() -> None:
    params = ToxicityParams(markout_half_life_s=1e12, burst_markout_bps=50.0)
    tox = ToxicityMonitor(1, params)
    tox.record_fill(0, True, 100.00, T0)  # we bought at 100.00
    tox.record_fill(0, False, 100.10, T0 + 2 * NS)  # we sold at 100.10
    fair_at = {1: 100.02, 3: 100.05, 10: 99.90, 12: 100.20, 60: 100.30, 62: 100.00}
    for second, fair in fair_at.items():
        tox.update(np.array([fair]), T0 + second * NS)
    # markout = sign * (fair after h - fill price) / fill price, in bps
    expected = {
        (BID, 0): 2.0,  # (100.02 - 100) / 100
        (ASK, 0): 0.05 / 100.10 * 1e4,  # -(100.05 - 100.10) / 100.10 = 4.995 bps
        (BID, 1): -10.0,  # 10 s: 99.90
        (ASK, 1): -0.10 / 100.10 * 1e4,  # 10 s after 2 s: 100.20
        (BID, 2): 30.0,  # 60 s: 100.30
        (ASK, 2): 0.10 / 100.10 * 1e4,  # 62 s: 100.00
    }
    for (side, h), value in expected.items():
        assert tox.last_markout_bps[0, side, h] == pytest.approx(value, rel=1e-9)
        # one fill per side and horizon, no decay: mean = markout / (1 + prior of 2 fills)
        assert tox.mean_markout_bps()[0, side, h] == pytest.approx(value / 3, rel=1e-9)
    assert not tox.pending.any()
    # toxicity: the ask's 10 s markout is adverse (-9.99 bps / 3); the bid's is too (-10 / 3)
    assert tox.toxicity_bps[0, BID] == pytest.approx(10.0 / 3, rel=1e-9)
    assert tox.toxicity_bps[0, ASK] == pytest.approx(0.10 / 100.10 * 1e4 / 3, rel=1e-9)


def test_ring_buffer_keeps_the_latest_fills_only() -> None:
    tox = ToxicityMonitor(2, ToxicityParams(fills_per_market=4))
    for i in range(6):
        tox.record_fill(1, True, 100.0 + i, T0 + i)
    assert sorted(tox.fill_price[1].tolist()) == [102.0, 103.0, 104.0, 105.0]
    assert not tox.pending[0].any() and tox.pending[1].all()
    tox.update(np.array([100.0, 104.0]), T0 + 5 + 10 * NS)  # 1 s and 10 s markouts of all four
    assert tox.pending[1, :, 2].all() and not tox.pending[1, :, :2].any()
    assert tox.markout_weight[1, BID].tolist() == [4.0, 4.0, 0.0]
    by_hand = sum((104.0 - price) / price * 1e4 for price in (102.0, 103.0, 104.0, 105.0))
    assert tox.markout_sum[1, BID, 0] == pytest.approx(by_hand, rel=1e-12)


MARKET = Market("sim", "BTC/USDT", "BTC", "USDT", Decimal("0.01"), Decimal(1))


def _strategy(enabled: bool, diagnostics_read: bool = True) -> CoreQuoteStrategy:
    cfg = FixedSpreadParams(markets=["sim:BTC/USDT"], half_spread_bps=5.0, toxicity={"enabled": enabled})
    return CoreQuoteStrategy(
        "mm", cfg, np.array([0]), [MARKET], [(1.0, 10.0)], T0, diagnostics_read=diagnostics_read
    )


def _quote(strategy: CoreQuoteStrategy, fair: float, ts_ns: int) -> tuple[int, int]:
    t = strategy.quote(np.array([fair]), np.array([NAN]), np.array([NAN]), np.array([0.0]), ts_ns)
    return int(t.bid_price_ticks[0, 0]), int(t.ask_price_ticks[0, 0])


def _informed_sell_burst(strategy: CoreQuoteStrategy, ts_ns: int) -> None:
    """A seller sweeps three levels of 5 lots; our bid at 99.95 is hit on the way."""
    for price_ticks in (9995, 9993, 9991):
        strategy.on_event(PublicTrade("sim", "BTC/USDT", Side.SELL, price_ticks, 5, ts_ns, ts_ns))
    fill = Fill("sim", "BTC/USDT", "t1", "o1", "c1", Side.BUY, 9995, 1, Decimal(0), "USDT", True, ts_ns)
    strategy.on_event(FillEvent(fill, ts_ns))


def test_toxicity_widens_the_picked_off_side_on_an_informed_burst_and_relaxes_after() -> None:
    mm = _strategy(enabled=True)
    assert _quote(mm, 100.0, T0) == (9995, 10005)  # 5 bps each side
    _informed_sell_burst(mm, T0 + NS // 10)
    # 0.2 s: the flow is 15 quote sizes of sells: imbalance -14.965 / 19.965 -> burst on the bid
    bid, ask = _quote(mm, 99.90, T0 + 2 * NS // 10)
    tox_bid = mm.toxicity.toxicity_bps[0, BID]
    assert tox_bid == pytest.approx(20.0 + 3.0 * (14.965417 / 19.965417 - 0.2) / 0.8, rel=1e-6)
    assert mm.toxicity.toxicity_bps[0, ASK] == 0.0
    assert (bid, ask) == (9962, 9995)  # bid 99.90 x (1 - 27.06 bps); the ask stays 5 bps away
    # 1.2 s: our bid fill is 10 bps under water at 1 s: the pull is renewed
    _quote(mm, 99.85, T0 + 12 * NS // 10)
    assert mm.toxicity.burst[0, BID] == 1.0
    assert mm.toxicity.last_markout_bps[0, BID, 0] == pytest.approx(-0.10 / 99.95 * 1e4)
    # quiet after: the pull and the imbalance fade; the 10 s markout (-10.005 bps) lingers, decaying
    for second in range(2, 121):
        _quote(mm, 99.85, T0 + second * NS)
    assert mm.toxicity.burst[0, BID] < 1e-6
    keep = 0.5 ** ((120.0 - 11.0) / 300.0)  # decayed since it was taken, at the 11 s quote
    lingering = 0.10 / 99.95 * 1e4 * keep / (keep + 2.0)
    assert mm.toxicity.toxicity_bps[0, BID] == pytest.approx(lingering, rel=1e-3)
    # an hour later the quotes are back to 5 bps each side
    assert _quote(mm, 99.85, T0 + 3600 * NS) == (9980, 9990)
    assert mm.toxicity.toxicity_bps[0, BID] < 0.01


def test_toxicity_control_off_measures_but_does_not_move_quotes() -> None:
    mm = _strategy(enabled=False)
    _quote(mm, 100.0, T0)
    _informed_sell_burst(mm, T0 + NS // 10)
    assert _quote(mm, 99.90, T0 + 2 * NS // 10) == (9985, 9995)
    assert mm.toxicity.toxicity_bps[0, BID] > 20.0  # still measured, for /metrics
    names = set(mm.quote_diagnostics())
    assert {"toxicity_bid_bps", "toxicity_ask_bps", "flow_imbalance", "markout_bid_1s_bps"} <= names


def test_with_the_control_off_and_no_diagnostics_reader_the_monitor_is_not_fed_and_quotes_are_the_same() -> (
    None
):
    fed, unfed = _strategy(enabled=False), _strategy(enabled=False, diagnostics_read=False)
    for mm in (fed, unfed):
        _quote(mm, 100.0, T0)
        _informed_sell_burst(mm, T0 + NS // 10)
    for second in (2, 12, 30):  # past the fill's 1 s and 10 s markouts
        assert _quote(unfed, 99.90, T0 + second * NS // 10) == _quote(fed, 99.90, T0 + second * NS // 10)
    assert fed.toxicity.toxicity_bps[0, BID] > 0.0 and fed.toxicity.pending[0].any()
    assert not unfed.toxicity.pending.any() and unfed.toxicity.buy_volume.tolist() == [0.0]
    assert not unfed.toxicity.toxicity_bps.any() and unfed.toxicity.sell_volume.tolist() == [0.0]
    assert "toxicity_bid_bps" not in unfed.quote_diagnostics()  # no unfed zeros passed off as measured
    assert _strategy(enabled=True, diagnostics_read=False).tracks_toxicity  # the control needs it
