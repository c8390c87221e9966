"""Issue #20: how far `mmbot backtest --compare` puts a replay from a real-time paper session.

Per session (one facade seed each): `mmbot mock-exchange` (takers 6/s, as tests/paper's restart
test) and `mmbot run` with a paper venue on it (one BTC/USDT market, the reliability tests'
fixed-spread config, `order_latency_ms = 5`, `record_dir`) for `--duration` seconds of wall time,
as real processes. Then `mmbot backtest --compare` replays the recording four ways, paired on the
same session:

- `synthetic, receipt`: rows at the time the venue received them, the configured 5 ms (how
  recordings were replayed before #20's timing work);
- `synthetic, take-in`: rows at the time the bot took them in (the recording's local time);
- `timing, receipt` / `timing, take-in`: the same with the session's recorded timing
  (`session_timing`: the bot requotes and syncs when the session's did, each request reaches the
  matching and answers when it did; such a replay shows the rows at receipt time either way).

Printed per session and variant: fills (session / replay), fills in common, PnL (session /
replay) and the differences; then each variant's mean and spread across sessions.

    PYTHONPATH=. python benchmarks/paper_live_tracking.py --sessions 2 --duration 60
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from bot.cli import main as mmbot
from connectors.replay.events import load_events, make_event_data, save_events
from tests.kit import child_env
from tests.reliability.procs import OPTIONS, FacadeProcess, bot_config, facade_config, start_bot

INITIAL = {"USDT": "100000", "BTC": "1", "ETH": "20"}
VARIANTS = (("synthetic", "receipt"), ("synthetic", "take-in"), ("timing", "receipt"), ("timing", "take-in"))


def run_session(work: Path, seed: int, duration_s: float) -> dict[str, Any]:
    """A real-time paper session recorded into work/rec; its config (as a dict)."""
    facade = FacadeProcess(work, facade_config(seed=seed, taker_rate_per_s=6.0))
    try:
        config = bot_config(facade.url, instance_id="paper")
        config["bot"]["database_url"] = f"sqlite:///{work / 'bot.sqlite'}"
        config["markets"] = config["markets"][:1]
        config["strategies"]["mm"]["markets"] = ["fx:BTC/USDT"]
        config["venues"]["fx"] = {
            "kind": "paper", "exchange": "binance", "urls": facade.url, "options": OPTIONS,
            "maker_fee_bps": "1", "taker_fee_bps": "5", "rate_limit_ms": 1, "backoff_base_s": 0.05,
            "backoff_max_s": 0.5, "order_latency_ms": 5, "initial_balances": INITIAL,
            "record_dir": str(work / "rec"),
        }  # fmt: skip
        (work / "bot.toml").write_text(tomli_w.dumps(config))
        proc = start_bot(work / "bot.toml", work, work / "bot.log", env=child_env(), duration_s=duration_s)
        if proc.wait(timeout=duration_s + 120) != 0:
            raise SystemExit(f"paper session failed: {(work / 'bot.log').read_text()[-2000:]}")
    finally:
        facade.stop()
    return config


def at_receipt(recording: Path, out: Path) -> Path:
    """The recording with each row's local time set back to its receipt (exchange) time."""
    d = load_events(recording)
    return save_events(
        out, make_event_data(d.meta, kind=d.kind, side=d.side, exch_ts_ns=d.exch_ts_ns,
                             local_ts_ns=d.exch_ts_ns, price_ticks=d.price_ticks, size_lots=d.size_lots),
    )  # fmt: skip


def replay(work: Path, config: dict[str, Any], timing: str, rows: str) -> dict[str, float]:
    [recording] = sorted((work / "rec").glob("*.npz"))
    [timing_file] = sorted((work / "rec").glob("*.timing.json"))
    data = recording if rows == "take-in" else at_receipt(recording, work / "receipt.npz")
    venue: dict[str, Any] = {
        "kind": "replay", "data": str(data), "queue_model": "risk_averse", "order_latency_ms": 5,
        "maker_fee_bps": "1", "taker_fee_bps": "5", "initial_balances": INITIAL,
        "fill_on_crossing_book": False, "book_depth": 50,
    }  # fmt: skip
    if timing == "timing":
        venue["session_timing"] = str(timing_file)
    bt = {**config, "venues": {"fx": venue}, "bot": {**config["bot"], "database_url": "sqlite:///x.sqlite"}}
    out = work / f"bt-{timing}-{rows}"
    out.mkdir(exist_ok=True)
    (out / "bt.toml").write_text(tomli_w.dumps(bt))
    argv = ["backtest", "--config", str(out / "bt.toml"), "--out", str(out), "--quiet"]
    with contextlib.redirect_stdout(io.StringIO()):
        if mmbot([*argv, "--compare", f"{work / 'bot.sqlite'}:paper"]) != 0:
            raise SystemExit(f"backtest failed in {out}")
    report = json.loads((out / "compare.json").read_text())
    total, seq = report["total"], report["fill_sequence"]
    return {
        "fills_s": total["fills"]["session"], "fills_b": total["fills"]["backtest"],
        "common": seq["in_common"], "pnl_s": total["net"]["session"], "pnl_b": total["net"]["backtest"],
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=2)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of wall time per session")
    ap.add_argument("--out", help="keep each session's files here (default: a temporary folder)")
    args = ap.parse_args()
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="paper-tracking-"))
    rows: dict[tuple[str, str], list[dict[str, float]]] = {v: [] for v in VARIANTS}
    print("| session | replay | fills session / replay (diff) | in common | PnL session / replay (diff) |")
    print("|---|---|---|---|---|")
    for seed in range(1, args.sessions + 1):
        work = root / f"session-{seed}"
        work.mkdir(parents=True, exist_ok=True)
        config = (
            run_session(work, seed, args.duration)
            if not (work / "bot.toml").exists()
            else (tomllib.loads((work / "bot.toml").read_text()))
        )
        for variant in VARIANTS:
            r = replay(work, config, *variant)
            rows[variant].append(r)
            print(
                f"| {seed} | {', '.join(variant)} | {r['fills_s']:.0f} / {r['fills_b']:.0f} "
                f"({_pct(r['fills_b'], r['fills_s'])}) "
                f"| {r['common']:.0f} ({r['common'] / r['fills_s']:.0%}) "
                f"| {r['pnl_s']:.2f} / {r['pnl_b']:.2f} ({_pct(r['pnl_b'], r['pnl_s'])}) |",
                flush=True,
            )
    print("\n| replay | fill count diff % | fills in common % | PnL diff % |  (mean ± stdev over sessions)")
    print("|---|---|---|---|")
    for variant, rs in rows.items():
        cols = [
            [100 * (r["fills_b"] / r["fills_s"] - 1) for r in rs],
            [100 * r["common"] / r["fills_s"] for r in rs],
            [100 * (r["pnl_b"] / r["pnl_s"] - 1) for r in rs],
        ]
        print(f"| {', '.join(variant)} | " + " | ".join(_spread(c) for c in cols) + " |")
    print(f"\nfiles: {root}")


def _pct(b: float, s: float) -> str:
    return f"{100 * (b / s - 1):+.1f} %" if s else "n/a"


def _spread(xs: list[float]) -> str:
    return f"{statistics.mean(xs):.1f} ± {statistics.stdev(xs):.1f}" if len(xs) > 1 else f"{xs[0]:.1f}"


if __name__ == "__main__":
    main()
