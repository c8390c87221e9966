"""Why a strategy of the fair LP benchmark earns what it does, path by path, hedged: time held and
in range, when it entered, the half-width it held (time-weighted), and the carry model's fees,
LVR and hedge cost for the live position (what the rules saw, accumulated block by block while
in range) against the realised ones.

    python benchmarks/lp/diagnose.py --sigma 0.6 --fee 3000 [--paths 4] [--days 1] [--fixed 0.01]

The run is the benchmark's own (`benchmarks.lp.run.simulate`, same seeds, same figures); the model
is the hedged manager's (`ours_hedged_params`), also for a fixed width, so the two can be read
against each other: the hedge cost at the pool's σ̂ scaled by the pool path's band-trading ratio
(what the manager uses) and the plain diffusion model at the fair σ̂.
For a fixed width the σ̂s and the fee rate are that run's own, measured at the baselines' 300 s
rounds (the pool's σ̂ over 300 s returns, not ours' 60 s: at 0.3 % about 0.35 against 0.29).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.lp.hedge import HedgeCosts
from benchmarks.lp.market import BLOCK_S, Scenario
from benchmarks.lp.run import OURS_HEDGED, Job, fixed_name, ours_hedged_params, round_s, simulate
from benchmarks.lp.runners import LpRunner, ManagedLp
from strategies.lp.pool import Policy
from strategies.lp.rules import Decision, PoolView, Rules
from strategies.lp.situation import economics


@dataclass(slots=True)
class Rates:
    """The carry model's figures for the live position, token1 per second (0: flat)."""

    fees: float = 0.0
    lvr: float = 0.0
    hedge: float = 0.0  # at the pool's σ̂, as the manager models it
    hedge_fair: float = 0.0  # at the fair σ̂, no band-trading ratio


@dataclass(slots=True)
class PathFigures:
    held_s: float = 0.0
    in_range_s: float = 0.0
    width_s: float = 0.0  # Σ half-width × time held (its time-weighted mean: / held_s)
    model: Rates = field(default_factory=Rates)  # accumulated in range, token1
    hedge_in_range: float = 0.0
    hedge_else: float = 0.0  # flat or out of range: the idle wallet's hedge, funding
    entry_h: float = math.nan


class Decomposition:
    """A `benchmarks.lp.run.Probe`: the live position's modelled rates at each round, summed per
    block while in range, next to the hedge's realised cost."""

    def __init__(self, model_rules: Rules) -> None:
        self.model_rules = model_rules
        self.rates = Rates()
        self.fig = PathFigures()

    def wrap(self, policy: Policy) -> Policy:
        def observed(view: PoolView, rules: Rules) -> Decision:
            decision = policy(view, rules)
            self._observe(view, decision)
            return decision

        return observed

    def _observe(self, view: PoolView, decision: Decision) -> None:
        if view.liquidity is None:
            self.rates = Rates()
            if decision.executed_gate and math.isnan(self.fig.entry_h):
                self.fig.entry_h = view.now_ns / 3.6e12
            return
        e = economics(view, self.model_rules)
        fair = dataclasses.replace(e, hedge_sigma_annual=None, hedge_band_ratios=((), ()))
        liquidity = view.liquidity
        self.rates = Rates(
            float(e.fee_per_s(liquidity)),
            float(e.lvr_per_s(liquidity)),
            float(e.hedge_per_s(liquidity)),
            float(fair.hedge_per_s(liquidity)),
        )

    def block(self, runner: LpRunner, fair: float, hedge_cost_token1: float) -> None:
        pos = runner.manager.position if isinstance(runner, ManagedLp) else None
        f = self.fig
        if pos is None:
            f.hedge_else += hedge_cost_token1
            return
        f.held_s += BLOCK_S
        f.width_s += pos.choice.half_width * BLOCK_S
        if not pos.choice.price_lower < fair < pos.choice.price_upper:
            f.hedge_else += hedge_cost_token1
            return
        f.in_range_s += BLOCK_S
        f.hedge_in_range += hedge_cost_token1
        m, r = f.model, self.rates
        m.fees, m.lvr = m.fees + r.fees * BLOCK_S, m.lvr + r.lvr * BLOCK_S
        m.hedge, m.hedge_fair = m.hedge + r.hedge * BLOCK_S, m.hedge_fair + r.hedge_fair * BLOCK_S


COLUMNS = (
    "net", "fees", "fees~", "LVR", "LVR~", "hedge in", "hedge~", "hedge~fair", "hedge else",
    "gas", "swap", "held h", "in h", "entry h", "width %", "acts",
)  # fmt: skip


def diagnose(job: Job, costs: HedgeCosts) -> list[float]:
    """One path: the figures of `COLUMNS` (~: modelled)."""
    probe = Decomposition(ours_hedged_params(costs).rules())
    outcome = asyncio.run(simulate(job, costs, probe))
    a, f, m = outcome.hedged, probe.fig, probe.fig.model
    width = 100.0 * f.width_s / f.held_s if f.held_s > 0 else math.nan
    return [
        a.net_token1, a.fees_token1, m.fees, a.lvr_token1, m.lvr, f.hedge_in_range, m.hedge,
        m.hedge_fair, f.hedge_else, a.gas_token1, a.swap_cost_token1, f.held_s / 3600,
        f.in_range_s / 3600, f.entry_h, width, float(outcome.actions),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sigma", type=float, required=True, help="annual σ of the fair path, e.g. 0.6")
    parser.add_argument("--fee", type=int, required=True, help="fee tier in pips: 500 or 3000")
    parser.add_argument("--paths", type=int, default=4)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--warmup-h", type=float, default=0.0, help="hours ours watches before the day")
    parser.add_argument("--fixed", type=float, help="a fixed half-width instead of ours hedged")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    strategy = OURS_HEDGED if args.fixed is None else fixed_name(args.fixed)
    scenario, costs = Scenario(args.sigma, args.fee, args.days, args.warmup_h), HedgeCosts()
    print(f"{strategy}, {scenario.label}, {args.days:g} days; ~ = the carry model's, in range")
    print("path" + "".join(c.rjust(11) for c in COLUMNS))
    rows = []
    for p in range(args.paths):
        job = Job(scenario, p, strategy, args.fixed or 0.0, round_s(strategy))
        rows.append(diagnose(job, costs))
        print(f"{p:4d}" + "".join(f"{x:11.2f}" for x in rows[-1]))
    print("mean" + "".join(f"{x:11.2f}" for x in np.nanmean(np.array(rows), axis=0)))


if __name__ == "__main__":
    main()
