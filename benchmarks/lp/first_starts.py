"""A first start against a bot that watched: ours hedged on the LP benchmark's paths after the
6 h warm-up (watching it round by round), against the same manager started with the scored day
either seeded from the warm-up's history (its closes of the fair price and the pool's swaps: what
the bot reads from its venues on a first start, `strategies/lp/first_start.py`) or cold (no
history), paired path by path.

    python benchmarks/lp/first_starts.py [--cells 0.3:500,0.6:500,0.3:3000,0.6:3000] [--paths 32]
                                         [--close-s 60] [--close-half-spread-bps 0] [--plain-seeding]
                                         [--workers 2] [--out FILE]

`--close-s`: the seeded start's closes this far apart (a multiple of the 12 s block; 60 = the
bot's default `history_interval_s`). `--close-half-spread-bps`: each close a trade at the bid or
the ask this far from the fair price (a coin per close), as a venue's candles are: the bid-ask
bounce the seeding takes out of σ̂ (`strategies/lp/bounce.py`); `--plain-seeding` seeds σ̂ from the
closes as they are (the seeding before that correction: the before arm, same paths).
Figures: hedged net (fees − LVR − gas − swap − hedge, token1 per path) of each start, and seeded −
watching, seeded − cold, ± SE with the verdict (> 2 SE).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.lp.hedge import HedgeCosts
from benchmarks.lp.market import BLOCK_S, WARMUP_H, Scenario
from benchmarks.lp.paired import cells
from benchmarks.lp.report import group, mean_se, paired_difference, verdict
from benchmarks.lp.run import OURS_COLD, OURS_HEDGED, OURS_SEEDED, Job, Outcome, round_s, run_job
from strategies.lp import seeding
from strategies.lp.bounce import NO_BOUNCE

STARTS = (OURS_HEDGED, OURS_SEEDED, OURS_COLD)


def jobs_for(
    scenarios: list[Scenario], paths: int, close_blocks: int, half_spread_bps: float = 0.0
) -> list[Job]:
    return [
        Job(sc, p, s, 0.0, round_s(s), close_blocks=close_blocks, close_half_spread_bps=half_spread_bps)
        for sc in scenarios
        for p in range(paths)
        for s in STARTS
    ]


def table(outcomes: list[Outcome]) -> str:
    starts = "".join(name.rjust(14) for name in ("watching", "seeded", "cold"))
    lines = [f"  {'cell':<22}{starts}   {'seeded − watching':>24}   {'seeded − cold':>24}"]
    grouped = group(outcomes)
    for sc in sorted(grouped, key=lambda s: s.sort_key):
        runs = grouped[sc]
        nets = "".join(
            "{:>14}".format("{:.1f}±{:.1f}".format(*mean_se([o.hedged.net_token1 for o in runs[s]])))
            for s in STARTS
        )
        diffs = []
        for base in (OURS_HEDGED, OURS_COLD):
            d, se = paired_difference(runs[OURS_SEEDED], runs[base], lambda a: a.net_token1)
            diffs.append(f"{d:+.1f} ± {se:.1f} {verdict(d, se):<4}".rjust(24))
        lines.append(f"  {sc.label:<22}{nets}   {diffs[0]}   {diffs[1]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cells", type=cells, default=cells("0.3:500,0.6:500,0.3:3000,0.6:3000"))
    parser.add_argument("--paths", type=int, default=32)
    parser.add_argument("--close-s", type=int, default=60, help="the seeded start's closes this far apart")
    parser.add_argument(
        "--close-half-spread-bps",
        type=float,
        default=0.0,
        help="the closes traded at bid or ask, this far out",
    )
    parser.add_argument("--plain-seeding", action="store_true", help="σ̂ from the closes with their bounce")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.close_s <= 0 or args.close_s % BLOCK_S:
        parser.error(f"--close-s must be a positive multiple of the {BLOCK_S} s block, not {args.close_s}")
    scenarios = [Scenario(s, f, 1.0, WARMUP_H, storm) for s, f, storm in args.cells]
    jobs = jobs_for(scenarios, args.paths, args.close_s // BLOCK_S, args.close_half_spread_bps)
    if args.plain_seeding:  # before the workers fork: they inherit it
        seeding.bounce_of = lambda prices: NO_BOUNCE
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        outcomes = pool.map(run_job, [(j, HedgeCosts()) for j in jobs], chunksize=1)
    spread = args.close_half_spread_bps
    bounce = f", traded at bid or ask {spread:g} bp from the fair," if spread > 0 else ""
    bounce += " σ̂ from them as they are (plain seeding)," if args.plain_seeding else ""
    text = (
        f"command: python benchmarks/lp/first_starts.py {' '.join(sys.argv[1:])}\n"
        f"ours hedged, hedged net a path (token1 on 30,000; mean ± SE over {args.paths} paths × 1 day): "
        f"watching the {WARMUP_H:g} h warm-up, seeded from it (closes every {args.close_s} s"
        f"{bounce} and the pool's swaps), cold; paired differences ± SE (win/lose beyond 2 SE)\n"
        f"{table(outcomes)}\nwall {time.perf_counter() - t0:.0f} s on {args.workers} workers"
    )
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
