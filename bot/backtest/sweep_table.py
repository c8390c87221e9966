"""The ranked table of `mmbot sweep`: one row per grid point, the ranking rule, Markdown.

Ranking rule: points that traded (at least one fill) come first, by net PnL (highest first),
ties by Sharpe (n/a last); then points without a fill, in grid order: their zero PnL says the
quotes never traded, not that they broke even, so they rank after every point that traded,
losing ones included; then points that failed (no rank), with their error.

Sharpe: the backtest report's annualised Sharpe of its 1-minute PnL changes (the PnL marked on
the stored 1 s mid series every minute, bot/reports/report.py), shown only when there are at
least MIN_SHARPE_INTERVALS such changes (half an hour of data) and the point traded; "n/a"
otherwise, since a ratio of a handful of samples, annualised, is noise.
"""

from __future__ import annotations

import math
from typing import Any

MIN_SHARPE_INTERVALS = 30
RANK_COLUMNS = ("net_pnl", "sharpe", "max_drawdown", "fill_rate", "fills", "orders")
RULE = (
    "Ranked: points with fills by net PnL (ties: Sharpe), then points without fills (grid order), "
    f"then failed points. Sharpe: annualised, of 1-minute PnL changes; n/a under "
    f"{MIN_SHARPE_INTERVALS} of them or without fills."
)


def sweep_sharpe(summary: dict[str, Any]) -> float | None:
    """The Sharpe a row shows: None when too few PnL changes back it, or nothing traded."""
    if summary.get("fills", 0) <= 0 or summary.get("pnl_intervals", 0) < MIN_SHARPE_INTERVALS:
        return None
    return float(summary["sharpe"])


def row_of(index: int, point: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """A table row from a point's result: its summary (Sharpe per the rule) or its error."""
    row: dict[str, Any] = {"point": point, "folder": f"point-{index:03d}", "index": index}
    if "node_id" in result:
        row["node_id"] = result["node_id"]
    if "error" in result:
        return dict(row, error=result["error"])
    summary = dict(result["summary"])
    summary["sharpe"] = sweep_sharpe(summary)
    return dict(row, **summary)


def rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in the order of the rule, each with its `rank` (None for a failed point)."""
    done = sorted((r for r in rows if "error" not in r), key=lambda r: r["index"])
    traded = sorted(
        (r for r in done if r["fills"] > 0),
        key=lambda r: (-r["net_pnl"], r["sharpe"] is None, -(r["sharpe"] or 0.0)),
    )
    idle = [r for r in done if r["fills"] <= 0]
    failed = sorted((r for r in rows if "error" in r), key=lambda r: r["index"])
    ranked = [dict(r, rank=i + 1) for i, r in enumerate([*traded, *idle])]
    return [*ranked, *(dict(r, rank=None) for r in failed)]


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else "n/a"
    return str(value)


def _note(row: dict[str, Any]) -> str:
    if "error" in row:
        first = row["error"].strip().splitlines()[0] if row["error"].strip() else "error"
        text = first if len(first) <= 200 else first[:199] + "…"
        return "failed: " + text.replace("|", "\\|")
    return "no fills" if row["fills"] <= 0 else ""


def to_markdown(rows: list[dict[str, Any]], keys: list[str]) -> str:
    head = ["rank", *keys, *RANK_COLUMNS, "note"]
    lines = ["# Sweep", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for r in rows:
        cells = ["—" if r["rank"] is None else str(r["rank"]), *(_cell(r["point"][k]) for k in keys)]
        cells += ["" if "error" in r else _cell(r[c]) for c in RANK_COLUMNS]
        lines.append("| " + " | ".join([*cells, _note(r)]) + " |")
    return "\n".join([*lines, "", RULE, ""])
