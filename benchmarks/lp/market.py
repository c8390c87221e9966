"""The market every LP strategy of the fair benchmark faces: scenarios, the pool, the fair path.

Assumptions (stated once, printed with the tables):
  - Fair price: driftless GBM (E[P_t] = P_0), one point per 12 s block; the hedge's fill price
    `latency_s` after each block is drawn from the Brownian bridge between the two blocks (exact
    for GBM), so latency costs what the path really moves in that time.
  - Pool: the integer `SimulatedPool` (V3Pool) holding 50M USDC of background full-range
    liquidity; `SimPoolFlow` per block: Poisson noise swaps, then one arbitrageur who trades only
    when the pool sits outside fair × (1 ∓ fee) and the profit beats its gas (the fee-tier hurdle).
  - Uninformed (noise) volume: lognormal sizes of mean 2,500 USDC, random side; 2.2M USDC/day
    on the 0.3 % pool, 5× that on the 0.05 % pool (a lower fee draws more flow). A full-range
    position earns about 6 % a year from it; the arbitrageurs' fees add more as σ grows. Measured
    full-range fees vs LVR (σ²/8), %/yr: σ 30 % 6 vs 1; 60 % 7–9 vs 4.5; 120 % 13–20 vs 18.
  - Gas at 5 gwei with ETH as the gas token (a mint ≈ 7 USDC, a close ≈ 5, a swap ≈ 2 at 3,000).
  - Volatility regimes (`--regimes`, their own cells): σ switches between a calm and a stormy
    level, each state lasting `REGIME_H` hours on average (exponential), either at the start
    with equal odds: volatility clusters, which a width fixed for the day cannot follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from amm.attribution import SECONDS_PER_YEAR
from amm.sim.params import BackgroundRange, NoiseParams, SimPoolParams

VOLS = (0.3, 0.6, 1.2)
FEE_TIERS_PIPS = (500, 3000)
WARMUP_H = 6.0  # three half-lives of the fee rate's EWMA (fee_half_life_s, 2 h)
REGIMES = ((0.3, 1.2),)  # (calm σ, storm σ) of the regime cells
REGIME_H = 6.0  # mean time in each volatility state: a few switches in a scored day
BLOCK_S = 12
START_PRICE = 3000.0
WALLET_TOKEN0 = 5.0
WALLET_TOKEN1 = 15_000.0
BACKGROUND_TOKEN1 = 50_000_000.0
NOISE_MEAN_SIZE_TOKEN1 = 2_500.0
NOISE_RATE_PER_S = {3000: 0.01, 500: 0.05}  # × 2,500 USDC × 86,400 s: 2.2M / 10.8M USDC a day


@dataclass(frozen=True, slots=True)
class Scenario:
    sigma_annual: float
    fee_pips: int
    days: float
    warmup_h: float = 0.0  # the pool trades this long before the scored span; ours watches it
    # > 0: σ switches between `sigma_annual` (calm) and this (storm), `REGIME_H` per state on average
    storm_sigma_annual: float = 0.0

    @property
    def n_blocks(self) -> int:
        return int(self.days * 86_400 / BLOCK_S)

    @property
    def warmup_blocks(self) -> int:
        return int(self.warmup_h * 3_600 / BLOCK_S)

    @property
    def sigma_label(self) -> str:
        """30%, or 30%↔120% for a regime cell."""
        storm = f"↔{self.storm_sigma_annual:.0%}" if self.storm_sigma_annual > 0 else ""
        return f"{self.sigma_annual:.0%}{storm}"

    @property
    def label(self) -> str:
        return f"σ {self.sigma_label}, fee {self.fee_pips / 1e4:g} %"

    @property
    def sort_key(self) -> tuple[int, float, float]:
        return self.fee_pips, self.sigma_annual, self.storm_sigma_annual


def pool_params(fee_pips: int) -> SimPoolParams:
    return SimPoolParams(
        fee_pips=fee_pips,
        initial_price=START_PRICE,
        wallet_token0=WALLET_TOKEN0,
        wallet_token1=WALLET_TOKEN1,
        gas_price_gwei=5.0,
        background=(BackgroundRange(value_token1=BACKGROUND_TOKEN1),),
        noise=NoiseParams(rate_per_s=NOISE_RATE_PER_S[fee_pips], mean_size_token1=NOISE_MEAN_SIZE_TOKEN1),
        block_time_s=BLOCK_S,
    )


def start_value_token1() -> float:
    return WALLET_TOKEN0 * START_PRICE + WALLET_TOKEN1


def path_seed(sc: Scenario, path: int) -> int:
    """The same fair path for every strategy and both fee tiers (paired comparisons); a regime
    cell's paths are its own (not the calm cell's)."""
    key = round(sc.sigma_annual * 100) + 1_000 * round(sc.storm_sigma_annual * 100)
    return 10_000 * key + path


def regime_sigmas(sc: Scenario, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """σ of each block's step: the warm-up's (oldest first) and the scored span's (`n_blocks` + 1),
    from the two-state chain of a regime cell. The chain is drawn from the start forward, then the
    warm-up's states backward from it (a symmetric chain is reversible), so the scored span is the
    same with or without a warm-up."""
    rng = np.random.default_rng(seed + 2_000_003)
    switch = -math.expm1(-BLOCK_S / (REGIME_H * 3_600))  # per block
    start = int(rng.random() < 0.5)

    def chain(n: int) -> np.ndarray:
        flips = rng.random(n) < switch
        flips[0] = False  # the first step is in the starting state
        return (start + np.cumsum(flips)) % 2

    scored = chain(sc.n_blocks + 1)
    before = chain(sc.warmup_blocks + 1)[1:][::-1]
    levels = np.array([sc.sigma_annual, sc.storm_sigma_annual])
    return levels[before], levels[scored]


@dataclass(frozen=True, slots=True)
class FairPath:
    prices: np.ndarray  # fair at each block, [0] = start
    hedge_prices: np.ndarray  # fair `latency_s` after each block (what a hedge decided then fills at)
    warmup_prices: np.ndarray  # fair at the blocks before the start (oldest first; may be empty)


def fair_path(
    sigma_annual: float,
    n_blocks: int,
    seed: int,
    latency_s: float,
    warmup_blocks: int = 0,
    sigmas: tuple[np.ndarray, np.ndarray] | None = None,
) -> FairPath:
    """GBM at block times plus the bridge point `latency_s` into every block interval; the
    `warmup_blocks` before the start come from their own stream, so the scored span is the same
    path with or without a warm-up. `sigmas`: each step's σ (`regime_sigmas`) instead of one."""
    if not 0 <= latency_s < BLOCK_S:
        raise ValueError(f"latency_s must be in [0, {BLOCK_S}), got {latency_s}")
    if sigmas is None:
        sigmas = np.full(warmup_blocks, sigma_annual), np.full(n_blocks + 1, sigma_annual)
    warm_sigma, sigma = sigmas
    rng = np.random.default_rng(seed)
    var = sigma**2 * BLOCK_S / SECONDS_PER_YEAR
    steps = rng.normal(-0.5 * var, np.sqrt(var))
    log_p = math.log(START_PRICE) + np.concatenate(([0.0], np.cumsum(steps)))
    # Bridge: log P(t + a) | P(t), P(t + h) ~ N(log P(t) + (a/h)·step, σ²·a·(h − a)/h).
    a = latency_s / BLOCK_S
    bridge_sd = sigma * math.sqrt(latency_s * (BLOCK_S - latency_s) / BLOCK_S / SECONDS_PER_YEAR)
    log_h = log_p[:-1] + a * steps + bridge_sd * rng.standard_normal(n_blocks + 1)
    warm_var = warm_sigma**2 * BLOCK_S / SECONDS_PER_YEAR
    back = np.random.default_rng(seed + 1_000_003).normal(-0.5 * warm_var, np.sqrt(warm_var))
    log_w = math.log(START_PRICE) - np.cumsum(back[::-1])[::-1]  # ends one step before the start
    return FairPath(np.exp(log_p[:-1]), np.exp(log_h), np.exp(log_w))
