"""Quoting quality (issue #15): fixed spread vs Avellaneda-Stoikov vs GLFT on toxic mock flow.

The real Bot on the simulated clock against one mock venue (BTC/USDT at 60,000, sigma 60 %/yr,
noise takers 1/s, informed takers 0.5/s with a 2 bps edge, one level of 0.005 BTC, max position
0.1 BTC), for each model, toxicity control off/on, informed horizon 10 s and 60 s, and seed. PnL is
marked to the flow's latent fair price (exact truth, not the book): fills are priced at the fair
read when they happen (the flow has just advanced to that instant, so the read draws nothing), and
a fixed grid of fair reads gives the 1-min PnL marks and the fair 1 m / 5 m after each fill
(linear interpolation between grid points GRID_MS apart). Every model sees the same fair path and
the same takers for a seed, so the ratios to the fixed-spread baseline are paired by seed.

    PYTHONPATH=. python benchmarks/quoting_quality.py                 # 5 seeds x 4 simulated hours
    PYTHONPATH=. python benchmarks/quoting_quality.py --quick         # smoke: 2 seeds x 10 minutes
    PYTHONPATH=. python benchmarks/quoting_quality.py --seeds 8 --hours 2 --workers 2

Edit MODELS / COMMON / TOXICITY_ON below to try other parameters (e.g. the README's defaults).

Cost (measured 2026-12-06 on the shared 2-core machine): one run takes ~18 s of CPU per simulated
hour (the Bot requoting on 10 books/s dominates, not the takers), ~35 s of wall per simulated hour
per process under load. The default (5 seeds x 4 h, 3 models x 2 horizons = 30 runs, 60 with the
toxicity rows) is therefore ~20-35 min (40-70 min with toxicity) on 2 cores, not 10; `--hours 0.5`
takes ~9 min for 30 runs. The flow rates are the issue's and were not cut: fewer takers would not
make it faster. The Sharpe is annualised from the 1-min PnL changes, as `mmbot report` computes it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.app.config import AppConfig, validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from bot.core.config_base import ConfigError
from bot.core.domain import Side
from bot.core.events import FillEvent
from bot.reports.analytics import performance
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import MockVenue

# ---- what is compared (edit here) --------------------------------------------------------------
BASELINE = "fixed_spread"
MODELS: dict[str, dict[str, Any]] = {
    # the baseline: 3 bps half spread, reservation shifted 6 bps at full inventory
    "fixed_spread": {"kind": "fixed_spread", "half_spread_bps": 3, "skew_bps_per_unit_inventory_fraction": 6},
    # the README's recommended settings (config.example.toml): the model's spread kept between 3 and
    # 4 bps a side (min/max_spread_bps are bid-to-ask), a skew of 12 bps at full inventory
    "avellaneda": {
        "kind": "avellaneda", "skew_at_max_inventory_bps": 12, "max_skew_bps": 20, "horizon_s": 60,
        "min_spread_bps": 6, "max_spread_bps": 8,
        "volatility": {"half_life_s": 300, "fallback_annual_vol": 0.6},
        "intensity": {"fallback_a_per_s": 0.5, "fallback_kappa_per_bps": 0.5},
    },
    "glft": {
        "kind": "glft", "skew_at_max_inventory_bps": 12, "max_skew_bps": 20,
        "min_spread_bps": 6, "max_spread_bps": 8,
        "volatility": {"half_life_s": 300, "fallback_annual_vol": 0.6},
        "intensity": {"fallback_a_per_s": 0.5, "fallback_kappa_per_bps": 0.5},
    },
}  # fmt: skip
COMMON: dict[str, Any] = {  # every model: one level, the example config's refresh controls
    "n_levels": 1, "min_requote_interval_ms": 250, "refresh_tolerance_bps": 1.5, "max_order_age_s": 30,
}  # fmt: skip
TOXICITY_ON: dict[str, Any] = {"enabled": True}  # the ladder's `toxicity` section for the "on" rows
HORIZONS_S = (10.0, 60.0)  # informed takers' look-ahead: the two toxicity levels
MARKET: dict[str, Any] = {
    "symbol": "BTC/USDT", "tick_size": "0.1", "lot_size": "0.001", "initial_price": "60000",
    "maker_fee_bps": "0", "taker_fee_bps": "5", "volatility_annual": 0.6,
    "noise_taker_rate_per_s": 1.0, "informed_taker_rate_per_s": 0.5, "informed_edge_bps": 2.0,
}  # fmt: skip
ORDER_SIZE, MAX_POSITION = "0.005", "0.1"
GRID_MS = 250  # fair price read every GRID_MS of simulated time
MARKOUT_S = (60, 300)
PNL_INTERVAL_S = 60
VENUE, SYMBOL = "sim", "BTC/USDT"
# target of the issue: best model >= 1.5x the baseline Sharpe, >= 30 % lower 5-min adverse selection
TARGET_SHARPE_RATIO, TARGET_AS_CUT = 1.5, 0.30


@dataclass(frozen=True)
class Job:
    model: str
    toxicity: bool
    horizon_s: float
    seed: int
    hours: float


@dataclass
class RunResult:
    """One run's truth: our fills with the fair when they happened, and the fair on a fixed grid."""

    job: Job
    fill_ts_ns: list[int] = field(default_factory=list)
    fill_sign: list[float] = field(default_factory=list)
    fill_price: list[float] = field(default_factory=list)
    fill_size: list[float] = field(default_factory=list)
    fill_fee_quote: list[float] = field(default_factory=list)
    fill_fair: list[float] = field(default_factory=list)
    grid_ts_ns: list[int] = field(default_factory=list)
    grid_fair: list[float] = field(default_factory=list)
    balance_change: dict[str, float] = field(default_factory=dict)  # venue account, end - start
    wall_s: float = 0.0


def config_dict(job: Job, db_url: str) -> dict[str, Any]:
    strategy = {**COMMON, **MODELS[job.model], "markets": [f"{VENUE}:{SYMBOL}"]}
    if job.toxicity:
        strategy["toxicity"] = dict(TOXICITY_ON)
    venue = {
        "kind": "mock", "seed": job.seed, "order_latency_ms": 20, "feed_latency_ms": 10,
        "initial_balances": {"USDT": "1000000", "BTC": "10"},
        "markets": [{**MARKET, "informed_horizon_s": job.horizon_s}],
    }  # fmt: skip
    return {
        "bot": {"instance_id": "qq", "database_url": db_url, "clock": "simulated",
                "summary_interval_s": 3600, "snapshot_interval_s": 600},
        "venues": {VENUE: venue},
        "markets": [
            {"venue": VENUE, "symbol": SYMBOL, "order_size": ORDER_SIZE, "max_position": MAX_POSITION}
        ],
        "strategies": {"mm": strategy},
        "risk": {"max_order_notional": "100000", "max_total_position_notional": "10000000"},
    }  # fmt: skip


def toxicity_supported() -> bool:
    """Whether this tree's config accepts the `toxicity` section (tried, not guessed from names)."""
    job = Job(BASELINE, True, HORIZONS_S[0], 1, 0.1)
    try:
        validate_config(config_dict(job, "sqlite:///unused.sqlite"))
    except ConfigError:
        return False
    return True


def _record_fills(venue: MockVenue, result: RunResult) -> None:
    market = venue.exchange.markets[SYMBOL]
    quote = SYMBOL.split("/")[1]

    def on_event(account_id: str | None, event: object) -> None:
        if account_id != venue.account_id or not isinstance(event, FillEvent) or venue.flow is None:
            return
        fill = event.fill
        price, size = float(market.price(fill.price_ticks)), float(market.size(fill.size_lots))
        # the flow advanced to this instant before matching: the path's present is the fill time
        fair = venue.flow.fair_price(SYMBOL)
        fee = float(fill.fee) * (1.0 if fill.fee_asset == quote else fair)
        result.fill_ts_ns.append(fill.exchange_ts_ns)
        result.fill_sign.append(1.0 if fill.side is Side.BUY else -1.0)
        result.fill_price.append(price)
        result.fill_size.append(size)
        result.fill_fee_quote.append(fee)
        result.fill_fair.append(fair)

    venue.exchange.add_listener(on_event)


async def _sample_fair(venue: MockVenue, result: RunResult, end_ns: int) -> None:
    """Fair on a fixed grid from the flow's start; the same reads for every model of a seed."""
    while venue.flow is None:
        await asyncio.sleep(GRID_MS / 1000)
    clock, step_ns = venue.clock, GRID_MS * 1_000_000
    start_ns = clock.now_ns()
    ts_ns = start_ns
    while ts_ns <= end_ns:
        await asyncio.sleep(max(0.0, (ts_ns - clock.now_ns()) / 1e9))
        result.grid_ts_ns.append(ts_ns)
        result.grid_fair.append(venue.fair_price(SYMBOL, max(ts_ns, clock.now_ns())))
        ts_ns += step_ns


def run_one(job: Job) -> RunResult:
    """The Bot for `job.hours` simulated hours with the job's model; fills and fair recorded."""
    started = time.perf_counter()
    result = RunResult(job)
    with tempfile.TemporaryDirectory(prefix="mmbot-qq-") as tmp:
        config: AppConfig = validate_config(config_dict(job, f"sqlite:///{tmp}/qq.sqlite"))

        async def main() -> None:
            epoch_ns = int(config.bot.sim_start.timestamp() * 1e9)
            clock = LoopClock(epoch_ns=epoch_ns)
            params = config.venues[VENUE]
            assert isinstance(params, MockVenueParams)
            venue = MockVenue(VENUE, params, clock)
            _record_fills(venue, result)
            duration_s = job.hours * 3600
            sampler = asyncio.create_task(_sample_fair(venue, result, epoch_ns + int(duration_s * 1e9)))
            bot = Bot(config, Path(tmp), venues={VENUE: venue})
            initial = {a: b.total for a, b in venue.exchange.balances(venue.account_id).items()}
            await bot.run(duration_s=duration_s)
            sampler.cancel()
            final = venue.exchange.balances(venue.account_id)
            result.balance_change = {a: float(final[a].total - initial[a]) for a in initial}
            await venue.close()
            bot.store.close()

        run_simulated(main)
    result.wall_s = time.perf_counter() - started
    return result


# ---- metrics -----------------------------------------------------------------------------------


def pnl_curve(result: RunResult, ts_ns: np.ndarray) -> np.ndarray:
    """Cash + inventory x fair at each of `ts_ns` (a grid time), from the fills at or before it."""
    fill_ts = np.asarray(result.fill_ts_ns, dtype=np.int64)
    sign, price = np.asarray(result.fill_sign), np.asarray(result.fill_price)
    size, fee = np.asarray(result.fill_size), np.asarray(result.fill_fee_quote)
    cash = np.concatenate([[0.0], np.cumsum(-sign * price * size - fee)])
    position = np.concatenate([[0.0], np.cumsum(sign * size)])
    n = np.searchsorted(fill_ts, ts_ns, side="right")
    fair = np.interp(ts_ns, result.grid_ts_ns, result.grid_fair)
    return np.asarray(cash[n] + position[n] * fair)


def markouts_bps(result: RunResult, horizon_s: float) -> tuple[float, float, int]:
    """(markout, adverse selection) in bps of traded notional at `horizon_s`, over the fills whose
    horizon ends inside the run; markout = sign x (fair(t+h) - price), adverse selection =
    sign x (fair(t) - fair(t+h)), so markout = spread capture - adverse selection."""
    ts = np.asarray(result.fill_ts_ns, dtype=np.int64) + int(horizon_s * 1e9)
    keep = ts <= (result.grid_ts_ns[-1] if result.grid_ts_ns else 0)
    if not keep.any():
        return 0.0, 0.0, 0
    sign, price = np.asarray(result.fill_sign)[keep], np.asarray(result.fill_price)[keep]
    size, fair_t = np.asarray(result.fill_size)[keep], np.asarray(result.fill_fair)[keep]
    fair_h = np.interp(ts[keep], result.grid_ts_ns, result.grid_fair)
    notional = float(np.sum(size * price))
    markout = float(np.sum(sign * size * (fair_h - price))) / notional * 1e4
    adverse = float(np.sum(sign * size * (fair_t - fair_h))) / notional * 1e4
    return markout, adverse, int(keep.sum())


def summarize(result: RunResult) -> dict[str, float]:
    grid = np.asarray(result.grid_ts_ns, dtype=np.int64)
    step = max(1, PNL_INTERVAL_S * 1000 // GRID_MS)
    marks = grid[::step]
    pnl = pnl_curve(result, marks)
    perf = performance(marks, pnl)
    out = {
        "pnl": float(pnl[-1]) if len(pnl) else 0.0,
        "sharpe": perf["sharpe"],
        "max_dd": perf["max_drawdown"],
        "fills": float(len(result.fill_ts_ns)),
        "wall_s": result.wall_s,
    }
    for h in MARKOUT_S:
        out[f"mo_{h}"], out[f"as_{h}"], _ = markouts_bps(result, h)
    return out


def _job_summary(job: Job) -> tuple[Job, dict[str, float]]:
    return job, summarize(run_one(job))


# ---- report ------------------------------------------------------------------------------------


def _spread(values: list[float]) -> str:
    """mean ± standard error [min, max] across seeds."""
    arr = np.asarray([v for v in values if math.isfinite(v)])
    if len(arr) == 0:
        return "n/a"
    se = float(np.std(arr, ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else 0.0
    return f"{arr.mean():6.2f} ± {se:4.2f} [{arr.min():.2f}, {arr.max():.2f}]"


def _ratio(a: float, b: float) -> float:
    return a / b if b != 0 else math.nan


COLUMNS = ("pnl", "sharpe", "max_dd", "fills", "mo_60", "as_60", "mo_300", "as_300")


Results = dict[Job, dict[str, float]]


def _row(results: Results, model: str, tox: bool, horizon_s: float, seed: int) -> dict[str, float]:
    hours = next(iter(results)).hours  # one run length per benchmark
    return results[Job(model, tox, horizon_s, seed, hours)]


def print_table(results: Results, horizon_s: float, toxicity_modes: list[bool]) -> None:
    seeds = sorted({j.seed for j in results})
    print(f"\n== informed horizon {horizon_s:g} s ({len(seeds)} seeds; mean over seeds; markouts and "
          "adverse selection in bps of notional, + = we gained / we lost) ==")  # fmt: skip
    print(f"{'model':14s} {'tox':3s} " + " ".join(f"{c:>9s}" for c in COLUMNS))
    for model in MODELS:
        for tox in toxicity_modes:
            rows = [_row(results, model, tox, horizon_s, s) for s in seeds]
            means = [float(np.mean([r[c] for r in rows])) for c in COLUMNS]
            print(f"{model:14s} {'on' if tox else 'off':3s} " + " ".join(f"{m:9.2f}" for m in means))
    print("paired by seed, vs the fixed spread with toxicity off: ratio of Sharpe, of PnL, "
          "5-min adverse selection change (% and bps)")  # fmt: skip
    for model in MODELS:
        for tox in toxicity_modes:
            if model != BASELINE or tox:
                paired = _paired(results, model, tox, horizon_s, seeds)
                print(f"  {model:14s} {'on' if tox else 'off':3s} {paired}")


def _paired(results: Results, model: str, tox: bool, horizon_s: float, seeds: list[int]) -> str:
    pairs = [
        (_row(results, model, tox, horizon_s, s), _row(results, BASELINE, False, horizon_s, s)) for s in seeds
    ]
    sharpe = [_ratio(r["sharpe"], b["sharpe"]) for r, b in pairs]
    pnl = [_ratio(r["pnl"], b["pnl"]) for r, b in pairs]
    adverse = [100 * (_ratio(r["as_300"], b["as_300"]) - 1) for r, b in pairs]
    adverse_bps = [r["as_300"] - b["as_300"] for r, b in pairs]
    return (
        f"Sharpe x {_spread(sharpe)}  PnL x {_spread(pnl)}  AS5m % {_spread(adverse)}"
        f"  AS5m bps diff {_spread(adverse_bps)}"
    )


def verdict(results: Results, horizon_s: float, toxicity_modes: list[bool]) -> str:
    """The issue's target on the means over seeds: best (by Sharpe) non-baseline configuration."""
    seeds = sorted({j.seed for j in results})

    def mean(model: str, tox: bool, col: str) -> float:
        return float(np.mean([_row(results, model, tox, horizon_s, s)[col] for s in seeds]))

    base = {c: mean(BASELINE, False, c) for c in ("sharpe", "pnl", "as_300")}
    candidates = [(m, t) for m in MODELS for t in toxicity_modes if (m, t) != (BASELINE, False)]
    model, tox = max(candidates, key=lambda mt: mean(mt[0], mt[1], "sharpe"))
    sharpe_x = _ratio(mean(model, tox, "sharpe"), base["sharpe"])
    as_cut = 1 - _ratio(mean(model, tox, "as_300"), base["as_300"])
    pnl_ok = mean(model, tox, "pnl") >= base["pnl"]
    ok = sharpe_x >= TARGET_SHARPE_RATIO and as_cut >= TARGET_AS_CUT and pnl_ok
    return (
        f"VERDICT horizon {horizon_s:g} s: best {model} (toxicity {'on' if tox else 'off'}) Sharpe "
        f"{sharpe_x:.2f}x baseline (target >= {TARGET_SHARPE_RATIO}), 5-min adverse selection "
        f"{-100 * as_cut:+.0f} % vs baseline (target <= {-100 * TARGET_AS_CUT:.0f} %), PnL "
        f"{'not lower' if pnl_ok else 'LOWER'} -> {'MET' if ok else 'NOT MET'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=4.0, help="simulated hours per run (default 4)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per configuration (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 seeds x 10 simulated minutes")
    args = parser.parse_args()
    hours, n_seeds = (10 / 60, 2) if args.quick else (args.hours, args.seeds)
    toxicity_modes = [False, True] if toxicity_supported() else [False]
    if len(toxicity_modes) == 1:
        print("toxicity control: this tree's config has no `toxicity` section: the 'on' rows are skipped")
    jobs = [Job(m, t, h, s, hours) for h in HORIZONS_S for m in MODELS for t in toxicity_modes
            for s in range(1, n_seeds + 1)]  # fmt: skip
    print(f"{len(jobs)} runs of {hours:g} simulated h on {args.workers} processes ...", flush=True)
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        results = dict(pool.imap_unordered(_job_summary, jobs))
    wall = time.perf_counter() - started
    for h in HORIZONS_S:
        print_table({j: r for j, r in results.items() if j.horizon_s == h}, h, toxicity_modes)
    print()
    for h in HORIZONS_S:
        print(verdict({j: r for j, r in results.items() if j.horizon_s == h}, h, toxicity_modes))
    cpu = sum(r["wall_s"] for r in results.values())
    print(f"wall {wall:.0f} s for {len(jobs)} runs ({cpu / len(jobs):.1f} s per run in its process)")


if __name__ == "__main__":
    main()
