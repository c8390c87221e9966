"""The daily report: numbers recomputed independently from a hand-made store; charts are PNGs."""

import itertools
import json
import math
import statistics

import tomli_w

from bot.cli import main as cli_main
from bot.core.domain import Side
from bot.kernel.store import Store
from bot.kernel.store_rows import PnlSnapshotRow
from bot.reports.report import build_report
from tests.kit import small_config_dict, stubs

S = 10**9
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z
MARKET = stubs.market()
# (t_s, mid) every 60 s; fills fall between snapshots so the mids are interpolated
MIDS = [
    (0, 100.0),
    (60, 101.0),
    (120, 100.0),
    (180, 99.0),
    (240, 99.5),
    (300, 100.5),
    (360, 102.0),
    (420, 101.0),
]
# (t_s, side, price, size, fee in USDT; negative = rebate)
FILLS = [
    (30, Side.BUY, 100.4, 0.5, 0.01),
    (90, Side.SELL, 100.6, 0.3, -0.005),
    (150, Side.SELL, 99.8, 0.2, 0.002),
    (200, Side.BUY, 98.5, 1.0, 0.02),
]


def make_store(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path}/r.sqlite", "t1")  # the instance of small_config_dict
    for i, (t, side, price, size, fee) in enumerate(FILLS):
        fill = stubs.fill(
            f"t1-{i}", side=side, price_ticks=round(price * 10), size_lots=round(size * 1000), fee=str(fee),
            ts_ns=T0 + t * S, trade_id=str(i), venue_order_id=f"o{i}",
        )  # fmt: skip
        store.record_fill(fill, MARKET)
    store.snapshot_pnl(
        [
            PnlSnapshotRow(
                market="va:BTC/USDT",
                ts_ns=T0 + t * S,
                position_base="0",
                cash_quote="0",
                fees_quote="0",
                mid=str(mid),
                pnl_quote="0",
            )
            for t, mid in MIDS
        ]
    )
    return store


def mid_at(t: float) -> float:
    """Linear between snapshots, flat outside (hand-written, no numpy)."""
    if t <= MIDS[0][0]:
        return MIDS[0][1]
    for (t0, m0), (t1, m1) in itertools.pairwise(MIDS):
        if t0 <= t <= t1:
            return m0 + (m1 - m0) * (t - t0) / (t1 - t0)
    return MIDS[-1][1]


def test_pnl_breakdown_markouts_and_performance_match_a_hand_recomputation(tmp_path):
    report, _ = build_report(make_store(tmp_path), T0)
    m = report["markets"]["va:BTC/USDT"]
    sign = {Side.BUY: 1, Side.SELL: -1}
    end_mid = MIDS[-1][1]
    spread = sum(sign[s] * (mid_at(t) - p) * q for t, s, p, q, _ in FILLS)
    inventory = sum(sign[s] * (end_mid - mid_at(t)) * q for t, s, p, q, _ in FILLS)
    assert math.isclose(m["spread_capture"], spread, abs_tol=1e-9)
    # by hand: buy 0.1 x 0.5, sell 0.1 x 0.3, sell 0.3 x 0.2, buy (99 + 1/6 - 98.5) x 1.0
    assert math.isclose(spread, 0.05 + 0.03 + 0.06 + (99.0 + 0.5 * 20 / 60 - 98.5), rel_tol=1e-12)
    assert math.isclose(m["inventory_pnl"], inventory, abs_tol=1e-9)
    assert math.isclose(m["fees"], 0.032) and math.isclose(m["rebates"], 0.005)
    assert math.isclose(m["net"], spread + inventory - 0.032 + 0.005, abs_tol=1e-9)
    # net equals cash + position x last mid: the decomposition is complete
    cash = sum(-sign[s] * p * q - f for _, s, p, q, f in FILLS)
    position = sum(sign[s] * q for _, s, _, q, _ in FILLS)
    assert math.isclose(m["net"], cash + position * end_mid, abs_tol=1e-9)
    for label, h in (("1m", 60), ("5m", 300)):
        reached = [x for x in FILLS if x[0] + h <= MIDS[-1][0]]
        markout = sum(sign[s] * (mid_at(t + h) - p) * q for t, s, p, q, _ in reached)
        adverse = sum(sign[s] * (mid_at(t) - mid_at(t + h)) * q for t, s, p, q, _ in reached)
        assert m[f"markout_{label}_fills"] == len(reached)
        assert math.isclose(m[f"markout_{label}"], markout, abs_tol=1e-9), label
        assert math.isclose(m[f"adverse_selection_{label}"], adverse, abs_tol=1e-9), label
    assert m["markout_5m_fills"] == 2  # fills at 30 s and 90 s reach 330/390 <= 420

    # PnL curve at the snapshot times, then its statistics
    curve = []
    for t, mid in MIDS:
        done = [x for x in FILLS if x[0] <= t]
        c = sum(-sign[s] * p * q - f for _, s, p, q, f in done)
        curve.append(c + sum(sign[s] * q for _, s, _, q, _ in done) * mid)
    changes = [b - a for a, b in itertools.pairwise(curve)]
    sharpe = statistics.mean(changes) / statistics.stdev(changes) * math.sqrt(365 * 86400 / 60)
    peak, max_dd = -1e18, 0.0
    for v in curve:
        peak = max(peak, v)
        max_dd = max(max_dd, peak - v)
    perf = report["performance"]
    assert math.isclose(perf["sharpe"], sharpe, rel_tol=1e-9)
    assert math.isclose(perf["max_drawdown"], max_dd, abs_tol=1e-9) and max_dd > 0
    moved = [c for c in changes if c != 0]
    assert perf["win_rate"] == sum(c > 0 for c in moved) / len(moved)
    assert report["flow_by_hour_utc"] == {0: {"buys": 2, "sells": 2, "buy_size": 1.5, "sell_size": 0.5}}


def test_report_command_writes_markdown_json_and_png_charts(tmp_path, capsys):
    store = make_store(tmp_path)
    store.close()
    config = tmp_path / "bot.toml"
    config.write_text(tomli_w.dumps(small_config_dict(f"sqlite:///{tmp_path}/r.sqlite", venues=("va",))))
    out = tmp_path / "out"
    assert (
        cli_main(["report", "--config", str(config), "--since", "2026-01-01T00:00:00", "--out", str(out)])
        == 0
    )
    data = json.loads((out / "report.json").read_text())
    assert data["total"]["fills"] == 4
    md = (out / "report.md").read_text()
    assert "| va:BTC/USDT | 4 |" in md and "Sharpe" in md
    for name in ("pnl.png", "inventory.png", "markouts.png"):
        blob = (out / name).read_bytes()
        assert blob[:8] == b"\x89PNG\r\n\x1a\n" and len(blob) > 5_000, name
        width, height = int.from_bytes(blob[16:20], "big"), int.from_bytes(blob[20:24], "big")
        assert width >= 600 and height >= 300
