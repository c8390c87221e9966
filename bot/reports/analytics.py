"""Pure analytics of the daily risk report: fills and mid series in, numbers out (floats, numpy).

Mids come from the stored PnL snapshots and are interpolated linearly between them, so a
markout's precision is that of the snapshot interval. Per fill of side sign s (+1 buy, −1 sell),
price p, size q and mids m(t):

    spread capture     s·(m(t) − p)·q           edge against the mid when we traded
    markout at h       s·(m(t+h) − p)·q         what the fill was worth h later
    adverse selection  s·(m(t) − m(t+h))·q      spread capture − markout (a cost when > 0)
    inventory PnL      s·(m(end) − m(t))·q      the mid's move on what we held

so spread capture + inventory PnL − fees is the mark-to-market PnL of the fills at the last mid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
NS_PER_S = 1_000_000_000
SECONDS_PER_YEAR = 365 * 86_400


@dataclass(frozen=True, slots=True)
class FillSeries:
    """One market's fills as columns (oldest first); fee_quote < 0 is a rebate."""

    ts_ns: npt.NDArray[np.int64]
    sign: FloatArray
    price: FloatArray
    size: FloatArray
    fee_quote: FloatArray


@dataclass(frozen=True, slots=True)
class MidSeries:
    ts_ns: npt.NDArray[np.int64]
    mid: FloatArray

    def at(self, ts_ns: npt.NDArray[np.int64]) -> FloatArray:
        return np.interp(ts_ns.astype(np.float64), self.ts_ns.astype(np.float64), self.mid)


def markouts(
    fills: FillSeries, mids: MidSeries, horizon_s: float
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Markout of each fill at `horizon_s`, and which fills have a mid that far ahead."""
    later = fills.ts_ns + int(horizon_s * NS_PER_S)
    known = later <= mids.ts_ns[-1] if len(mids.ts_ns) else np.zeros(len(later), dtype=bool)
    values = fills.sign * (mids.at(later) - fills.price) * fills.size if len(mids.ts_ns) else np.zeros(0)
    return values, known


def pnl_breakdown(fills: FillSeries, mids: MidSeries) -> dict[str, float]:
    mid_at_fill = mids.at(fills.ts_ns)
    end_mid = float(mids.mid[-1])
    spread = float(np.sum(fills.sign * (mid_at_fill - fills.price) * fills.size))
    inventory = float(np.sum(fills.sign * (end_mid - mid_at_fill) * fills.size))
    fees = float(np.sum(np.maximum(fills.fee_quote, 0.0)))
    rebates = float(-np.sum(np.minimum(fills.fee_quote, 0.0)))
    out = {
        "fills": len(fills.ts_ns),
        "volume_quote": float(np.sum(fills.price * fills.size)),
        "spread_capture": spread,
        "inventory_pnl": inventory,
        "fees": fees,
        "rebates": rebates,
        "net": spread + inventory - fees + rebates,
    }
    for label, horizon_s in (("1m", 60.0), ("5m", 300.0)):
        values, known = markouts(fills, mids, horizon_s)
        capture = fills.sign * (mid_at_fill - fills.price) * fills.size
        out[f"markout_{label}"] = float(np.sum(values[known]))
        out[f"adverse_selection_{label}"] = float(np.sum(capture[known] - values[known]))
        out[f"markout_{label}_fills"] = int(np.sum(known))
    return out


def pnl_curve(fills: FillSeries, mids: MidSeries) -> FloatArray:
    """Mark-to-market PnL of the fills at each mid time: cash + position · mid."""
    order = np.searchsorted(fills.ts_ns, mids.ts_ns, side="right")  # fills at or before each mid
    cash = np.concatenate([[0.0], np.cumsum(-fills.sign * fills.price * fills.size - fills.fee_quote)])
    position = np.concatenate([[0.0], np.cumsum(fills.sign * fills.size)])
    return cash[order] + position[order] * mids.mid


def performance(ts_ns: npt.NDArray[np.int64], pnl: FloatArray) -> dict[str, float]:
    """Sharpe of the per-interval PnL changes (annualised by the median interval), max drawdown,
    and win rate (share of intervals with a gain among those with a change)."""
    if len(pnl) < 2:
        return {"sharpe": 0.0, "max_drawdown": 0.0, "win_rate": 0.0, "intervals": 0}
    changes = np.diff(pnl)
    dt_s = float(np.median(np.diff(ts_ns))) / NS_PER_S
    std = float(np.std(changes, ddof=1)) if len(changes) > 1 else 0.0
    sharpe = (
        float(np.mean(changes)) / std * math.sqrt(SECONDS_PER_YEAR / dt_s) if std > 0 and dt_s > 0 else 0.0
    )
    drawdown = float(np.max(np.maximum.accumulate(pnl) - pnl))
    moved = changes[changes != 0]
    win_rate = float(np.mean(moved > 0)) if len(moved) else 0.0
    return {"sharpe": sharpe, "max_drawdown": drawdown, "win_rate": win_rate, "intervals": len(changes)}


def markout_curve(fills: FillSeries, mids: MidSeries, horizons_s: list[float]) -> list[float | None]:
    """Average markout per unit notional in bps at each horizon (None where no fill reaches it)."""
    out: list[float | None] = []
    notional = fills.price * fills.size
    for h in horizons_s:
        values, known = markouts(fills, mids, h)
        out.append(float(np.sum(values[known]) / np.sum(notional[known]) * 1e4) if known.any() else None)
    return out


def flow_by_hour(
    ts_ns: npt.NDArray[np.int64], sign: FloatArray, size: FloatArray
) -> dict[int, dict[str, float]]:
    """Buys and sells (count and base size) per UTC hour of day."""
    hours = (ts_ns // (3600 * NS_PER_S)) % 24
    out = {}
    for hour in np.unique(hours):
        sel = hours == hour
        buys = sel & (sign > 0)
        sells = sel & (sign < 0)
        out[int(hour)] = {
            "buys": int(buys.sum()),
            "sells": int(sells.sum()),
            "buy_size": float(size[buys].sum()),
            "sell_size": float(size[sells].sum()),
        }
    return out
