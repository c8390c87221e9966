"""The entry gate's error bar against the real spread of what it bars, on the LP benchmark's paths.

    python benchmarks/lp/gate_errors.py [--paths 32] [--warmup-h 6] [--workers 2]

Ours hedged watches each path's pool for the warm-up (as in `lp_strategies.py`); then its view
gives the entry gate's estimate, fee rate − LVR per unit of liquidity (LVR at the fee window's
σ̂), and the error it is judged with. The paths of a cell share σ and the pool, so the spread of
the estimate across them is its real error. Two claims side by side: the rounds' errors taken as
independent (what the gate used before `strategies/lp/carry_error.py`, and still uses until
enough batches) and the batch means' (fee runs and the fees' correlation with the moves
included). z-std: the standard deviation across paths of (estimate − its mean) ÷ the error the
path claims; 1 is a calibrated bar (± about 0.13 from 32 paths). Paths whose regime switch
restarted the batches (no batch error yet) are counted and left out of the batch columns.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.lp.hedge import HedgeCosts
from benchmarks.lp.market import FEE_TIERS_PIPS, VOLS, WARMUP_H, Scenario
from benchmarks.lp.run import (
    OURS_HEDGED,
    OURS_PARAMS,
    Job,
    RoundSchedule,
    _runner,
    _warm_up,
    market_for,
    round_s,
)
from bot.core.clock import NS_PER_S
from strategies.lp.rules import Action, Decision, PoolView, Rules
from strategies.lp.situation import economics, entry_sigma, rounds_carry_error

# per path: estimate, the rounds' independent error, the batch error (NaN: none), the fee rate
Reading = tuple[float, float, float, float]


async def reading(job: Job) -> Reading:
    costs = HedgeCosts()
    m = market_for(job, costs)
    runner = _runner(job, m.pool, m.fair, m.clock, costs)
    trigger = OURS_PARAMS.event_trigger_bps / 1e4
    rounds = RoundSchedule.starting(int(job.round_s * NS_PER_S), trigger, m.fair())
    await _warm_up(runner, m, rounds)  # type: ignore[arg-type]
    seen: list[Reading] = []

    def read(view: PoolView, rules: Rules) -> Decision:
        sigma, sigma_rel_error = entry_sigma(view)
        e = economics(view, rules).at(sigma, view.capital_token1)
        rounds_error = rounds_carry_error(view, e, sigma_rel_error)
        seen.append((view.fee_rate - e.lvr_per_s(1.0), rounds_error, view.carry_error_per_l, view.fee_rate))
        return Decision(Action.HOLD, "reading the gate", False)

    await runner.manager.step(read)  # type: ignore[attr-defined]
    return seen[0]


def run(job: Job) -> Reading:
    logging.disable(logging.WARNING)
    return asyncio.run(reading(job))


def row(sigma: float, fee_pips: int, r: np.ndarray) -> str:
    estimate, by_rounds, by_batches, fee = r.T
    known = np.isfinite(by_batches)
    unit = fee.mean()  # figures as fractions of the fee rate

    def z_std(claimed: np.ndarray, where: np.ndarray) -> float:
        e = estimate[where]
        return float(np.std((e - e.mean()) / claimed[where], ddof=1))

    every = np.ones_like(known)
    return (
        f"  {sigma:>4.0%} {fee_pips / 1e4:>5.2f} % {estimate.mean() / unit:>+9.3f}"
        f" {estimate.std(ddof=1) / unit:>8.4f} {by_rounds.mean() / unit:>8.4f}"
        f" {z_std(by_rounds, every):>6.2f}"
        f" {estimate[known].std(ddof=1) / unit:>9.4f} {by_rounds[known].mean() / unit:>8.4f}"
        f" {z_std(by_rounds, known):>6.2f} {np.mean(by_batches[known]) / unit:>8.4f}"
        f" {z_std(by_batches, known):>6.2f} {int((~known).sum()):>6}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=32)
    parser.add_argument("--warmup-h", type=float, default=WARMUP_H)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    cells = [(fee, sigma) for fee in FEE_TIERS_PIPS for sigma in VOLS]
    jobs = [
        Job(Scenario(sigma, fee, 1.0, args.warmup_h), p, OURS_HEDGED, 0.0, round_s(OURS_HEDGED))
        for fee, sigma in cells
        for p in range(args.paths)
    ]
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        readings = np.array(pool.map(run, jobs, chunksize=1))
    print(
        f"The entry gate's fee rate − LVR after {args.warmup_h:g} h watched, {args.paths} paths a cell, "
        "as fractions of the fee rate: its spread across paths against the error claimed"
    )
    print(f"  {'':>13} {'':>9} {'all paths':^23} {'paths with a batch error':^50}")
    print(
        f"  {'σ':>4} {'fee':>7} {'estimate':>9} {'spread':>8} {'rounds':>8} {'z-std':>6} {'spread':>9} "
        f"{'rounds':>8} {'z-std':>6} {'batches':>8} {'z-std':>6} {'none':>6}"
    )
    for i, (fee, sigma) in enumerate(cells):
        print(row(sigma, fee, readings[i * args.paths : (i + 1) * args.paths]))
    print(f"wall {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
