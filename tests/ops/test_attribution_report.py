"""Exact attribution (issue #15, item 6): the report's markouts, adverse selection, hedging cost and
Sharpe of 1-min PnL come from the stored mid series and the fair stored with each fill; the
numbers below are worked out by hand."""

import itertools
import math
import statistics

from sqlmodel import Session

from bot.core.domain import Side
from bot.kernel.mid_series import MidRow
from bot.kernel.store import Store
from bot.reports.report import build_report, to_markdown
from tests.kit import stubs

S = 10**9
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z
MARKET = stubs.market()
# the stored series (t in s, fair): a step function; the last row is the one written at stop
MIDS = [(0, 100.0), (0.5, 100.2), (2, 100.1), (9, 99.8), (15, 100.4), (70, 100.0), (200, 101.0), (400, 101.0)]
# (t_s, side, price, size, fee USDT (< 0: rebate), stored fair (None: arrived late), maker)
FILLS = [
    (1, Side.BUY, 100.1, 0.5, 0.01, 100.2, True),
    (5, Side.SELL, 100.3, 0.2, -0.002, None, True),  # no stored fair: the series' 100.1 at 5 s
    (100, Side.SELL, 99.9, 0.3, 0.03, 100.0, False),  # a hedge: taker, crossing the spread
    (350, Side.BUY, 100.9, 0.1, 0.001, 101.05, True),
]


def make_store(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path}/a.sqlite")
    for i, (t, side, price, size, fee, fair, maker) in enumerate(FILLS):
        fill = stubs.fill(
            f"t1-{i}", side=side, price_ticks=round(price * 10), size_lots=round(size * 1000), fee=str(fee),
            ts_ns=T0 + t * S, trade_id=str(i), venue_order_id=f"o{i}", is_maker=maker,
        )  # fmt: skip
        store.record_fill(fill, MARKET, fair)
    with Session(store.engine) as session:
        session.add_all(MidRow(market="va:BTC/USDT", ts_ns=T0 + int(t * S), mid=m) for t, m in MIDS)
        session.commit()
    return store


def test_markouts_adverse_selection_and_hedging_cost_from_stored_mids_match_hand_computed(tmp_path):
    report, _ = build_report(make_store(tmp_path), T0)
    m = report["markets"]["va:BTC/USDT"]
    assert m["mid_source"] == "mid_series"
    expected = {
        # reference mids 100.2, 100.1, 100.0, 101.05: 0.1x0.5 + 0.2x0.2 - 0.1x0.3 + 0.15x0.1
        "spread_capture": 0.075,
        # end mid 101.0: 0.8x0.5 - 0.9x0.2 - 1.0x0.3 - 0.05x0.1
        "inventory_pnl": -0.085,
        "fees": 0.041,
        "rebates": 0.002,
        "net": -0.049,  # = cash -10.149 + position 0.1 x 101.0
        "hedging_cost": 0.06,  # the taker sell: 0.1 x 0.3 under the fair + 0.03 fee
        # mids 1 s later: 100.1, 100.1, 100.0, 101.0
        "markout_1s": 0.02,
        "adverse_selection_1s": 0.055,
        # 10 s later: 99.8, 100.4, 100.0, 101.0
        "markout_10s": -0.19,
        "adverse_selection_10s": 0.265,
        # 1 m later: 100.4, 100.4, 100.0; the last fill's 410 s is past the series' 400 s
        "markout_1m": 0.1,
        "adverse_selection_1m": -0.04,
        # 5 m later: 101.0 for the first three (400 s is the series' end, still known)
        "markout_5m": -0.02,
        "adverse_selection_5m": 0.08,
    }
    for key, value in expected.items():
        assert math.isclose(m[key], value, abs_tol=1e-9), (key, m[key], value)
    assert (m["fills"], m["hedge_fills"]) == (4, 1)
    assert [m[f"markout_{h}_fills"] for h in ("1s", "10s", "1m", "5m")] == [4, 4, 3, 3]
    assert report["total"]["adverse_selection_10s"] == m["adverse_selection_10s"]

    # PnL every minute from the series' start: cash + position x the mid in force
    # 60 s: bought 0.5, sold 0.2 (cash -29.998) at 100.4; 120 s: the hedge at 100 s closed it
    curve = [0.0, 0.122, -0.058, -0.058, -0.058, -0.058, -0.049]  # at 0, 60, ..., 360 s
    changes = [b - a for a, b in itertools.pairwise(curve)]
    perf = report["performance"]
    assert perf["interval_s"] == 60.0 and perf["intervals"] == 6
    sharpe = statistics.mean(changes) / statistics.stdev(changes) * math.sqrt(365 * 86400 / 60)
    assert math.isclose(perf["sharpe"], sharpe, rel_tol=1e-9)
    assert math.isclose(perf["sharpe_per_interval"], statistics.mean(changes) / statistics.stdev(changes))
    assert math.isclose(perf["max_drawdown"], 0.18, abs_tol=1e-9)

    md = to_markdown(report)
    assert "| va:BTC/USDT | 4 | 0.0750 | -0.0850 | 0.0600 | 0.0410 | 0.0020 | -0.0490 |" in md
    assert "| va:BTC/USDT | 10s | 4 | -0.1900 | 0.2650 |" in md
    assert "| va:BTC/USDT | 5m | 3 | -0.0200 | 0.0800 |" in md
    assert "Sharpe of 60 s PnL" in md and "Mids from: mid_series" in md


def test_a_report_after_since_uses_the_mid_in_force_at_since(tmp_path):
    """From 100 s on: the 70 s row (100.0) holds at the sell at 100 s; the earlier fills are out."""
    report, _ = build_report(make_store(tmp_path), T0 + 100 * S)
    m = report["markets"]["va:BTC/USDT"]
    assert m["fills"] == 2
    assert math.isclose(m["spread_capture"], -0.03 + 0.015, abs_tol=1e-12)
    assert math.isclose(m["markout_5m"], -(101.0 - 99.9) * 0.3, abs_tol=1e-12)
    assert report["performance"]["interval_s"] == 60.0
