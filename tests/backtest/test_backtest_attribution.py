"""A backtest's report is attributed exactly: the run stores each fill's fair and the mid series,
and the report's markouts and Sharpe come from them (issue #15, item 6)."""

import itertools
import json
import tomllib

from bot.app.config import AppConfig
from bot.backtest.runner import run_backtest
from bot.backtest.synthetic import SyntheticParams, generate
from bot.kernel.mid_series import load_mids
from bot.kernel.store import Store
from connectors.replay.events import save_events
from tests.backtest.test_backtest_cli import CONFIG


def test_a_backtest_stores_fills_fair_and_the_mid_series_and_reports_from_them(tmp_path):
    data = generate(SyntheticParams(rows=6_000, seed=5, symbol="BTC/USDT", mean_interval_ms=40))
    save_events(tmp_path / "syn.npz", data)
    config = AppConfig.model_validate(tomllib.loads(CONFIG))
    out = tmp_path / "out"
    summary = run_backtest(config, tmp_path, out, tmp_path / "syn.npz")
    store = Store(f"sqlite:///{out / 'backtest.sqlite'}")
    fills = store.fills()
    assert summary.fills == len(fills) > 10
    # every fill arrived live: its fair is the others' mid of its moment (the book without our
    # resting orders), on the half-tick grid, and differs from the venue's mid while we were at
    # the top of the book
    assert all(f.fair_at_fill is not None and f.mid_at_fill is not None for f in fills)
    half_ticks = [f.fair_at_fill * 2 / 0.01 for f in fills]
    assert all(abs(h - round(h)) < 1e-6 for h in half_ticks)
    assert all(abs(f.fair_at_fill - float(f.mid_at_fill)) <= 0.05 for f in fills)
    assert any(abs(f.fair_at_fill - float(f.mid_at_fill)) > 1e-6 for f in fills)
    rows = load_mids(store, 0)["rp:BTC/USDT"]
    duration_ns = rows[-1][0] - rows[0][0]
    assert 10 < len(rows) <= 3 + duration_ns // 250_000_000
    assert all(a[0] < b[0] for a, b in itertools.pairwise(rows))
    assert rows[-1][0] >= data.end_ns - 10**9  # written at stop: the series reaches the end
    report = json.loads((out / "report.json").read_text())
    market = report["markets"]["rp:BTC/USDT"]
    assert market["mid_source"] == "mid_series"
    assert market["markout_1s_fills"] > 0 and market["markout_10s_fills"] > 0
    assert market["markout_1m_fills"] > 0 and market["adverse_selection_10s"] != 0.0
    assert report["performance"]["intervals"] >= 3
    assert report["performance"]["interval_s"] == 60.0
    assert summary.adverse_selection_1m == report["total"]["adverse_selection_1m"]
    assert summary.spread_capture == report["total"]["spread_capture"]
    store.close()
