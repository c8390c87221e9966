"""Replay throughput of the fast backtest core on 2,000,000 synthetic L2 rows.

A grid market maker (5 post-only orders a side, requote every 100 ms of feed time, skew 0.2 ticks
per lot of position, position cap ±20 lots, 1 ms order latency) on a 20-level book (tick 0.01,
mean inter-event 1.8 ms, 1 ms feed latency). Prints rows/s, wall seconds, peak RSS, fills and
orders, with numba's compile time apart, and ratios against two references measured in this run:
the same replay with no strategy (book only) and one numpy pass over the columns.

    PYTHONPATH=. python benchmarks/backtest_throughput.py [--rows N]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from bot.backtest.synthetic import SyntheticParams, generate
from connectors.replay.fast import GridQuoter, ReplayParams, run_fast
from connectors.replay.jit import HAVE_NUMBA


class NoQuotes:
    def quotes(self, now_ns: int, bid: int, ask: int, position: int, out: np.ndarray) -> int:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    synth = SyntheticParams(rows=args.rows, levels=20, mean_interval_ms=1.8, feed_latency_ms=1.0, seed=42)
    params = ReplayParams(
        order_latency_ns=(1_000_000,), wake_interval_ns=100_000_000, maker_fee_bps=-0.5, taker_fee_bps=2.0
    )
    strategy = GridQuoter(levels=5, skew_ticks_per_lot=0.2, size_lots=1, max_position_lots=20)

    t = time.perf_counter()
    run_fast(generate(SyntheticParams(rows=2_000, seed=1)), GridQuoter(), params)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    data = generate(synth)
    generate_s = time.perf_counter() - t
    n = len(data)

    t = time.perf_counter()
    checksum = sum(
        int(np.add.reduce(getattr(data, c), dtype=np.int64)) for c in ("exch_ts_ns", "price_ticks")
    )
    numpy_pass_s = time.perf_counter() - t
    t = time.perf_counter()
    run_fast(data, NoQuotes(), params)
    book_only_s = time.perf_counter() - t
    t = time.perf_counter()
    result = run_fast(data, strategy, params)
    wall_s = time.perf_counter() - t
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    span_s = (data.end_ns - data.start_ns) / 1e9
    c = result.counters
    print(
        f"numba: {'yes' if HAVE_NUMBA else 'NO (pure Python fallback)'}; "
        f"compile + first tiny run {compile_s:.2f} s"
    )
    print(
        f"data: {n:,} rows ({span_s:,.0f} s of feed), generated in {generate_s:.2f} s "
        f"(checksum {checksum % 997})"
    )
    print(f"grid MM replay: {wall_s:.3f} s wall, {n / wall_s:,.0f} rows/s, {result.wakes:,} strategy calls")
    print(f"  vs book-only replay {book_only_s:.3f} s: x{wall_s / book_only_s:.2f} the time")
    print(f"  vs one numpy pass over 2 columns {numpy_pass_s:.4f} s: x{wall_s / numpy_pass_s:.0f} the time")
    print(f"peak RSS {peak_rss_mb:,.0f} MiB")
    print(
        f"orders {c['orders']:,}, cancels {c['cancels']:,}, rejects {c['rejects']:,}, fills {c['fills']:,} "
        f"({c['maker_lots']:,} maker lots, {c['taker_lots']:,} taker), max |position| "
        f"{c['max_abs_position_lots']} lots, final position {result.position_lots}"
    )
    print(
        f"net PnL {result.net_pnl:.6f} quote "
        f"(fees {result.fees_ticklots * result.tick_size * result.lot_size:.6f})"
    )


if __name__ == "__main__":
    main()
