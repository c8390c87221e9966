"""The grid market maker compiled into the replay loop (connectors/replay/fast_loop.py) against the
same grid answering from Python through `core.run_until`: fill for fill the same backtest."""

from __future__ import annotations

import numpy as np
import pytest

from bot.backtest.synthetic import SyntheticParams, generate
from connectors.replay.fast import (
    GridQuoter,
    ReplayParams,
    ReplayResult,
    ReplayState,
    _run_compiled_grid,
    run_fast,
)
from connectors.replay.fast_loop import grid_quotes


class PythonGrid:
    """The same grid seen as any Python strategy: `run_fast` calls it at every wake-up."""

    def __init__(self, grid: GridQuoter) -> None:
        self.grid = grid
        self.calls = 0

    def quotes(self, now_ns: int, best_bid: int, best_ask: int, position: int, out: np.ndarray) -> int:
        self.calls += 1
        return self.grid.quotes(now_ns, best_bid, best_ask, position, out)


def assert_same(a: ReplayResult, b: ReplayResult) -> None:
    assert a.counters == b.counters
    assert np.array_equal(a.fills, b.fills)
    assert np.array_equal(a.samples, b.samples, equal_nan=True)
    assert (a.cash_ticklots, a.fees_ticklots, a.position_lots, a.wakes) == (
        b.cash_ticklots,
        b.fees_ticklots,
        b.position_lots,
        b.wakes,
    )


CASES = {
    "defaults": (
        SyntheticParams(rows=20_000, seed=3),
        ReplayParams(wake_interval_ns=50_000_000),
        GridQuoter(),
    ),
    "feed jitter, probabilistic queue, latency draws, fees": (
        SyntheticParams(rows=20_000, seed=4, feed_jitter_ms=2.0),
        ReplayParams(
            order_latency_ns=(300_000, 2_500_000, 900_000, 4_000_000),
            queue_model="probabilistic",
            queue_power=3.0,
            maker_fee_bps=-0.5,
            taker_fee_bps=2.0,
            wake_interval_ns=20_000_000,
        ),
        GridQuoter(levels=3, half_spread_ticks=0, skew_ticks_per_lot=1.0, size_lots=2, max_position_lots=6),
    ),
    "wake on every fill, wide grid at its position cap": (
        SyntheticParams(rows=20_000, seed=5, trade_fraction=0.3),
        ReplayParams(wake_interval_ns=200_000_000, wake_on_fill=True, max_orders=16),
        GridQuoter(levels=8, spacing_ticks=2, skew_ticks_per_lot=0.0, size_lots=1, max_position_lots=3),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_compiled_grid_replays_fill_for_fill_like_the_python_grid(case):
    synth, params, grid = case
    data = generate(synth)
    compiled = run_fast(data, grid, params)
    python = PythonGrid(grid)
    reference = run_fast(data, python, params)
    assert reference.counters["fills"] > 20 and reference.counters["cancels"] > 20  # the case trades
    assert python.calls == reference.wakes
    assert_same(compiled, reference)


def test_compiled_grid_grows_full_buffers_and_resumes_where_it_stopped():
    data = generate(SyntheticParams(rows=20_000, seed=6, trade_fraction=0.3))
    params = ReplayParams(wake_interval_ns=10_000_000, max_orders=8)
    grid = GridQuoter(levels=3, max_position_lots=5)
    whole = run_fast(data, grid, params)
    assert whole.counters["fills"] > 40
    small = ReplayState(data, params)
    small.fills = np.zeros((params.max_orders + 2, 6), dtype=np.int64)
    small.samples = np.zeros((2, 5), dtype=np.float64)
    wakes = _run_compiled_grid(small, grid, np.zeros((params.max_orders, 3), dtype=np.int64))
    assert wakes == whole.wakes
    assert np.array_equal(small.fills[: whole.counters["fills"]], whole.fills)
    assert small.counters() == whole.counters


def test_grid_quotes_skew_against_the_position_and_stop_at_the_cap():
    out = np.zeros((16, 3), dtype=np.int64)
    # flat on a 100 x 104 book: reservation 102, one tick either side, one tick apart
    n = grid_quotes(2, 1, 1, 0.2, 1, 20, 100, 104, 0, out)
    assert out[:n].tolist() == [[1, 101, 1], [-1, 103, 1], [1, 100, 1], [-1, 104, 1]]
    # long 19 of at most 20: reservation 102 - 3.8 = 98.2; one more bid lot only; the asks move
    # down to the best bid + 1 at most (never crossing the book)
    n = grid_quotes(3, 1, 1, 0.2, 1, 20, 100, 104, 19, out)
    assert out[:n].tolist() == [[1, 97, 1], [-1, 101, 1], [-1, 102, 1], [-1, 103, 1]]
    assert grid_quotes(3, 1, 1, 0.2, 1, 20, 104, 104, 0, out) == 0  # a crossed or locked book: no quotes
    assert grid_quotes(3, 1, 1, 0.2, 1, 20, 0, 104, 0, out) == 0  # a one-sided book
