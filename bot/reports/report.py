"""`mmbot report`: the daily risk report from the store, as Markdown, JSON and PNG charts."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlmodel import Session, col, select

from bot.kernel.mid_series import load_mids
from bot.kernel.store import Store
from bot.kernel.store_rows import FillRow, OrderRow, PnlSnapshotRow
from bot.reports.analytics import (
    SECONDS_PER_YEAR,
    FillSeries,
    MidSeries,
    flow_by_hour,
    markout_curve,
    minute_grid,
    performance,
    pnl_breakdown,
    pnl_curve,
)
from bot.reports.charts import inventory_chart, markout_chart, pnl_chart
from bot.reports.lp_status import lp_positions_since, lp_report_lines

MARKOUT_HORIZONS_S = [0.0, 1.0, 10.0, 30.0, 60.0, 120.0, 300.0]
# The horizons of the PnL breakdown's markouts and adverse selection (label: seconds).
MARKOUT_LABELS = {"1s": 1.0, "10s": 10.0, "1m": 60.0, "5m": 300.0}


def _fee_quote(row: FillRow) -> float:
    base, quote = row.symbol.split("/")
    fee = Decimal(row.fee)
    if row.fee_asset == quote:
        return float(fee)
    if row.fee_asset == base:
        return float(fee * Decimal(row.price))
    return 0.0


def load_series(store: Store, since_ns: int) -> tuple[dict[str, FillSeries], dict[str, MidSeries]]:
    """Each market's fills and mids from `since_ns` on: the stored mid series where the market
    has one, else (a store from before it) its PnL snapshots' mids."""
    with Session(store.engine) as s:
        fills_since = store.mine(select(FillRow), FillRow.instance_id).where(
            FillRow.exchange_ts_ns >= since_ns
        )
        fills = s.exec(fills_since.order_by(col(FillRow.exchange_ts_ns))).all()
        snaps_since = store.mine(select(PnlSnapshotRow), PnlSnapshotRow.instance_id)
        snaps_since = snaps_since.where(PnlSnapshotRow.ts_ns >= since_ns)
        snaps = s.exec(snaps_since.order_by(col(PnlSnapshotRow.ts_ns))).all()
    by_market: dict[str, list[FillRow]] = defaultdict(list)
    for f in fills:
        by_market[f"{f.venue}:{f.symbol}"].append(f)
    mid_rows: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for r in snaps:
        if Decimal(r.mid) > 0:
            mid_rows[r.market].append((r.ts_ns, float(r.mid)))
    fill_series = {
        key: FillSeries(
            np.array([r.exchange_ts_ns for r in rows], dtype=np.int64),
            np.array([1.0 if r.side == "buy" else -1.0 for r in rows]),
            np.array([float(r.price) for r in rows]),
            np.array([float(r.size) for r in rows]),
            np.array([_fee_quote(r) for r in rows]),
            np.array([np.nan if r.fair_at_fill is None else r.fair_at_fill for r in rows]),
            np.array([r.is_maker for r in rows], dtype=bool),
        )
        for key, rows in by_market.items()
    }
    mid_series = {
        key: MidSeries(np.array([t for t, _ in rows], dtype=np.int64), np.array([m for _, m in rows]))
        for key, rows in mid_rows.items()
    }
    for key, rows in load_mids(store, since_ns).items():
        if rows:
            ts = np.array([t for t, _ in rows], dtype=np.int64)
            mid_series[key] = MidSeries(ts, np.array([m for _, m in rows]), step=True)
    return fill_series, mid_series


def quote_stats(store: Store, since_ns: int) -> dict[str, dict[str, Any]]:
    # the four columns counted, not whole rows: a backtest's 10,000 orders as ORM objects cost more
    columns = select(OrderRow.venue, OrderRow.symbol, OrderRow.filled_lots, OrderRow.state)
    with Session(store.engine) as s:
        orders = store.mine(columns, OrderRow.instance_id)
        rows = s.exec(orders.where(OrderRow.created_ns >= since_ns)).all()
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"orders": 0, "filled": 0, "rejected": 0})
    for r in rows:
        m = out[f"{r.venue}:{r.symbol}"]
        m["orders"] += 1
        m["filled"] += int(r.filled_lots > 0)
        m["rejected"] += int(r.state == "rejected")
    for m in out.values():
        sent = m["orders"] - m["rejected"]
        m["fill_rate"] = m["filled"] / sent if sent else 0.0
    return dict(out)


def _pnl_grid(mids: dict[str, MidSeries], since_ns: int) -> npt.NDArray[np.int64]:
    """Where the PnL curve is evaluated: every minute of the stored mid series when there is one
    (the Sharpe of 1-min PnL), else the PnL snapshot times."""
    if not mids:
        return np.zeros(0, np.int64)
    exact = [m for m in mids.values() if m.step]
    if not exact:
        return np.unique(np.concatenate([m.ts_ns for m in mids.values()]))
    start = max(since_ns, min(int(m.ts_ns[0]) for m in exact))
    return minute_grid(start, max(int(m.ts_ns[-1]) for m in exact))


def build_report(store: Store, since_ns: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(report, chart data)."""
    fills, mids = load_series(store, since_ns)
    markets: dict[str, Any] = {}
    curves: dict[str, list[float | None]] = {}
    inventory: dict[str, Any] = {}
    grid = _pnl_grid(mids, since_ns)
    total_curve = np.zeros(len(grid))
    for key, f in fills.items():
        m = mids.get(key)
        if m is None or len(m.ts_ns) == 0:
            continue
        markets[key] = pnl_breakdown(f, m, MARKOUT_LABELS)
        markets[key]["mid_source"] = "mid_series" if m.step else "pnl_snapshots"
        curves[key] = markout_curve(f, m, MARKOUT_HORIZONS_S)
        on_grid = MidSeries(grid, m.at(grid))
        total_curve += pnl_curve(f, on_grid)
        inventory[key] = (f.ts_ns, np.cumsum(f.sign * f.size))
    totals = {
        k: sum(m[k] for m in markets.values())
        for k in ("spread_capture", "inventory_pnl", "hedging_cost", "hedge_fills", "fees", "rebates",
                  "net", "volume_quote", "fills")
    }  # fmt: skip
    for label in MARKOUT_LABELS:
        for k in (f"markout_{label}", f"adverse_selection_{label}", f"markout_{label}_fills"):
            totals[k] = sum(m[k] for m in markets.values())
    all_ts = np.concatenate([f.ts_ns for f in fills.values()]) if fills else np.zeros(0, np.int64)
    all_sign = np.concatenate([f.sign for f in fills.values()]) if fills else np.zeros(0)
    all_size = np.concatenate([f.size for f in fills.values()]) if fills else np.zeros(0)
    perf = performance(grid, total_curve)
    perf["interval_s"] = float(np.median(np.diff(grid))) / 1e9 if len(grid) > 1 else 0.0
    # The same ratio per interval, not annualised (mean / std of the 1-min PnL changes).
    per_year = SECONDS_PER_YEAR / perf["interval_s"] if perf["interval_s"] > 0 else 1.0
    perf["sharpe_per_interval"] = perf["sharpe"] / math.sqrt(per_year)
    report = {
        "since": datetime.fromtimestamp(since_ns / 1e9, UTC).isoformat(),
        "markets": markets,
        "total": totals,
        "performance": perf,
        "quotes": quote_stats(store, since_ns),
        "flow_by_hour_utc": flow_by_hour(all_ts, all_sign, all_size),
        "markout_bps": {"horizons_s": MARKOUT_HORIZONS_S, "markets": curves},
        "lp_positions": lp_positions_since(store, since_ns),
    }
    return report, {"grid": grid, "pnl": total_curve, "inventory": inventory, "curves": curves}


def _table(report: dict[str, Any], cols: list[str], integer: tuple[str, ...] = ("fills",)) -> list[str]:
    lines = ["| market | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for key, m in [*report["markets"].items(), ("**total**", report["total"])]:
        cells = [str(m[c]) if c in integer else f"{m[c]:.4f}" for c in cols]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return lines


def to_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Daily risk report (since {report['since']})", "", "## PnL breakdown (quote)", ""]
    lines += _table(
        report, ["fills", "spread_capture", "inventory_pnl", "hedging_cost", "fees", "rebates", "net"]
    )
    sources = sorted({m["mid_source"] for m in report["markets"].values()})
    lines += [
        "",
        "## Markouts and adverse selection (quote, over the fills whose horizon the mids reach)",
        "",
        "| market | horizon | fills | markout | adverse selection |",
        "|---|---|---|---|---|",
    ]
    for key, m in [*report["markets"].items(), ("**total**", report["total"])]:
        for label in MARKOUT_LABELS:
            lines.append(
                f"| {key} | {label} | {m[f'markout_{label}_fills']} | {m[f'markout_{label}']:.4f} "
                f"| {m[f'adverse_selection_{label}']:.4f} |"
            )
    lines += [
        "",
        f"Mids from: {', '.join(sources) or 'none'} (mid_series: the stored fair, exact at its "
        "resolution; pnl_snapshots: interpolated between PnL snapshots).",
    ]
    p = report["performance"]
    lines += [
        "",
        "## Performance",
        "",
        f"- Sharpe of {p['interval_s']:.0f} s PnL: {p['sharpe']:.3f} annualised, "
        f"{p['sharpe_per_interval']:.4f} per interval",
        f"- max drawdown: {p['max_drawdown']:.4f}",
        f"- win rate: {p['win_rate']:.1%} of {p['intervals']} intervals",
        "",
        "## Quotes",
        "",
        "| market | orders | filled | fill rate |",
        "|---|---|---|---|",
    ]
    for key, q in report["quotes"].items():
        lines.append(f"| {key} | {q['orders']} | {q['filled']} | {q['fill_rate']:.1%} |")
    lines += [
        "",
        "## Flow by UTC hour",
        "",
        "| hour | buys | sells | buy size | sell size |",
        "|---|---|---|---|---|",
    ]
    for hour, f in sorted(report["flow_by_hour_utc"].items()):
        lines.append(
            f"| {hour:02d} | {f['buys']} | {f['sells']} | {f['buy_size']:.6g} | {f['sell_size']:.6g} |"
        )
    lines += ["", *lp_report_lines(report["lp_positions"])]
    lines += ["Charts: pnl.png (PnL and drawdown), inventory.png, markouts.png", ""]
    return "\n".join(lines)


def write_report(store: Store, since_ns: int, out_dir: Path) -> dict[str, Path]:
    report, charts = build_report(store, since_ns)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "markdown": out_dir / "report.md",
        "json": out_dir / "report.json",
        "pnl": out_dir / "pnl.png",
        "inventory": out_dir / "inventory.png",
        "markouts": out_dir / "markouts.png",
    }
    paths["json"].write_text(json.dumps(report, indent=2))
    paths["markdown"].write_text(to_markdown(report))
    pnl_chart(paths["pnl"], charts["grid"], charts["pnl"])
    inventory_chart(paths["inventory"], charts["inventory"])
    markout_chart(paths["markouts"], MARKOUT_HORIZONS_S, charts["curves"])
    return paths
