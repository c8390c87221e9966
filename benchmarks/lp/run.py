"""One benchmark run: a strategy on one (σ, fee tier, path), its LP figures with and without the
shared hedge (the hedge only trades on the CEX, so both come from the same pool run).

Per 12 s block: the flow (noise swaps, then the arbitrageur at the block's fair price), a round
of the strategy every `CHECK_S` (ours: its own `check_interval_s`, the bot's LpManager schedule,
which also feeds its σ̂) or early when the fair price moved `event_trigger_bps` since the
last round, then the hedge's check on the strategy's token0.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from amm.attribution import PnlAttribution
from amm.sim.flow import SimPoolFlow
from amm.sim.pool import SimulatedPool
from benchmarks.lp.charm import CharmParams, CharmVault
from benchmarks.lp.hedge import HedgeCosts, SimHedge
from benchmarks.lp.market import (
    BLOCK_S,
    WALLET_TOKEN0,
    WALLET_TOKEN1,
    FairPath,
    Scenario,
    fair_path,
    path_seed,
    pool_params,
    regime_sigmas,
    start_value_token1,
)
from benchmarks.lp.runners import LpFigures, LpRunner, ManagedLp, fixed_width_policy, full_range_policy
from bot.core.clock import NS_PER_S, FixedClock
from bot.core.history import PriceHistory
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import Policy
from strategies.lp.rules import Action, Decision, PoolView, Rules, decide

CHECK_S = 300.0  # the baselines' rounds, plus the early round on a 50 bp fair move
OURS, OURS_HEDGED, FULL_RANGE, CHARM = "ours", "ours hedged", "full range", "charm"
OURS_COLD = "ours hedged, cold"  # ours hedged that starts with the scored span: no warm-up watched
# ours hedged on a first start that reads the warm-up's history (the CEX's 1-minute closes, the
# pool's swaps), as the bot does where its venues serve them, instead of watching it
OURS_SEEDED = "ours hedged, seeded"
WATCHING = (OURS, OURS_HEDGED)  # what runs its rounds through a scenario's warm-up
MANAGED = (*WATCHING, OURS_COLD, OURS_SEEDED)  # the bot's manager: its own round schedule
CLOSE_BLOCKS = 5  # the seeded start's closes: one a minute
OURS_PARAMS = LpManagerParams(kind="lp_manager", pools=["uni"])  # the defaults a user starts from


def round_s(strategy: str, ours_round_s: float | None = None) -> float:
    """Ours runs on its own schedule (the bot's, whose rounds also sample σ̂) unless told
    `ours_round_s`; the baselines need none finer than 5 min (passive, a 12 h schedule, recentres
    at most every 10 min)."""
    if strategy not in MANAGED:
        return CHECK_S
    return OURS_PARAMS.check_interval_s if ours_round_s is None else ours_round_s


def ours_hedged_params(costs: HedgeCosts) -> LpManagerParams:
    """The defaults told what a user would tell them of the hedge (band, trading cost, checks):
    ours hedged is its own run, since the hedge now changes the manager's ranges."""
    return OURS_PARAMS.model_copy(
        update=dict(
            hedge_band_token0=costs.band_token0,
            hedge_cost_bps=costs.taker_fee_bps + costs.half_spread_bps,
            hedge_check_interval_s=float(BLOCK_S),
        )
    )


def fixed_name(half_width: float) -> str:
    return f"fixed ±{half_width * 100:g}%"


@dataclass(frozen=True, slots=True)
class Job:
    scenario: Scenario
    path: int
    strategy: str
    half_width: float = 0.0  # fixed-width strategies only
    round_s: float = CHECK_S  # between two rounds (plus the early ones on a fair move)
    params: LpManagerParams | None = None  # ours hedged with these instead of the defaults
    close_blocks: int = CLOSE_BLOCKS  # a seeded start's closes, this many blocks apart
    close_half_spread_bps: float = 0.0  # ... each traded at the bid or the ask, this far from the fair


@dataclass(frozen=True, slots=True)
class Outcome:
    job: Job
    unhedged: PnlAttribution  # total_token1 = PnL vs holding the starting wallet
    hedged: PnlAttribution  # total_token1 = PnL vs the starting value in cash
    actions: int
    hedge_trades: int


_STORE: LpStore | None = None


def _store() -> LpStore:
    """One in-memory store per process (its migrations take longer than a short run)."""
    global _STORE
    if _STORE is None:
        _STORE = LpStore(Store("sqlite://"))
    return _STORE


def _runner(job: Job, pool: SimulatedPool, fair: FixedFair, clock: FixedClock, costs: HedgeCosts) -> LpRunner:
    name = f"{job.strategy}/{job.scenario.sigma_annual}/{job.scenario.fee_pips}/{job.path}"
    if job.strategy == CHARM:
        return CharmVault(name, pool, fair, clock, _store(), CharmParams())
    if job.strategy in (OURS_HEDGED, OURS_COLD, OURS_SEEDED):
        params = job.params or ours_hedged_params(costs)
        return ManagedLp(name, pool, fair, params, clock, _store(), decide)
    policies: dict[str, Policy] = {OURS: decide, FULL_RANGE: full_range_policy}
    policy = policies.get(job.strategy) or fixed_width_policy(job.half_width)
    return ManagedLp(name, pool, fair, OURS_PARAMS, clock, _store(), policy)


class FixedFair:
    """The fair price at the current block (what the flow, the strategy and the hedge read)."""

    def __init__(self, prices: np.ndarray) -> None:
        self.prices, self.block = prices, 0

    def __call__(self) -> float:
        return float(self.prices[self.block])


def attributions(fig: LpFigures, hedge: SimHedge, fair: float) -> tuple[PnlAttribution, PnlAttribution]:
    """(unhedged, hedged): the same LP figures, the hedged one with the hedge's costs; the price
    exposure is what the total PnL holds beyond fees − LVR − gas − swap − hedge costs."""
    hodl = WALLET_TOKEN0 * fair + WALLET_TOKEN1
    end = fig.value_token1 - fig.gas_token1

    def attribution(hedge_cost: float, total: float) -> PnlAttribution:
        a = PnlAttribution(
            fig.fees_token1, fig.lvr_token1, fig.gas_token1, hedge_cost, fig.swap_cost_token1, 0.0, 0.0, hodl
        )
        return dataclasses.replace(a, price_exposure_token1=total - a.net_token1)

    unhedged = attribution(0.0, end - hodl)
    hedged = attribution(hedge.book.total_cost, end + hedge.book.pnl(fair) - start_value_token1())
    return unhedged, hedged


class Probe(Protocol):
    """What a diagnostic (`benchmarks/lp/diagnose.py`) watches of a run: every decision of a
    `ManagedLp`'s policy (through `wrap`) and every block's hedge cost (the figures stay the run's)."""

    def wrap(self, policy: Policy) -> Policy: ...

    def block(self, runner: LpRunner, fair: float, hedge_cost_token1: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Market:
    """One run's world: the fair path (warm-up included), the pool and its flow, on one clock."""

    path: FairPath
    fair: FixedFair  # over the warm-up's blocks, then the scored span's
    clock: FixedClock
    pool: SimulatedPool
    flow: SimPoolFlow

    @property
    def warmup_blocks(self) -> int:
        return len(self.path.warmup_prices)

    def advance(self, block: int) -> tuple[int, float]:
        """To `block` (of the warm-up's then the scored span's): one block of flow; (now, fair)."""
        self.fair.block = block
        self.clock.advance_ns(BLOCK_S * NS_PER_S)
        self.flow.on_block(BLOCK_S)
        return self.clock.now_ns(), self.fair()


@dataclass(slots=True)
class RoundSchedule:
    """A strategy's rounds: every `check_ns`, and early on a fair move of `trigger` since the last."""

    check_ns: int
    trigger: float
    last_ns: int
    last_fair: float

    @classmethod
    def starting(cls, check_ns: int, trigger: float, fair: float) -> RoundSchedule:
        return cls(check_ns, trigger, -check_ns, fair)  # the first block's round is due

    def due(self, now_ns: int, fair: float) -> bool:
        """Whether a round is due now (then counted as taken)."""
        if now_ns - self.last_ns < self.check_ns and abs(fair / self.last_fair - 1.0) < self.trigger:
            return False
        self.last_ns, self.last_fair = now_ns, fair
        return True


def market_for(job: Job, costs: HedgeCosts) -> Market:
    sc = job.scenario
    seed = path_seed(sc, job.path)
    sigmas = regime_sigmas(sc, seed) if sc.storm_sigma_annual > 0 else None
    path = fair_path(sc.sigma_annual, sc.n_blocks, seed, costs.latency_s, sc.warmup_blocks, sigmas)
    prices = np.concatenate([path.warmup_prices, path.prices])
    params = pool_params(sc.fee_pips).model_copy(update={"initial_price": float(prices[0])})
    clock, fair = FixedClock(0), FixedFair(prices)
    pool = SimulatedPool.from_params(params, clock)
    flow = SimPoolFlow(pool, fair, params, clock, rng=np.random.default_rng(seed + 7))
    return Market(path, fair, clock, pool, flow)


async def simulate(job: Job, costs: HedgeCosts, probe: Probe | None = None) -> Outcome:
    sc = job.scenario
    m = market_for(job, costs)
    path, fair, clock, warm = m.path, m.fair, m.clock, m.warmup_blocks
    runner = _runner(job, m.pool, fair, clock, costs)
    if probe is not None and isinstance(runner, ManagedLp):
        runner.policy = probe.wrap(runner.policy)
    hedge = SimHedge(costs)
    rounds = RoundSchedule.starting(int(job.round_s * NS_PER_S), OURS_PARAMS.event_trigger_bps / 1e4, fair())
    if warm:
        watcher = runner if isinstance(runner, ManagedLp) and job.strategy in WATCHING else None
        await _warm_up(watcher, m, rounds)
        if job.strategy == OURS_SEEDED and isinstance(runner, ManagedLp):
            closes = warmup_closes(
                m, job.close_blocks, job.close_half_spread_bps / 1e4, path_seed(sc, job.path)
            )
            runner.manager.seed_estimates(closes, await m.pool.swap_history(0))
    trades = 0
    for i in range(1, sc.n_blocks + 1):
        now, price = m.advance(warm + i)
        if rounds.due(now, price):
            await runner.round()
        cost = hedge.book.total_cost
        trades += hedge.check(runner.token0(), price, float(path.hedge_prices[i]), BLOCK_S) != 0
        if probe is not None:
            probe.block(runner, price, hedge.book.total_cost - cost)
    price = fair()
    fig = runner.figures(price, clock.now_ns(), sc.sigma_annual)
    unhedged, hedged = attributions(fig, hedge, price)
    return Outcome(job, unhedged, hedged, fig.actions, trades)


async def _warm_up(watcher: ManagedLp | None, m: Market, rounds: RoundSchedule) -> None:
    """The pool's trading before the scored span. The watcher (ours) runs its rounds, so its σ̂
    and fee rate measure the pool, and acts on nothing: out of the pool, unhedged, as a bot that
    has been running would be on a day it starts flat. Others do not look (their rounds are not
    taken)."""
    for i in range(1, m.warmup_blocks + 1):
        now, price = m.advance(i)
        if watcher is not None and rounds.due(now, price):
            await watcher.manager.step(_watch)


def warmup_closes(
    m: Market, close_blocks: int = CLOSE_BLOCKS, half_spread: float = 0.0, seed: int = 0
) -> PriceHistory:
    """The warm-up's fair price every `close_blocks` blocks (a minute by default), at block times;
    with a `half_spread`, each close is a trade at the bid or the ask (a fair coin of its own
    stream, `seed`), as a venue's candle closes are."""
    blocks = np.arange(close_blocks, m.warmup_blocks + 1, close_blocks)
    ts_ns = tuple(int(b) * BLOCK_S * NS_PER_S for b in blocks)
    prices = m.fair.prices[blocks]
    if half_spread > 0.0:
        prices = prices * np.exp(
            half_spread * np.random.default_rng(seed + 11).choice([-1.0, 1.0], len(blocks))
        )
    return PriceHistory(close_blocks * BLOCK_S, ts_ns, tuple(map(float, prices)))


def _watch(view: PoolView, rules: Rules) -> Decision:
    return Decision(Action.HOLD, "warm-up: watching the pool", False)


def run_job(args: tuple[Job, HedgeCosts]) -> Outcome:
    logging.disable(logging.WARNING)  # the managers' per-action INFO lines
    return asyncio.run(simulate(*args))
