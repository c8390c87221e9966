"""LP strategies on the same seeded GBM paths: passive full range, fixed-width rebalance
(Charm-style), ours unhedged, ours hedged.

    python benchmarks/lp_strategies.py [--quick] [--paths N] [--days D] [--workers W]

Exact pool maths throughout (no closed-form shortcut): every run is a `SimulatedPool` (the integer
V3Pool) holding a background full-range LP, with `SimPoolFlow` once per 60 s block: Poisson noise
swaps, then an arbitrageur that swaps the pool to fair ± fee. Fees are the pool's own fee growth.
Every strategy acts through `PoolLpManager.step` every 5 minutes (the open / close / collect /
compound code and gas accounting the bot runs): ours with `strategies.lp.rules.decide`, the
baselines with the small policies below. The hedge overlays the same run of ours: the `Hedger`'s
band rule on LP token0 + uncollected token0 fees + idle token0, filled at the fair price plus a
taker cost. LVR is the realised LVR of `amm.attribution.LvrMeter` on the fair path.

Figures are token1 (USDC) per path on 30,000 of starting capital (5 WETH + 15,000 USDC at 3,000).
Reference measured in the same run: HODL, the starting wallet held untouched. `vs cash` is the end
value (at the final fair price, gas paid) minus the start value; `vs HODL` is the end value minus
HODL's. `attrib` = fees − LVR − gas − swap − hedge cost (amm.attribution.PnlAttribution.net_token1).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from amm.attribution import SECONDS_PER_YEAR, PnlAttribution, exact_position_amounts
from amm.sim.flow import SimPoolFlow
from amm.sim.params import BackgroundRange, NoiseParams, SimPoolParams
from amm.sim.pool import SimulatedPool
from bot.core.clock import NS_PER_S, FixedClock
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from strategies.lp.hedger import Hedger, HedgerParams
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import Policy, PoolLpManager
from strategies.lp.rules import Action, Decision, PoolView, Rules, decide

VOLS = (0.3, 0.6, 1.2)
BLOCK_S = 60
CHECK_S = 300
START_PRICE = 3000.0
POOL = SimPoolParams(
    initial_price=START_PRICE,
    wallet_token0=5.0,
    wallet_token1=15_000.0,
    gas_price_gwei=5.0,  # a mint ≈ 7 USDC, a close ≈ 5, a swap ≈ 2 at 3,000
    background=(BackgroundRange(value_token1=5_000_000.0),),
    noise=NoiseParams(rate_per_s=0.01, mean_size_token1=2_500.0),  # ≈ 2.2M USDC/day of noise volume
    block_time_s=BLOCK_S,
)
OURS = LpManagerParams(kind="lp_manager", pools=["uni"], initial_sigma=0.6, vol_half_life_s=3600.0)
HEDGE = HedgerParams(
    kind="hedger", market="cex:ETH/USDC", pools=["uni"], band=0.25, min_trade_size=0.01, max_order_size=1e9
)
TAKER_COST = 5e-4  # taker fee + half spread, fraction of notional
HEDGE_LOT = 0.001
CHARM_HALF_WIDTH = 0.05  # fixed ±5 % in log price
CHARM_MIN_INTERVAL_S = 3600.0
FULL_RANGE_HALF_WIDTH = 60.0  # e^±60 around the price: the usable full range to within a tick
STRATEGIES = ("full range", "fixed ±5%", "ours", "ours hedged")


def full_range_policy(view: PoolView, rules: Rules) -> Decision:
    if view.liquidity is None and view.last_action_ns is None:
        return Decision(Action.OPEN, "passive full range", True, FULL_RANGE_HALF_WIDTH)
    return Decision(Action.HOLD, "passive", False)


def fixed_width_policy(view: PoolView, rules: Rules) -> Decision:
    """Charm-style: fixed ±w; recentre once out of range and the minimum interval has passed."""
    if view.liquidity is None:
        return Decision(Action.OPEN, "enter", True, CHARM_HALF_WIDTH)
    since_s = math.inf if view.last_action_ns is None else (view.now_ns - view.last_action_ns) / NS_PER_S
    out = not view.price_lower < view.price < view.price_upper
    if out and since_s >= CHARM_MIN_INTERVAL_S:
        return Decision(Action.RECENTRE, "out of range", True, CHARM_HALF_WIDTH)
    return Decision(Action.HOLD, "in range or too soon", False)


@dataclass(slots=True)
class BandHedge:
    """The Hedger's band rule filled at the fair price plus a taker cost (no book, no queue)."""

    rule: Hedger
    position: float = 0.0
    cash: float = 0.0
    cost: float = 0.0
    trades: int = 0

    def rebalance(self, lp_delta: float, price: float) -> None:
        net = self.rule.params.hedge_ratio * lp_delta + self.position
        lots = self.rule.hedge_size(net, HEDGE_LOT)
        if lots:
            size = lots * HEDGE_LOT
            self.position += size
            self.cash -= size * price
            self.cost += abs(size) * price * TAKER_COST
            self.trades += 1

    def pnl(self, price: float) -> float:
        return self.cash + self.position * price - self.cost


def gbm_prices(sigma: float, n_blocks: int, seed: int) -> np.ndarray:
    """Fair price at every block: a driftless-in-price GBM (the LP's PnL has no drift to hide in)."""
    rng = np.random.default_rng(seed)
    var = sigma**2 * BLOCK_S / SECONDS_PER_YEAR
    steps = rng.normal(-0.5 * var, math.sqrt(var), n_blocks)
    return START_PRICE * np.exp(np.concatenate(([0.0], np.cumsum(steps))))


def lp_holdings(pool: SimulatedPool, manager: PoolLpManager) -> tuple[float, float, float, float]:
    """(token0, token1) in wallet + position + uncollected fees, and the uncollected fees (token0, token1)."""
    d0, d1 = pool.token0.decimals, pool.token1.decimals
    x, y = pool.wallet0 / 10.0**d0, pool.wallet1 / 10.0**d1
    f0 = f1 = 0.0
    pos = manager.position
    if pos is not None:
        px, py = exact_position_amounts(
            pool.core.sqrt_price_x96, pos.choice.tick_lower, pos.choice.tick_upper, pos.liquidity_raw, d0, d1
        )
        owed0, owed1 = pool.manager.pending(pos.token_id)
        f0, f1 = owed0 / 10.0**d0, owed1 / 10.0**d1
        x, y = x + px + f0, y + py + f1
    return x, y, f0, f1


@dataclass(frozen=True, slots=True)
class RunResult:
    vol: float
    path: int
    strategy: str
    attribution: PnlAttribution
    pnl_vs_cash: float
    pnl_vs_hodl: float
    actions: int
    hedge_trades: int


async def simulate(vol: float, path: int, strategy: str, days: float) -> list[RunResult]:
    n_blocks = int(days * 86_400 / BLOCK_S)
    seed = 1000 * VOLS.index(vol) + path if vol in VOLS else path
    prices = gbm_prices(vol, n_blocks, seed)
    clock = FixedClock(0)
    block = [0]

    def fair() -> float:
        return float(prices[block[0]])

    pool = SimulatedPool.from_params(POOL)
    flow = SimPoolFlow(pool, fair, POOL, clock, rng=np.random.default_rng(seed + 7))
    store = LpStore(Store("sqlite://"))
    # Marks are for `mmbot status`; a SQLite write every round would dominate the run time.
    manager = PoolLpManager("bench", "uni", pool, fair, OURS, clock, store, mark_interval_s=86_400.0)
    policy: Policy = {"full range": full_range_policy, "fixed ±5%": fixed_width_policy}.get(strategy, decide)
    hedge = BandHedge(Hedger("hedge", HEDGE)) if strategy == "ours" else None
    start_value = POOL.wallet_token0 * START_PRICE + POOL.wallet_token1
    for i in range(1, n_blocks + 1):
        block[0] = i
        clock.advance_ns(BLOCK_S * NS_PER_S)
        flow.on_block(BLOCK_S)
        if (i * BLOCK_S) % CHECK_S == 0:
            await manager.step(policy)
        if hedge is not None:
            hedge.rebalance(lp_holdings(pool, manager)[0], fair())
    price = fair()
    x, y, f0, f1 = lp_holdings(pool, manager)
    totals = manager.totals
    lvr = totals.lvr_token1
    if manager.position is not None:
        manager.position.lvr.observe(price, clock.now_ns(), vol)
        lvr += manager.position.lvr.realized_token1
    lp_value = x * price + y - totals.gas_token1
    hodl = POOL.wallet_token0 * price + POOL.wallet_token1
    results = []
    for name, h in ((strategy, None), ("ours hedged", hedge)):
        if name == "ours hedged" and h is None:
            continue
        value = lp_value + (h.pnl(price) if h is not None else 0.0)
        att = PnlAttribution(
            fees_token1=totals.fees_token1 + f0 * price + f1,
            lvr_token1=lvr,
            gas_token1=totals.gas_token1,
            hedge_cost_token1=h.cost if h is not None else 0.0,
            swap_cost_token1=totals.swap_cost_token1,
            price_exposure_token1=0.0,
            il_token1=0.0,
            hodl_value_token1=hodl,
        )
        results.append(
            RunResult(
                vol,
                path,
                name,
                att,
                value - start_value,
                value - hodl,
                sum(totals.actions.values()),
                h.trades if h is not None else 0,
            )
        )
    return results


def run_one(args: tuple[float, int, str, float]) -> list[RunResult]:
    logging.disable(logging.WARNING)  # per-action INFO lines of the manager
    return asyncio.run(simulate(*args))


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def _sd(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def print_tables(results: list[RunResult], paths: int, days: float) -> None:
    header = ("strategy", "fees", "LVR", "gas", "swap", "hedge", "attrib", "vs cash", "±sd", "vs HODL", "±sd",
              "acts", "hedges")  # fmt: skip
    fmt = "{:<13}" + "{:>7}" * 6 + "{:>9}{:>7}{:>9}{:>7}{:>6}{:>7}"
    for vol in VOLS:
        rows = [r for r in results if r.vol == vol]
        print(f"\nσ = {vol:.0%}/yr, {paths} paths × {days:g} days, token1 per path (mean, sd across paths)")
        print(fmt.format(*header))
        for name in STRATEGIES:
            mine = [r for r in rows if r.strategy == name]
            a = [r.attribution for r in mine]
            cash, hodl = [r.pnl_vs_cash for r in mine], [r.pnl_vs_hodl for r in mine]
            figures = (
                _mean([x.fees_token1 for x in a]),
                _mean([x.lvr_token1 for x in a]),
                _mean([x.gas_token1 for x in a]),
                _mean([x.swap_cost_token1 for x in a]),
                _mean([x.hedge_cost_token1 for x in a]),
                _mean([x.net_token1 for x in a]),
                _mean(cash),
                _sd(cash),
                _mean(hodl),
                _sd(hodl),
                _mean([r.actions for r in mine]),
                _mean([r.hedge_trades for r in mine]),
            )
            print(fmt.format(name, *(f"{round(v):d}" for v in figures)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 path of half a day per volatility")
    parser.add_argument("--paths", type=int, default=8)
    parser.add_argument("--days", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    paths, days = (1, 0.5) if args.quick else (args.paths, args.days)
    jobs = [(vol, p, s, days) for vol in VOLS for p in range(paths) for s in STRATEGIES[:3]]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = [r for batch in pool.map(run_one, jobs) for r in batch]
    wall = time.perf_counter() - t0
    print_tables(results, paths, days)
    print(f"\nwall {wall:.1f} s for {len(jobs)} exact-pool runs ({args.workers} workers)")


if __name__ == "__main__":
    main()
