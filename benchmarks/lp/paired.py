"""Ours hedged with other settings against ours hedged with the defaults, on the LP benchmark's
own paths, paired path by path: what a config change is worth before it goes live.

    python benchmarks/lp/paired.py --set entry_carry_errors=1.5 [--set KEY=VALUE ...]
                                   [--cells 0.6:500,1.2:3000,0.3~1.2:500] [--paths 32] [--cold]
                                   [--warmup-h 6] [--workers 2]

Each cell (σ:fee_pips, default all six of `lp_strategies.py`; calm~storm:fee_pips a regime
cell) runs both settings on the same seeded paths after the same warm-up (`--cold`: without
it); the table gives each one's hedged net (fees − LVR − gas − swap − hedge, token1 per path),
the paired difference ± its standard error, the verdict (> 2 SE), and the actions a path.
Values are read as JSON where they parse (numbers, true/false, lists), else as strings, and
checked as the config would check them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.lp.hedge import HedgeCosts
from benchmarks.lp.market import FEE_TIERS_PIPS, VOLS, WARMUP_H, Scenario
from benchmarks.lp.report import mean_se, paired_difference, verdict
from benchmarks.lp.run import OURS_COLD, OURS_HEDGED, Job, Outcome, ours_hedged_params, round_s, run_job
from strategies.lp.params import LpManagerParams


def setting(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` → (key, value), the value as JSON where it parses."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"KEY=VALUE, not {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def cells(text: str) -> list[tuple[float, int, float]]:
    """`σ:fee_pips` pairs, or `calm~storm:fee_pips` for a regime cell: (σ, fee_pips, storm σ or 0)."""
    try:
        out = []
        for part in text.split(","):
            sigma, fee = part.split(":")
            calm, _, storm = sigma.partition("~")
            out.append((float(calm), int(fee), float(storm or 0.0)))
        return out
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"σ:fee_pips or calm~storm:fee_pips pairs separated by commas, not {text!r}"
        ) from None


def candidate(defaults: LpManagerParams, settings: list[tuple[str, Any]]) -> LpManagerParams:
    """The defaults with `settings`, validated as the config validates them (unknown or bad keys
    raise, naming the key)."""
    return LpManagerParams.model_validate({**defaults.model_dump(), **dict(settings)})


def jobs_for(scenarios: list[Scenario], paths: int, params: LpManagerParams, cold: bool) -> list[Job]:
    strategy = OURS_COLD if cold else OURS_HEDGED
    jobs = []
    for sc in scenarios:
        for p in range(paths):
            jobs.append(Job(sc, p, strategy, round_s=round_s(strategy)))
            jobs.append(Job(sc, p, strategy, round_s=params.check_interval_s, params=params))
    return jobs


def table(outcomes: list[Outcome]) -> str:
    rows = ["cell            defaults        candidate       Δ ± SE            verdict  actions"]
    scenarios = sorted({o.job.scenario for o in outcomes}, key=lambda s: s.sort_key)
    for sc in scenarios:
        mine = sorted((o for o in outcomes if o.job.scenario == sc), key=lambda o: o.job.path)
        base = [o for o in mine if o.job.params is None]
        cand = [o for o in mine if o.job.params is not None]
        d_m, d_se = paired_difference(cand, base, lambda a: a.net_token1)
        b_m, _ = mean_se([o.hedged.net_token1 for o in base])
        c_m, _ = mean_se([o.hedged.net_token1 for o in cand])
        acts = f"{mean_se([o.actions for o in base])[0]:.2f} → {mean_se([o.actions for o in cand])[0]:.2f}"
        label = f"{sc.sigma_label} / {sc.fee_pips / 1e4:g} %"
        rows.append(
            f"{label:16s}{b_m:9.1f}{c_m:17.1f}{d_m:+13.1f} ± {d_se:<6.1f}  {verdict(d_m, d_se):8s} {acts}"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--set", type=setting, action="append", required=True, dest="settings")
    parser.add_argument("--cells", type=cells, default=[(s, f, 0.0) for f in FEE_TIERS_PIPS for s in VOLS])
    parser.add_argument("--paths", type=int, default=32)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--cold", action="store_true", help="ours does not watch the warm-up (a first start)")
    parser.add_argument(
        "--warmup-h", type=float, default=WARMUP_H, help="hours the pool trades before the day (ours watches)"
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    defaults = ours_hedged_params(HedgeCosts())
    try:
        params = candidate(defaults, args.settings)
    except ValueError as e:
        parser.error(str(e))
    # Cold as in the benchmark: the pool trades through the warm-up, ours does not watch it.
    scenarios = [Scenario(s, f, args.days, args.warmup_h, storm) for s, f, storm in args.cells]
    jobs = jobs_for(scenarios, args.paths, params, args.cold)
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        outcomes = list(pool.imap_unordered(run_job, [(j, HedgeCosts()) for j in jobs], chunksize=1))
    changed = ", ".join(f"{k} = {v!r}" for k, v in args.settings)
    start = "cold" if args.cold else f"after a {args.warmup_h:g} h warm-up"
    print(f"ours hedged, {changed} against the defaults; {args.paths} paths × {args.days:g} days, {start}")
    print("hedged net (fees − LVR − gas − swap − hedge), token1 per path")
    print(table(outcomes))


if __name__ == "__main__":
    main()
