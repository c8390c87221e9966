"""σ̂ seeded from candle closes that bounce between bid and ask, against the plain σ̂ of the same
closes (what a first start read before `strategies/lp/bounce.py`), paired history by history.

    python benchmarks/lp/seeded_sigma.py [--histories 200] [--hours 6] [--interval-s 60]

Each history: a latent log price with constant σ, one close every `--interval-s` over `--hours`,
each close the latent price times e^(±half spread) (traded at the bid or the ask, a fair coin).
Seeded: `PoolLpManager.seed_estimates` on a fresh meter (the product's path: bounce found and taken
out, σ̂ not seeded from closes that are mostly bounce). Plain: an EWMA of the same half-life and
prior fed the same closes. Figures: σ̂/σ as median [10th–90th percentile] over the histories,
the root mean square of log(σ̂/σ) (among the histories each seeds), and how many histories the
seeding left to be measured live.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from amm.attribution import SECONDS_PER_YEAR
from amm.sim.pool import SimulatedPool
from benchmarks.lp.market import pool_params
from bot.core.clock import NS_PER_S, FixedClock
from bot.core.history import PriceHistory
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from strategies.lp.measure import PoolMeter
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import PoolLpManager
from strategies.lp.volatility import EwmaVolatility

SIGMAS = (0.02, 0.3, 0.6, 1.2)
HALF_SPREADS_BPS = (0.0, 1.0, 5.0)


def closes(
    rng: np.random.Generator, sigma: float, half_spread: float, n: int, interval_s: int
) -> PriceHistory:
    walk = np.cumsum(rng.normal(0.0, sigma * math.sqrt(interval_s / SECONDS_PER_YEAR), n))
    prices = 3000.0 * np.exp(walk + rng.choice([-1.0, 1.0], n) * half_spread)
    times = tuple((k + 1) * interval_s * NS_PER_S for k in range(n))
    return PriceHistory(interval_s, times, tuple(map(float, prices)))


def plain_sigma(history: PriceHistory, params: LpManagerParams) -> float:
    ewma = EwmaVolatility.from_sigma(
        params.vol_half_life_s, params.initial_sigma, params.initial_sigma_weight_s
    )
    for ts, price in zip(history.ts_ns, history.price, strict=True):
        ewma.update(price, ts)
    return ewma.sigma_annual(math.nan)


def seeded_sigma(manager: PoolLpManager, history: PriceHistory) -> tuple[float, bool]:
    """σ̂ after seeding a fresh meter, and whether the closes seeded it."""
    m = manager
    m.meter = PoolMeter(m.pool, m.params, m.meter.ledger, m.meter.swaps)
    seeded = m.seed_estimates(history, None)
    return m.meter.sigma_annual(), seeded.sigma_from_closes


def spread(ratios: np.ndarray) -> str:
    if not len(ratios):
        return "-".rjust(22)
    p10, p50, p90 = np.percentile(ratios, [10, 50, 90])
    return f"{p50:.2f} [{p10:.2f}–{p90:.2f}]".rjust(22)


def rms_log(ratios: np.ndarray) -> str:
    return f"{math.sqrt(np.mean(np.log(ratios) ** 2)):.3f}".rjust(8) if len(ratios) else "-".rjust(8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--histories", type=int, default=200)
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--interval-s", type=int, default=60)
    args = parser.parse_args()
    started = time.perf_counter()
    params = LpManagerParams(kind="lp_manager", pools=["uni"])
    clock = FixedClock(0)
    pool = SimulatedPool.from_params(pool_params(3000), clock)
    manager = PoolLpManager("bench", "uni", pool, lambda: 3000.0, params, clock, LpStore(Store("sqlite://")))
    n = int(args.hours * 3600 / args.interval_s) + 1
    print(
        f"σ̂/σ from {args.hours:g} h of closes every {args.interval_s} s traded at bid or ask; "
        f"{args.histories} histories a row, the same closes for both (median [10th–90th pct], "
        "RMS of log σ̂/σ)"
    )
    header = f"{'plain':>22} {'rms':>8} {'seeded':>22} {'rms':>8} {'measured live':>14}"
    print(f"  {'σ':>5} {'half spread':>12} {header}")
    for sigma in SIGMAS:
        for bps in HALF_SPREADS_BPS:
            rng = np.random.default_rng([int(sigma * 1000), int(bps * 10)])
            plain, seeded, live = [], [], 0
            for _ in range(args.histories):
                history = closes(rng, sigma, bps / 1e4, n, args.interval_s)
                plain.append(plain_sigma(history, params) / sigma)
                value, from_closes = seeded_sigma(manager, history)
                if from_closes:
                    seeded.append(value / sigma)
                else:
                    live += 1
            p, s = np.array(plain), np.array(seeded)
            print(
                f"  {sigma:>5.0%} {bps:>9g} bp {spread(p)} {rms_log(p)} {spread(s)} {rms_log(s)} "
                f"{live:>8}/{args.histories}"
            )
    print(f"wall {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    logging.disable(logging.INFO)  # each seeding logs a line
    main()
