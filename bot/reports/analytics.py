"""Pure analytics of the daily risk report: fills and mid series in, numbers out (floats, numpy).

Mids come from the stored mid series (bot.kernel.mid_series: the fair on change, a step function,
exact at its resolution) or, for a store written before it existed, from the PnL snapshots,
interpolated linearly (a markout's precision is then the snapshot interval). Each fill's reference
mid m₀ is the fair stored with it when there is one, else the series' value at its time. Per fill
of side sign s (+1 buy, −1 sell), price p, size q and mids m(t):

    spread capture     s·(m₀ − p)·q             edge against the mid when we traded
    markout at h       s·(m(t+h) − p)·q         what the fill was worth h later
    adverse selection  s·(m₀ − m(t+h))·q        spread capture − markout (a cost when > 0)
    inventory PnL      s·(m(end) − m₀)·q        the mid's move on what we held
    hedging cost       s·(p − m₀)·q + fee       over taker fills (hedges cross the spread)

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
    fair: FloatArray | None = None  # the fair stored with each fill (NaN: none stored)
    is_maker: npt.NDArray[np.bool_] | None = None


@dataclass(frozen=True, slots=True)
class MidSeries:
    """Mids at `ts_ns`: a step function (each value holds until the next) when `step`, else
    interpolated linearly; flat before the first and after the last point."""

    ts_ns: npt.NDArray[np.int64]
    mid: FloatArray
    step: bool = False

    def at(self, ts_ns: npt.NDArray[np.int64]) -> FloatArray:
        if self.step:
            index = np.searchsorted(self.ts_ns, ts_ns, side="right") - 1
            return self.mid[np.maximum(index, 0)]
        return np.interp(ts_ns.astype(np.float64), self.ts_ns.astype(np.float64), self.mid)


def reference_mids(fills: FillSeries, mids: MidSeries) -> FloatArray:
    """m₀ of each fill: its stored fair where there is one, else the series at its time."""
    at = mids.at(fills.ts_ns)
    if fills.fair is None:
        return at
    return np.where(np.isfinite(fills.fair), fills.fair, at)


def markouts(
    fills: FillSeries, mids: MidSeries, horizon_s: float
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Markout of each fill at `horizon_s`, and which fills have a mid that far ahead."""
    later = fills.ts_ns + int(horizon_s * NS_PER_S)
    known = later <= mids.ts_ns[-1] if len(mids.ts_ns) else np.zeros(len(later), dtype=bool)
    values = fills.sign * (mids.at(later) - fills.price) * fills.size if len(mids.ts_ns) else np.zeros(0)
    return values, known


def pnl_breakdown(
    fills: FillSeries, mids: MidSeries, horizons_s: dict[str, float] | None = None
) -> dict[str, float]:
    """The PnL decomposition of one market's fills, and markouts and adverse selection at each
    horizon (label -> seconds; default 1 m and 5 m) over the fills the series reaches."""
    mid_at_fill = reference_mids(fills, mids)
    end_mid = float(mids.mid[-1])
    capture = fills.sign * (mid_at_fill - fills.price) * fills.size
    spread = float(np.sum(capture))
    inventory = float(np.sum(fills.sign * (end_mid - mid_at_fill) * fills.size))
    fees = float(np.sum(np.maximum(fills.fee_quote, 0.0)))
    rebates = float(-np.sum(np.minimum(fills.fee_quote, 0.0)))
    taker = ~fills.is_maker if fills.is_maker is not None else np.zeros(len(fills.ts_ns), dtype=bool)
    out = {
        "fills": len(fills.ts_ns),
        "volume_quote": float(np.sum(fills.price * fills.size)),
        "spread_capture": spread,
        "inventory_pnl": inventory,
        "fees": fees,
        "rebates": rebates,
        "net": spread + inventory - fees + rebates,
        "hedge_fills": int(np.sum(taker)),
        "hedging_cost": float(np.sum(fills.fee_quote[taker] - capture[taker])),
    }
    for label, horizon_s in (horizons_s or {"1m": 60.0, "5m": 300.0}).items():
        values, known = markouts(fills, mids, horizon_s)
        out[f"markout_{label}"] = float(np.sum(values[known]))
        out[f"adverse_selection_{label}"] = float(np.sum(capture[known] - values[known]))
        out[f"markout_{label}_fills"] = int(np.sum(known))
    return out


def minute_grid(start_ns: int, end_ns: int, step_s: float = 60.0) -> npt.NDArray[np.int64]:
    """start, start + step, ... up to end: the times of the PnL curve whose changes the Sharpe is of."""
    step_ns = int(step_s * NS_PER_S)
    if end_ns < start_ns:
        return np.zeros(0, dtype=np.int64)
    return start_ns + step_ns * np.arange((end_ns - start_ns) // step_ns + 1, dtype=np.int64)


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
