"""PNG charts of the daily report (matplotlib, Agg backend: no display on a VPS).

Figures are made with matplotlib's object API, not pyplot: no global figure registry to close,
safe from any thread, and pyplot's backend machinery is never imported (0.1 s of each report).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

NS_PER_H = 3600 * 1_000_000_000
# Fixed margins in inches, room for a title, an axis label and 7-character tick labels (the
# formatter switches to an offset beyond that). Not tight_layout: it draws the whole figure once
# more just to measure its labels, 40% of the charts' time in a 2,000-row backtest.
LEFT_IN, RIGHT_IN, TOP_IN, BOTTOM_IN = 1.0, 0.2, 0.4, 0.6


def _figure(width_in: float, height_in: float, hspace: float = 0.2) -> Figure:
    fig = Figure(figsize=(width_in, height_in))
    fig.subplots_adjust(
        left=LEFT_IN / width_in,
        right=1 - RIGHT_IN / width_in,
        top=1 - TOP_IN / height_in,
        bottom=BOTTOM_IN / height_in,
        hspace=hspace,
    )
    return fig


def _hours(ts_ns: npt.NDArray[np.int64], start_ns: int) -> npt.NDArray[np.float64]:
    return (ts_ns - start_ns) / NS_PER_H


def pnl_chart(path: Path, ts_ns: npt.NDArray[np.int64], pnl: npt.NDArray[np.float64]) -> None:
    fig = _figure(9, 6, hspace=0.1)  # the panels share their x axis: no labels between them
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    hours = _hours(ts_ns, int(ts_ns[0]) if len(ts_ns) else 0)
    top.plot(hours, pnl, color="tab:blue")
    top.set_ylabel("PnL (quote)")
    top.set_title("PnL and drawdown")
    drawdown = np.maximum.accumulate(pnl) - pnl if len(pnl) else pnl
    bottom.fill_between(hours, -drawdown, 0, color="tab:red", alpha=0.5)
    bottom.set_ylabel("drawdown")
    bottom.set_xlabel("hours since start of report")
    _save(fig, path)


def inventory_chart(
    path: Path, series: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]
) -> None:
    fig = _figure(9, 4)
    ax = fig.subplots()
    start = min((int(ts[0]) for ts, _ in series.values() if len(ts)), default=0)
    for market, (ts, position) in series.items():
        ax.step(_hours(ts, start), position, where="post", label=market)
    ax.set_title("Inventory (base units, from fills)")
    ax.set_xlabel("hours since start of report")
    if series:
        ax.legend(loc="best", fontsize="small")
    _save(fig, path)


def markout_chart(path: Path, horizons_s: list[float], curves: dict[str, list[float | None]]) -> None:
    fig = _figure(9, 4)
    ax = fig.subplots()
    for market, values in curves.items():
        points = [(h, v) for h, v in zip(horizons_s, values, strict=True) if v is not None]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=market)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_title("Average markout after a fill")
    ax.set_xlabel("seconds after the fill")
    ax.set_ylabel("bps of notional")
    if curves:
        ax.legend(loc="best", fontsize="small")
    _save(fig, path)


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)  # attaches itself: savefig renders with Agg
    fig.savefig(path, format="png", dpi=80)
