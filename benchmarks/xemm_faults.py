"""XEMM under timed venue faults (issue #22), whole bot through real ccxt, per scenario and seed.

The bot is a real `mmbot run` process running the code of `--tree` (default: this checkout);
the two facades (maker va, taker vb) and every measurement are this checkout's
(tests/xvenue/xemm_facade_kit.py), so the same venue judges any version. The baseline is the
commit before #22's work unpacked in a directory:

    git archive 9262c33 | tar -x -C /tmp/xemm_before
    python benchmarks/xemm_faults.py --tree /tmp/xemm_before --seeds 1,2,3
    python benchmarks/xemm_faults.py --seeds 1,2,3

Scenarios: "restart" (SIGKILL 0.2 s after a maker fill the bot heard of only by REST, restart),
"taker_503" (3 s of 503 on every signed taker call, half after executing, and a silent taker user
stream, a maker fill every 0.6 s), "taker_down" (12 s of 503 on every new taker order, before it
executes: longer than XEMM's default escalation bound of 10 s), "sub_lot" (taker lot 0.002, eight
maker fills of 0.001, no fault). Printed per seed, then pooled: maker fills, taker orders sent
(stored) and filled (venue) per maker fill, true net base max and end (both venues' own fills),
hedge delay p50/p99 (maker fill until the true net is next within one taker lot; 0 when an
opposite maker fill netted it), maker fills it never came back for ("unhedged"), alerts stored,
and each seed's naked intervals (true net at one taker lot or more; an over-hedge counts).
The XEMM parameters are each tree's defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import traceback
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.xvenue.xemm_facade_kit import LOT, Phase, Session

SCENARIOS = ("restart", "taker_503", "taker_down", "sub_lot")


async def run_one(tree: Path, scenario: str, seed: int) -> Phase:
    with tempfile.TemporaryDirectory() as tmp:
        taker_lot = Decimal("0.002") if scenario == "sub_lot" else LOT
        async with Session(Path(tmp), tree, seed, taker_lot=taker_lot) as s:
            if scenario == "restart":
                return await s.restart_after_fill()
            if scenario == "taker_down":
                return await s.taker_rejects()
            return await (s.taker_503() if scenario == "taker_503" else s.sub_lot_fills())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(label: str, phases: list[Phase]) -> str:
    fills = sum(p.maker_fills for p in phases)
    delays = [d for p in phases for d in p.delays_s]
    per_fill = lambda n: f"{n / fills:.2f}" if fills else "-"  # noqa: E731
    p50 = f"{percentile(delays, 0.5):.3f}" if delays else "-"
    p99 = f"{percentile(delays, 0.99):.3f}" if delays else "-"
    return (
        f"{label:<14} {fills:>5} {per_fill(sum(p.taker_orders_sent for p in phases)):>6} "
        f"{per_fill(sum(p.taker_orders_filled for p in phases)):>6} "
        f"{max(p.net_max for p in phases):>7} {max(abs(p.net_end) for p in phases):>7} "
        f"{p50:>7} {p99:>7} {sum(p.unhedged for p in phases):>8} {sum(p.alerts for p in phases):>6}"
    )


HEADER = (
    f"{'scenario/seed':<14} {'fills':>5} {'sent/f':>6} {'fill/f':>6} {'net max':>7} {'|end|':>7} "
    f"{'p50 s':>7} {'p99 s':>7} {'unhedged':>8} {'alerts':>6}"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"tree {args.tree.resolve()}; seeds {seeds}")
    print(HEADER)
    started = time.monotonic()
    for scenario in args.scenarios.split(","):
        phases = []
        for seed in seeds:
            try:
                phase = asyncio.run(run_one(args.tree, scenario, seed))
            except Exception as exc:  # the old code may not get through: say what happened
                print(f"{scenario}/{seed:<6} did not run: {type(exc).__name__}: {str(exc)[-600:]}")
                traceback.print_exc(limit=2, file=sys.stderr)
                continue
            phases.append(phase)
            print(
                row(f"{scenario}/{seed}", [phase]),
                f" naked intervals {[round(s, 2) for s in phase.naked_s]} s",
            )
        if phases:
            print(row(f"{scenario} all", phases))
            delays = [statistics.median(p.delays_s) for p in phases if p.delays_s]
            if len(delays) > 1:
                print(f"{'':<14} per-seed p50 spread {min(delays):.3f}..{max(delays):.3f} s")
    print(f"wall {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
