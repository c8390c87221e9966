"""Replay throughput of the fast backtest core against hftbacktest, same file, same strategy, same run.

A grid market maker (5 post-only 1-lot orders a side, one tick apart, requoted every 100 ms of
feed time, skew 0.2 ticks per lot of position, position cap ±20 lots, 1 ms order latency each way,
risk-averse queue, maker -0.5 / taker 2 bps) on 2,000,000 synthetic L2 rows per seed (20 levels,
tick 0.01, mean inter-event 1.8 ms, 1 ms feed latency). Per seed: rows/s of our core
(`run_fast` with `GridQuoter`: one jitted call) and of hftbacktest 2.4.4 (the optional `bench`
extra: ROIVectorMarketDepthBacktest and HashMapMarketDepthBacktest, its grid as an njit function),
best of --runs runs each, the runs interleaved so load hits all alike; numba compile time apart;
fills, orders and final position of each, and the ratio ours / hftbacktest's faster backtester.
Where the two setups differ: benchmarks/hftbacktest_grid.py.

    PYTHONPATH=. python benchmarks/backtest_throughput.py [--rows N] [--runs K] [--seeds 42 43 44]
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.hftbacktest_grid import HAVE_HFTBACKTEST, HbtGrid, run_hbt, to_hbt_events
from bot.backtest.synthetic import SyntheticParams, generate
from connectors.replay.events import EventData
from connectors.replay.fast import GridQuoter, ReplayParams, run_fast
from connectors.replay.jit import HAVE_NUMBA

PARAMS = ReplayParams(
    order_latency_ns=(1_000_000,), wake_interval_ns=100_000_000, maker_fee_bps=-0.5, taker_fee_bps=2.0
)
GRID = GridQuoter(
    levels=5, half_spread_ticks=1, spacing_ticks=1, skew_ticks_per_lot=0.2, size_lots=1, max_position_lots=20
)
HBT_GRID = HbtGrid(
    levels=GRID.levels, half_spread_ticks=GRID.half_spread_ticks, spacing_ticks=GRID.spacing_ticks,
    skew_ticks_per_lot=GRID.skew_ticks_per_lot, size_lots=GRID.size_lots,
    max_position_lots=GRID.max_position_lots, wake_interval_ns=PARAMS.wake_interval_ns,
    order_latency_ns=PARAMS.order_latency_ns[0], maker_fee_bps=PARAMS.maker_fee_bps,
    taker_fee_bps=PARAMS.taker_fee_bps,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcome:
    engine: str
    best_s: float
    orders: int
    fills: int
    position_lots: int


def _engines(data: EventData) -> dict[str, Callable[[], tuple[int, int, int]]]:
    """Each engine as a call returning (orders, fills, final position in lots)."""

    def ours() -> tuple[int, int, int]:
        r = run_fast(data, GRID, PARAMS)
        return r.counters["orders"], r.counters["fills"], r.position_lots

    engines = {"mmbot fast core": ours}
    if HAVE_HFTBACKTEST:
        events = to_hbt_events(data)
        for name, roi in (("hftbacktest ROIVector", True), ("hftbacktest HashMap", False)):

            def hbt(roi: bool = roi) -> tuple[int, int, int]:
                r = run_hbt(events, data, HBT_GRID, roi)
                return r.orders, r.fills, r.position_lots

            engines[name] = hbt
    return engines


def measure(data: EventData, runs: int) -> list[Outcome]:
    engines = _engines(data)
    best = dict.fromkeys(engines, float("inf"))
    counts: dict[str, tuple[int, int, int]] = {}
    for _ in range(runs):
        for name, call in engines.items():
            t = time.perf_counter()
            counts[name] = call()
            best[name] = min(best[name], time.perf_counter() - t)
    return [Outcome(name, best[name], *counts[name]) for name in engines]


def compile_seconds() -> tuple[float, float]:
    tiny = generate(SyntheticParams(rows=2_000, seed=1))
    t = time.perf_counter()
    run_fast(tiny, GRID, PARAMS)
    ours = time.perf_counter() - t
    theirs = float("nan")
    if HAVE_HFTBACKTEST:
        t = time.perf_counter()
        events = to_hbt_events(tiny)
        for roi in (True, False):
            run_hbt(events, tiny, HBT_GRID, roi)
        theirs = time.perf_counter() - t
    return ours, theirs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=5, help="best of this many runs per engine")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    args = parser.parse_args()
    ours_c, theirs_c = compile_seconds()
    theirs = f", hftbacktest {theirs_c:.2f} s" if HAVE_HFTBACKTEST else ""
    print(f"numba: {'yes' if HAVE_NUMBA else 'NO (pure Python fallback)'}; first tiny run (numba compiles, "
          f"or loads its on-disk cache), not timed below: ours {ours_c:.2f} s{theirs}")  # fmt: skip
    if not HAVE_HFTBACKTEST:
        print("hftbacktest is not installed (pip install -e '.[bench]'): our core alone")
    print(f"{args.rows:,} rows per seed, best of {args.runs} runs, wall time")
    print(f"{'seed':>5} {'engine':<22} {'rows/s':>12} {'s':>7} {'orders':>8} {'fills':>7} {'pos':>4}")
    ratios: list[float] = []
    for seed in args.seeds:
        data = generate(
            SyntheticParams(rows=args.rows, levels=20, mean_interval_ms=1.8, feed_latency_ms=1.0, seed=seed)
        )
        outcomes = measure(data, args.runs)
        for o in outcomes:
            print(f"{seed:>5} {o.engine:<22} {len(data) / o.best_s:>12,.0f} {o.best_s:>7.3f} "
                  f"{o.orders:>8,} {o.fills:>7,} {o.position_lots:>4}")  # fmt: skip
        if len(outcomes) > 1:
            ours, fastest = outcomes[0].best_s, min(o.best_s for o in outcomes[1:])
            ratios.append(fastest / ours)
            print(f"{seed:>5} ratio ours / fastest hftbacktest: x{ratios[-1]:.2f}")
    if ratios:
        print(f"ratio over {len(ratios)} seeds: x{min(ratios):.2f} to x{max(ratios):.2f} (target >= x1.00)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
