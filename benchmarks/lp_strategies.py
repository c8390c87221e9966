"""A fair LP benchmark: every strategy unhedged and with the same CEX hedge, paired by path.

    python benchmarks/lp_strategies.py [--quick] [--paths 32] [--days 1] [--workers 2] [--out FILE]
                                       [--warmup-h 6] [--cold] [--ours-round-s S] [--sensitivity]
                                       [--widths 1,2,5,10,30] [--refine 2] [--first-path 0] [--regimes]

Strategies, each on the exact simulated pool (benchmarks/lp/market.py states the market):
  ours        `strategies.lp.rules.decide` through `PoolLpManager.step`, the bot's own runner,
              with the default LpManagerParams; in the hedged tables its own run, told the
              hedge's band and cost (hedge_band_token0, hedge_cost_bps) as a user would;
  full range  opened once, never touched;
  charm       a Charm Alpha Vault-style rebalancer (base ± 3,600 ticks + single-sided limit
              order ± 1,200 ticks, rebalanced on a 12 h schedule, no swaps; benchmarks/lp/charm.py);
  fixed ±w    a grid of fixed half-widths that recentre once out of range, refined `--refine`
              times around each cell's best (`benchmarks/lp/grid.py`); the table shows the best
              of them on these very paths (`*`): chosen in hindsight, an upper bound.
Before the scored day the pool trades for `--warmup-h` hours (default 6) while ours watches it (its
rounds measure; it acts on nothing): a bot that has been running starts a day flat but measured.
`--cold` adds ours hedged on a first start on the same paths (the first day after it): seeded from
the warm-up's history (1-minute closes of the fair price, the pool's swaps), as the bot does where its
venues serve them, and cold (no history: a venue that serves none).
`--regimes` runs the volatility-regime cells instead (σ switching between 30 % and 120 %,
`benchmarks/lp/market.py`), where no one width suits the whole day; `--first-path 32` replicates
on paths the default run never saw.
The hedge (benchmarks/lp/hedge.py) is the same object and parameters for every strategy: the
bot's Hedger band rule, a taker fee, half spread, perp funding, latency. Accounting is the bot's:
`LpTotals`/`PoolLedger` (fees, gas, swap costs), `LvrMeter` (realised LVR on the fair path), the
`HedgeBook` (hedge fills and carry) and `PnlAttribution` (net = fees − LVR − gas − swap − hedge).
Paired differences: ours hedged − each hedged baseline per path; win > 2 SE, lose < −2 SE.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.lp.charm import CharmParams
from benchmarks.lp.grid import refined_widths
from benchmarks.lp.hedge import HedgeCosts
from benchmarks.lp.market import FEE_TIERS_PIPS, REGIMES, VOLS, WARMUP_H, Scenario
from benchmarks.lp.market import __doc__ as MARKET_DOC
from benchmarks.lp.report import Runs, best_fixed, group, headline, scenario_table
from benchmarks.lp.run import (
    CHARM,
    CHECK_S,
    FULL_RANGE,
    MANAGED,
    OURS,
    OURS_COLD,
    OURS_HEDGED,
    OURS_PARAMS,
    OURS_SEEDED,
    Job,
    Outcome,
    fixed_name,
    round_s,
    run_job,
)

# The hindsight-best is an upper bound only as far as the grid is fine where the best is: a 1-2-5
# grid, then twice the geometric midpoints around each cell's best (a step beyond the grid's end
# when the best is there; `benchmarks/lp/grid.py`). A finer fixed grid everywhere would cost
# more: a narrow range at σ 120 % recentres all day, the slowest baseline run there is.
FIXED_HALF_WIDTHS = (0.01, 0.02, 0.05, 0.10, 0.30)
REFINE_ROUNDS = 2


def half_widths(text: str) -> tuple[float, ...]:
    """`--widths 0.5,1,2,5`: percents, each in 0.1..99 (ours' `min_half_width` is 0.5 %)."""
    try:
        percents = sorted({float(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"percents separated by commas, not {text!r}") from None
    if not percents or not (percents[0] >= 0.1 and percents[-1] <= 99):
        raise argparse.ArgumentTypeError(f"each half-width within 0.1..99 %, not {text!r}")
    return tuple(p / 100.0 for p in percents)


def scenarios(days: float, warmup_h: float, regimes: bool) -> list[Scenario]:
    """The constant-σ cells (every σ × fee tier), or with `regimes` the volatility-regime ones."""
    if regimes:
        return [
            Scenario(calm, fee, days, warmup_h, storm) for calm, storm in REGIMES for fee in FEE_TIERS_PIPS
        ]
    return [Scenario(sigma, fee, days, warmup_h) for sigma in VOLS for fee in FEE_TIERS_PIPS]


def jobs_for(
    cells: list[Scenario],
    paths: range,
    widths: tuple[float, ...],
    ours_round_s: float | None,
    strategies: tuple[str, ...] = (OURS, OURS_HEDGED, FULL_RANGE, CHARM),
    cold: bool = False,
) -> list[Job]:
    jobs = []
    for sc in cells:
        # ours hedged again without watching the warm-up, seeded from its history and not: what a
        # first start costs with the history its venues serve, and without any, on the same paths
        unwatched = (OURS_SEEDED, OURS_COLD) if cold and sc.warmup_h > 0 and OURS_HEDGED in strategies else ()
        for p in paths:
            jobs += [Job(sc, p, s, 0.0, round_s(s, ours_round_s)) for s in (*strategies, *unwatched)]
            jobs += [Job(sc, p, fixed_name(w), w) for w in widths]
    # Slowest first (ours rounds 10× as often as the baselines): the two workers end together.
    jobs.sort(key=lambda j: (j.strategy not in MANAGED, -j.scenario.sigma_annual))
    return jobs


def refining_jobs(grouped: dict[Scenario, Runs], paths: range) -> list[Job]:
    """Per cell, the fixed widths around its hindsight-best so far (`benchmarks.lp.grid`)."""
    jobs = []
    for sc, runs in grouped.items():
        best = best_fixed(runs, hedged=True)
        if best is None:
            continue
        run = [rows[0].job.half_width for name, rows in runs.items() if name.startswith("fixed")]
        for w in refined_widths(run, runs[best][0].job.half_width):
            jobs += [Job(sc, p, fixed_name(w), w) for p in paths]
    return jobs


def path_span(first_path: int, paths: int) -> str:
    """Which seeds a run used, when not the default run's."""
    return f" (paths {first_path}–{first_path + paths - 1})" if first_path else ""


def assumptions(costs: HedgeCosts, charm: CharmParams, ours_round_s: float | None, warmup_h: float) -> str:
    market = "\n".join(line for line in (MARKET_DOC or "").splitlines()[2:] if line.strip())
    watched = (
        f"\n  - warm-up: the pool trades {warmup_h:g} h before the scored day; ours watches it (its rounds "
        "measure σ̂ and the fee rate; no action, no hedge): a bot that has been running and starts the "
        "day flat. --cold: 'ours, seeded' starts with the day, its estimates seeded from the warm-up's "
        "1-minute closes and the pool's swaps (a first start where the venues serve history); 'ours, "
        "cold' starts with the day from nothing"
        if warmup_h > 0
        else "\n  - no warm-up: ours starts with the day (the first day after a start)"
    )
    return (
        f"{market}\n  - {costs.describe()}\n  - rounds: ours every {round_s(OURS, ours_round_s):g} s "
        f"(default: its check_interval_s, the bot's schedule), the baselines every {CHECK_S:g} s, "
        f"all early on a {OURS_PARAMS.event_trigger_bps:g} bp fair move; charm: base "
        f"±{charm.base_threshold_ticks} ticks, limit {charm.limit_threshold_ticks} ticks, every "
        f"{charm.period_s / 3600:g} h{watched}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 paths of 3 h: a smoke run in seconds")
    parser.add_argument("--paths", type=int, default=32)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the output to this file")
    parser.add_argument(
        "--ours-round-s", type=float, help="ours' rounds this far apart (default: its check_interval_s)"
    )
    parser.add_argument(
        "--warmup-h",
        type=float,
        default=WARMUP_H,
        help="the pool trades this many hours before the scored day; ours watches (no action)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="also ours hedged on a first start, seeded from history and cold, same paths (+40 %% time)",
    )
    parser.add_argument(
        "--widths",
        type=half_widths,
        default=FIXED_HALF_WIDTHS,
        help="the fixed-width grid before refining, half-widths in %% (default 1,2,5,10,30)",
    )
    parser.add_argument(
        "--refine",
        type=int,
        default=REFINE_ROUNDS,
        help="rounds of fixed widths added around each cell's hindsight-best (default 2; 0: the grid alone)",
    )
    parser.add_argument(
        "--first-path",
        type=int,
        default=0,
        help="paths from this index on: --first-path 32 replicates on seeds the default run never saw",
    )
    parser.add_argument(
        "--regimes",
        action="store_true",
        help="the volatility-regime cells (σ switching between calm and storm) instead of constant σ",
    )
    parser.add_argument(
        "--sensitivity",
        action="store_true",
        help="ours hedged, full range and charm only (no fixed grid, ours unhedged): a cheaper re-run",
    )
    args = parser.parse_args()
    paths, days = (4, 0.125) if args.quick else (args.paths, args.days)
    costs, charm = HedgeCosts(), CharmParams()
    cells = scenarios(days, args.warmup_h, args.regimes)
    paths_run = range(args.first_path, args.first_path + paths)
    if args.sensitivity:
        jobs = jobs_for(cells, paths_run, (), args.ours_round_s, (OURS_HEDGED, FULL_RANGE, CHARM), args.cold)
    else:
        jobs = jobs_for(cells, paths_run, args.widths, args.ours_round_s, cold=args.cold)
    t0, cpu0 = time.perf_counter(), os.times()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        outcomes: list[Outcome] = list(pool.imap_unordered(run_job, [(j, costs) for j in jobs], chunksize=1))
        for _ in range(0 if args.sensitivity else args.refine):
            more = refining_jobs(group(outcomes), paths_run)
            jobs += more
            outcomes += pool.imap_unordered(run_job, [(j, costs) for j in more], chunksize=1)
    wall, cpu1 = time.perf_counter() - t0, os.times()
    cpu = cpu1.children_user + cpu1.children_system - cpu0.children_user - cpu0.children_system
    grouped = group(outcomes)
    order = sorted(grouped, key=lambda s: s.sort_key)
    text = "\n\n".join(
        [
            f"command: python benchmarks/lp_strategies.py {' '.join(sys.argv[1:])}\n"
            f"LP strategies, fair benchmark: {len(jobs)} exact-pool runs, {paths} paths × {days:g} days "
            f"per (σ, fee tier){path_span(args.first_path, paths)}, seeds paired across strategies and "
            "tiers\nassumptions:\n" + assumptions(costs, charm, args.ours_round_s, args.warmup_h),
            *(scenario_table(sc, grouped[sc]) for sc in order),
            headline(grouped),
            f"wall {wall:.0f} s on {args.workers} workers ({cpu:.0f} s CPU in the workers)",
        ]
    )
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
