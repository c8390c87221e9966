"""`mmbot report`: the daily risk report from the store, as Markdown, JSON and PNG charts."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from bot.kernel.store import FillRow, OrderRow, PnlSnapshotRow, Store
from bot.reports.analytics import (
    FillSeries,
    MidSeries,
    flow_by_hour,
    markout_curve,
    performance,
    pnl_breakdown,
    pnl_curve,
)
from bot.reports.charts import inventory_chart, markout_chart, pnl_chart

MARKOUT_HORIZONS_S = [0.0, 10.0, 30.0, 60.0, 120.0, 300.0]


def _fee_quote(row: FillRow) -> float:
    base, quote = row.symbol.split("/")
    fee = Decimal(row.fee)
    if row.fee_asset == quote:
        return float(fee)
    if row.fee_asset == base:
        return float(fee * Decimal(row.price))
    return 0.0


def load_series(store: Store, since_ns: int) -> tuple[dict[str, FillSeries], dict[str, MidSeries]]:
    with Session(store.engine) as s:
        fills = s.exec(
            select(FillRow).where(FillRow.exchange_ts_ns >= since_ns).order_by(col(FillRow.exchange_ts_ns))
        ).all()
        snaps = s.exec(
            select(PnlSnapshotRow).where(PnlSnapshotRow.ts_ns >= since_ns).order_by(col(PnlSnapshotRow.ts_ns))
        ).all()
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
        )
        for key, rows in by_market.items()
    }
    mid_series = {
        key: MidSeries(np.array([t for t, _ in rows], dtype=np.int64), np.array([m for _, m in rows]))
        for key, rows in mid_rows.items()
    }
    return fill_series, mid_series


def quote_stats(store: Store, since_ns: int) -> dict[str, dict[str, Any]]:
    with Session(store.engine) as s:
        rows = s.exec(select(OrderRow).where(OrderRow.created_ns >= since_ns)).all()
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


def build_report(store: Store, since_ns: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(report, chart data)."""
    fills, mids = load_series(store, since_ns)
    markets: dict[str, Any] = {}
    curves: dict[str, list[float | None]] = {}
    inventory: dict[str, Any] = {}
    grid = np.unique(np.concatenate([m.ts_ns for m in mids.values()])) if mids else np.zeros(0, np.int64)
    total_curve = np.zeros(len(grid))
    for key, f in fills.items():
        m = mids.get(key)
        if m is None or len(m.ts_ns) == 0:
            continue
        markets[key] = pnl_breakdown(f, m)
        curves[key] = markout_curve(f, m, MARKOUT_HORIZONS_S)
        on_grid = MidSeries(grid, m.at(grid))
        total_curve += pnl_curve(f, on_grid)
        inventory[key] = (f.ts_ns, np.cumsum(f.sign * f.size))
    totals = {
        k: sum(m[k] for m in markets.values())
        for k in ("spread_capture", "inventory_pnl", "fees", "rebates", "net", "volume_quote", "fills")
    }
    for k in ("markout_1m", "markout_5m", "adverse_selection_1m", "adverse_selection_5m"):
        totals[k] = sum(m[k] for m in markets.values())
    all_ts = np.concatenate([f.ts_ns for f in fills.values()]) if fills else np.zeros(0, np.int64)
    all_sign = np.concatenate([f.sign for f in fills.values()]) if fills else np.zeros(0)
    all_size = np.concatenate([f.size for f in fills.values()]) if fills else np.zeros(0)
    report = {
        "since": datetime.fromtimestamp(since_ns / 1e9, UTC).isoformat(),
        "markets": markets,
        "total": totals,
        "performance": performance(grid, total_curve),
        "quotes": quote_stats(store, since_ns),
        "flow_by_hour_utc": flow_by_hour(all_ts, all_sign, all_size),
        "markout_bps": {"horizons_s": MARKOUT_HORIZONS_S, "markets": curves},
    }
    return report, {"grid": grid, "pnl": total_curve, "inventory": inventory, "curves": curves}


def to_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Daily risk report (since {report['since']})", "", "## PnL breakdown (quote)", ""]
    cols = ["fills", "spread_capture", "inventory_pnl", "adverse_selection_1m", "adverse_selection_5m",
            "fees", "rebates", "net"]  # fmt: skip
    lines.append("| market | " + " | ".join(cols) + " |")
    lines.append("|---" * (len(cols) + 1) + "|")
    for key, m in [*report["markets"].items(), ("**total**", report["total"])]:
        lines.append(
            f"| {key} | " + " | ".join(f"{m[c]:.4f}" if c != "fills" else str(m[c]) for c in cols) + " |"
        )
    p = report["performance"]
    lines += [
        "",
        "## Performance",
        "",
        f"- Sharpe (annualised): {p['sharpe']:.3f}",
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
    lines += ["", "Charts: pnl.png (PnL and drawdown), inventory.png, markouts.png", ""]
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
