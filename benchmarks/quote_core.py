"""Vectorized quote core vs the scalar reference, timed in the same run.

    python benchmarks/quote_core.py [--quick]

Markets get a seeded mix of the three models (a third each: every model branch runs, the core's
worst case), two-sided books, inventories across the limits, 5 levels per side; then each model
alone at 1,000 markets. Each size is timed as the best of several
interleaved repeats of a full recompute (workspace preallocated, as the engine does). The last line is
`speedup_at_1000=<reference time / core time>` at 1,000 markets.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from strategies.quoting.arrays import QuoteInputs, QuoteParams
from strategies.quoting.core import QuoteWorkspace, compute_quotes
from strategies.quoting.models import QuoteModel
from tests.strategies.reference_quotes import reference_quotes

N_LEVELS = 5
SIZES = (1, 10, 100, 1_000, 10_000)
NOW_NS = 1_700_000_000_000_000_000


def make_markets(n: int, seed: int = 7) -> tuple[QuoteInputs, QuoteParams]:
    rng = np.random.default_rng(seed)
    inputs = QuoteInputs.empty(n)
    fair = rng.uniform(0.5, 70_000.0, n)
    inputs.fair_price[:] = fair
    inputs.best_bid[:] = fair * (1 - rng.uniform(0.0, 4e-4, n))
    inputs.best_ask[:] = fair * (1 + rng.uniform(0.0, 4e-4, n))
    inputs.volatility[:] = fair * rng.uniform(2e-5, 2e-4, n)  # ~0.1-1.1 %/day in price per sqrt(s)
    inputs.intensity_a[:] = rng.uniform(0.05, 2.0, n)
    inputs.intensity_kappa[:] = rng.uniform(0.05, 1.0, n) / (fair * 1e-4)  # 0.05-1 per bps
    inputs.inventory_lots[:] = rng.uniform(-120.0, 120.0, n)
    inputs.toxicity_bid_bps[:] = rng.uniform(0.0, 2.0, n)
    inputs.toxicity_ask_bps[:] = rng.uniform(0.0, 2.0, n)
    params = QuoteParams.uniform(
        n,
        N_LEVELS,
        maker_fee_bps=1.0,
        min_spread_bps=2.0,
        max_spread_bps=200.0,
        skew_bps_per_unit_inventory_fraction=5.0,
        level_size_lots=10.0,
        max_inventory_lots=100.0,
        size_shape_eta=0.5,
        price_band_bps=300.0,
    )
    params.model[:] = np.arange(n) % 3
    params.gamma[:] = rng.uniform(1e-4, 1e-2, n) / fair
    params.tick_size[:] = 10.0 ** np.floor(np.log10(fair) - 4)
    params.lot_size[:] = 10.0 ** -np.floor(np.log10(fair))
    return inputs, params


def best_times_s(fns: tuple[Callable[[], object], ...], budget_s: float, repeats: int = 7) -> list[float]:
    """Best seconds per call of each fn; repeats interleave the fns so they share any machine load."""
    numbers = []
    for fn in fns:
        fn()
        start = time.perf_counter()
        fn()
        once = time.perf_counter() - start
        numbers.append(max(1, int(budget_s / repeats / max(once, 1e-9))))
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, (fn, number) in enumerate(zip(fns, numbers, strict=True)):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            best[i] = min(best[i], (time.perf_counter() - start) / number)
    return best


def measure(n: int, budget_s: float, model: int | None = None) -> tuple[float, float]:
    """(core seconds, reference seconds) per full recompute of n markets, after checking they agree.

    model: None for the mixed thirds, else every market on that QuoteModel code.
    """
    inputs, params = make_markets(n)
    if model is not None:
        params.model[:] = model
    workspace = QuoteWorkspace(n, N_LEVELS)
    core = compute_quotes(inputs, params, now_ns=NOW_NS, workspace=workspace)
    ref = reference_quotes(inputs, params, now_ns=NOW_NS)
    for name in ("bid_price_ticks", "bid_size_lots", "ask_price_ticks", "ask_size_lots"):
        if not np.array_equal(getattr(core, name), getattr(ref, name)):
            raise SystemExit(f"core and reference disagree on {name} at n={n}")
    t_core, t_ref = best_times_s(
        (
            lambda: compute_quotes(inputs, params, now_ns=NOW_NS, workspace=workspace),
            lambda: reference_quotes(inputs, params, now_ns=NOW_NS),
        ),
        budget_s,
    )
    return t_core, t_ref


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter timing budget")
    args = parser.parse_args()
    budget_s = 0.1 if args.quick else 0.5
    print(
        f"{'markets':>8} {'core us':>10} {'ref us':>12} {'core mkts/s':>14} {'ref mkts/s':>12} {'speedup':>8}"
    )
    speedup_at_1000 = float("nan")
    for n in SIZES:
        t_core, t_ref = measure(n, budget_s)
        ratio = t_ref / t_core
        if n == 1_000:
            speedup_at_1000 = ratio
        rates = f"{n / t_core:>14,.0f} {n / t_ref:>12,.0f}"
        print(f"{n:>8} {t_core * 1e6:>10.1f} {t_ref * 1e6:>12.1f} {rates} {ratio:>7.1f}x")
    print("one model for all 1,000 markets (the core computes only that model):")
    for model in QuoteModel:
        t_core, t_ref = measure(1_000, budget_s, model)
        times = f"core {t_core * 1e6:>8.1f} us  ref {t_ref * 1e6:>9.1f} us"
        print(f"  {model.name:<20} {times}  {t_ref / t_core:>6.1f}x")
    print(f"speedup_at_1000={speedup_at_1000:.1f}")


if __name__ == "__main__":
    main()
