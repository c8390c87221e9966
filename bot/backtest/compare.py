"""`mmbot backtest --compare <store>[:instance]`: the tracking error of a backtest against the live
or paper session whose recording it replayed.

Both sides are read the same way, from their stores, over the recording's span only (its first to
last row, local time): each market's fills and stored mids through the report's own loader and
analytics (bot/reports), so a figure here is the one `mmbot report` would give for that span.
Per market and in total: fill count, traded volume, net PnL, the 1-minute markout, both sides
valued against the same mids (the backtest's: the recording as it replayed it; the session's only
for a market the backtest stored none of), so a difference is the trading's, not the moment each
side happened to store its last mid; then the same by UTC hour, and how far the two fill
sequences agree one for one (side, price, size, maker, fee and the order id, in exchange-time
order). Differences are
backtest minus session.

Markets are paired through the recording: its meta names the session's venue and symbol, and the
backtest's replay venue that played it gives the backtest's market key.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import make_url

from bot.app.config import AppConfig
from bot.core.config_base import ConfigError
from bot.core.ids import validate_instance_id
from bot.kernel.store import Store
from bot.kernel.store_rows import FillRow
from bot.reports.analytics import FillSeries, MidSeries, pnl_breakdown, pnl_curve
from bot.reports.report import load_series
from connectors.replay.events import load_events
from connectors.replay.params import ReplayVenueParams

NS_PER_HOUR = 3600 * 1_000_000_000
FIGURES = ("fills", "volume_quote", "net", "markout_1m")
_LABELS = {"fills": "fills", "volume_quote": "volume", "net": "PnL", "markout_1m": "markout 1m"}
_MARKOUT = {"1m": 60.0}


@dataclass(frozen=True, slots=True)
class SessionStore:
    """Where the compared session's rows are: a store URL and the bot instance that wrote them."""

    url: str
    instance_id: str

    @property
    def shown(self) -> str:
        """The URL with any password masked (it is printed and written to compare.json)."""
        return f"{make_url(self.url).render_as_string(hide_password=True)} (instance {self.instance_id})"


@dataclass(frozen=True, slots=True)
class Span:
    """The recording's time span, and its markets: backtest market key -> session market key."""

    start_ns: int
    end_ns: int
    markets: dict[str, str]


def parse_session_store(arg: str, default_instance: str) -> SessionStore:
    """`<store>[:instance]`: a store URL or an SQLite file path, optionally `:` an instance id
    (default: the config's). An SQLite file must exist: the session is read, never created."""
    head, sep, tail = arg.rpartition(":")
    instance = default_instance
    if sep and head:
        try:
            instance = validate_instance_id(tail)
            arg = head
        except ValueError:
            pass  # the ':' belongs to the URL (scheme, password, port)
    url = arg if "://" in arg else f"sqlite:///{Path(arg).resolve()}"
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or not Path(path).is_file():
            raise ConfigError("--compare", [f"no such store file {path or arg!r}"])
    return SessionStore(url, instance)


def recording_span(config: AppConfig) -> Span:
    """The span and markets of a backtest config's replay venues (data paths already resolved)."""
    starts, ends, markets = [], [], {}
    for name, params in config.venues.items():
        if isinstance(params, ReplayVenueParams):
            data = load_events(params.data)
            if len(data):
                starts.append(data.start_ns)
                ends.append(data.end_ns)
            markets[f"{name}:{data.meta.symbol}"] = f"{data.meta.venue}:{data.meta.symbol}"
    return Span(min(starts, default=0), max(ends, default=0), markets)


# ---- one side: its fills and mids over the span ------------------------------------------------


@dataclass(frozen=True, slots=True)
class SideData:
    """One side's markets (keyed by the backtest's market key) over the span."""

    fills: dict[str, FillSeries]
    mids: dict[str, MidSeries]
    rows: dict[str, list[FillRow]]


def _clip_fills(f: FillSeries, end_ns: int) -> FillSeries:
    keep = f.ts_ns <= end_ns
    fair = None if f.fair is None else f.fair[keep]
    maker = None if f.is_maker is None else f.is_maker[keep]
    return FillSeries(
        f.ts_ns[keep], f.sign[keep], f.price[keep], f.size[keep], f.fee_quote[keep], fair, maker
    )


def _clip_mids(m: MidSeries, end_ns: int) -> MidSeries:
    keep = m.ts_ns <= end_ns
    return MidSeries(m.ts_ns[keep], m.mid[keep], m.step)


def load_side(store: Store, span: Span, keys: dict[str, str]) -> SideData:
    """`keys`: backtest market key -> this store's market key."""
    fills, mids = load_series(store, span.start_ns)
    out = SideData({}, {}, {})
    for key, own in keys.items():
        if own in fills:
            out.fills[key] = _clip_fills(fills[own], span.end_ns)
        if own in mids:
            out.mids[key] = _clip_mids(mids[own], span.end_ns)
        venue, symbol = own.split(":", 1)
        out.rows[key] = [
            r for r in store.fills(venue, symbol) if span.start_ns <= r.exchange_ts_ns <= span.end_ns
        ]
    return out


def _empty_fills() -> FillSeries:
    z = np.zeros(0)
    return FillSeries(np.zeros(0, np.int64), z, z, z, z, z, np.zeros(0, bool))


def figures(side: SideData, key: str) -> dict[str, float]:
    """The report's figures of one market (bot.reports.analytics.pnl_breakdown)."""
    f, m = side.fills.get(key, _empty_fills()), side.mids.get(key)
    if m is None or not len(m.ts_ns):
        if len(f.ts_ns):
            raise ConfigError("--compare", [f"{key}: fills but no stored mids to value them"])
        return dict.fromkeys(FIGURES, 0.0)
    out = pnl_breakdown(f, m, _MARKOUT)
    return {k: float(out[k]) for k in FIGURES}


def hour_edges(span: Span) -> np.ndarray:
    """Span start, each whole UTC hour inside it, span end."""
    first = span.start_ns // NS_PER_HOUR * NS_PER_HOUR + NS_PER_HOUR
    inner = np.arange(first, span.end_ns, NS_PER_HOUR, dtype=np.int64)
    return np.concatenate([[span.start_ns], inner, [span.end_ns]]).astype(np.int64)


def hourly(side: SideData, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Fills, volume and mark-to-market PnL change in each [edge, next edge) (the last bucket
    includes the span's end), summed over the markets."""
    n = len(edges) - 1
    out = {"fills": np.zeros(n), "volume_quote": np.zeros(n), "net": np.zeros(n)}
    for key, f in side.fills.items():
        bucket = np.clip(np.searchsorted(edges, f.ts_ns, side="right") - 1, 0, n - 1)
        out["fills"] += np.bincount(bucket, minlength=n)[:n]
        out["volume_quote"] += np.bincount(bucket, weights=f.price * f.size, minlength=n)[:n]
        m = side.mids.get(key)
        if m is not None and len(m.ts_ns):
            curve = pnl_curve(f, MidSeries(edges, m.at(edges)))
            out["net"] += np.diff(curve)
    return out


def fill_sequence(session: list[FillRow], backtest: list[FillRow]) -> dict[str, Any]:
    """How far the two fill sequences agree one for one, in exchange-time order: the common
    prefix and where they part, and how many fills the two have in common anywhere. A fill is
    the same when its side, price, size, maker flag, fee and exchange time are (maker fills of a
    replay carry the time of the recorded print that made them; not the order id, which one
    extra order on either side would shift for the rest of the run)."""

    def key(f: FillRow) -> tuple[Any, ...]:
        return (f.exchange_ts_ns, f.side, f.price_ticks, f.size_lots, f.is_maker, f.fee)

    s, b = sorted(map(key, session)), sorted(map(key, backtest))
    same = 0
    while same < min(len(s), len(b)) and s[same] == b[same]:
        same += 1
    parted = None
    if same < max(len(s), len(b)):
        parted = min(x[same][0] for x in (s, b) if same < len(x))
    common = sum((Counter(s) & Counter(b)).values())
    return {"matched": same, "in_common": common, "session": len(s), "backtest": len(b),
            "first_difference_ns": parted}  # fmt: skip


# ---- the comparison ----------------------------------------------------------------------------


def compare(session_store: Store, backtest_store: Store, span: Span) -> dict[str, Any]:
    """The comparison report (JSON-able): per market and total figures, per-hour, fill sequence."""
    session = load_side(session_store, span, span.markets)
    backtest = load_side(backtest_store, span, {k: k for k in span.markets})
    session.mids.update(backtest.mids)  # one mark for both sides
    markets: dict[str, Any] = {}
    rows_s: list[FillRow] = []
    rows_b: list[FillRow] = []
    for key, own in span.markets.items():
        s, b = figures(session, key), figures(backtest, key)
        markets[key] = {"session_market": own, **_sides(s, b)}
        rows_s += session.rows[key]
        rows_b += backtest.rows[key]
    total = (
        {k: sum(m[k]["session"] for m in markets.values()) for k in FIGURES},
        {k: sum(m[k]["backtest"] for m in markets.values()) for k in FIGURES},
    )
    edges = hour_edges(span)
    hs, hb = hourly(session, edges), hourly(backtest, edges)
    hours = [
        {"start": _iso(int(edges[i])), **_sides({k: float(v[i]) for k, v in hs.items()},
                                                 {k: float(v[i]) for k, v in hb.items()})}
        for i in range(len(edges) - 1)
    ]  # fmt: skip
    return {
        "start": _iso(span.start_ns),
        "end": _iso(span.end_ns),
        "markets": markets,
        "total": _sides(*total),
        "by_hour_utc": hours,
        "fill_sequence": fill_sequence(rows_s, rows_b),
    }


def _sides(session: dict[str, float], backtest: dict[str, float]) -> dict[str, dict[str, float]]:
    return {
        k: {"session": session[k], "backtest": backtest[k], "difference": backtest[k] - session[k]}
        for k in session
    }


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, UTC).isoformat(timespec="milliseconds")


def _cell(key: str, value: float) -> str:
    return f"{value:.0f}" if key == "fills" else f"{value:.4f}"


def to_markdown(report: dict[str, Any], shown: str) -> str:
    lines = [
        "# Tracking error: backtest vs session",
        "",
        f"Session: {shown}. Span: {report['start']} to {report['end']} (the recording's).",
        "Difference = backtest - session; PnL is marked to each side's own last mid.",
        "",
        "| market | figure | session | backtest | difference |",
        "|---|---|---|---|---|",
    ]
    for name, m in [*report["markets"].items(), ("**total**", report["total"])]:
        for k in FIGURES:
            v = m[k]
            lines.append(
                f"| {name} | {_LABELS[k]} | {_cell(k, v['session'])} | {_cell(k, v['backtest'])} "
                f"| {_cell(k, v['difference'])} |"
            )
    seq = report["fill_sequence"]
    lines += ["", f"Fill for fill (time, side, price, size, maker, fee): the first {seq['matched']} of "
              f"{seq['session']} session fills and {seq['backtest']} backtest fills are the same, "
              f"{seq['in_common']} in common in all"]  # fmt: skip
    if seq["first_difference_ns"] is not None:
        lines[-1] += f"; they part at {_iso(seq['first_difference_ns'])}"
    lines[-1] += "."
    cols = ("fills", "volume_quote", "net")
    head = " | ".join(f"{_LABELS[k]} {w}" for k in cols for w in ("session", "backtest", "diff"))
    lines += ["", "## By UTC hour", "", f"| hour from | {head} |", "|---" * (1 + 3 * len(cols)) + "|"]
    for h in report["by_hour_utc"]:
        cells = [_cell(k, h[k][w]) for k in cols for w in ("session", "backtest", "difference")]
        lines.append(f"| {h['start']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_comparison(
    session: SessionStore, backtest_config: AppConfig, out_dir: Path
) -> tuple[dict[str, Any], Path]:
    """Compare the backtest just run into `out_dir` (its store named by `backtest_config`) with
    `session`; writes compare.json and compare.md there. (report, markdown path)."""
    span = recording_span(backtest_config)
    session_store = Store(session.url, session.instance_id)
    backtest_store = Store(backtest_config.bot.database_url, backtest_config.bot.instance_id)
    try:
        if not session_store.fills() and session.instance_id not in session_store.instance_ids():
            others = ", ".join(session_store.instance_ids()) or "none"
            raise ConfigError(
                "--compare", [f"no rows of instance {session.instance_id!r} (instances: {others})"]
            )
        report = compare(session_store, backtest_store, span)
    finally:
        session_store.close()
        backtest_store.close()
    report["session_store"] = session.shown
    (out_dir / "compare.json").write_text(json.dumps(report, indent=2))
    md = out_dir / "compare.md"
    md.write_text(to_markdown(report, session.shown))
    return report, md
