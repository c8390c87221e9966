"""Expected carry of an LP range and the width that maximises it (pure functions, no I/O).

Carry = fees − LVR − hedge costs − amortised gas and swap, in token1 per second, for capital V in a symmetric
range of log half-width w around the price P (shared/notes/lp-maths.md):

- liquidity: L(w) = V / (2√P·(1 − e^(−w/2))), the v2 liquidity V/(2√P) times a concentration that
  grows like 2/w for narrow ranges;
- fees: the pool pays F token1/s to its in-range liquidity (F = measured fee rate per unit of L
  × active L); ours is the share L/(L_others + L), so narrowing saturates once we dominate the pool
  (no dilution figure: fees linear in L at the measured rate);
- LVR (Milionis et al.): σ²L√P/4 per year while in range, i.e. σ²/(8(1 − e^(−w/2))) ≈ σ²/(4w) of
  the value: the concentration that multiplies the fees multiplies the LVR too;
- recentres: a driftless log price leaves ±w after w²/σ² on average (exit time of a Brownian motion),
  then waits a round before the recentre; each one costs gas (close + open) and the swap of half
  the value. The fraction of time in range and the recentre rate follow;
- the CEX hedge, when the position is hedged (`HedgeCosting`): trading cost while in range grows
  with the range's gamma squared (≈ 1/w² of the value, against 1/w for fees and LVR), and each
  recentre's swap is re-hedged; narrower ranges pay more of it, so the best hedged range is wider.

`steady_carry_per_s` is that policy's long-run carry (enter / stay / exit and the optimal width);
`range_carry` is what one static range earns over a horizon from where the price is now (the
occupation time of the range in closed form), for comparing keeping a range against moving it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import numpy as np

from amm.attribution import SECONDS_PER_YEAR

GRID_POINTS = 33  # log-spaced widths per pass of the width search (one vectorised evaluation)
ZOOM_PASSES = 4  # each pass narrows the bracket to two cells, 16×: 4e-5 in log width after four
# (a hundredth of the narrowest tick spacing; each pass is a numpy evaluation, a round's main cost)
Liquidity = TypeVar("Liquidity", float, np.ndarray)  # one figure, or a grid of candidate widths


# A Gaussian walk of step s√Δt checked against a barrier overshoots it by O: E[O] = ρ·s√Δt with
# ρ = −ζ(1/2)/√(2π), E[O²] = (ρ² + 1/4)·s²Δt (Siegmund's corrected diffusion; 0.590 measured).
OVERSHOOT_MEAN = 0.5826
OVERSHOOT_SQUARE = OVERSHOOT_MEAN**2 + 0.25


def band_trade_moments(b: float, step: Liquidity) -> tuple[Liquidity, Liquidity]:
    """E[B + O] and E[(B + O)²]: a band B's trade size moments, checked every step of RMS `step`."""
    return b + OVERSHOOT_MEAN * step, b * b + 2.0 * b * OVERSHOOT_MEAN * step + OVERSHOOT_SQUARE * step * step


@dataclass(frozen=True, slots=True)
class HedgeCosting:
    """What a band hedger on a CEX costs per second of a range held in the pool.

    The position holds x(P) = L(1/√P − 1/√P_b) of token0, so its gamma is dx/dP = −L/(2P^(3/2)).
    The hedger keeps the net delta n = x(P) + hedge inside ±B, trading n back to 0 once |n| > B.
    Between trades only x moves: dn = Γ·dP = Γ·σP·dW, a martingale of scale
        s = |Γ|·σP = σL/(2√P)   (token0 per √year).
    Checked every Δt, n is traded at |n_τ| = B + O, O the overshoot of the band (a Gaussian walk
    of step s√Δt). Wald's identity E[n_τ²] = s²·E[τ] gives the trade rate s²/E[n_τ²]; each trade
    costs c·|n_τ|·P (c: taker fee + half spread; the latency's price move costs nothing on average
    for a driftless price). So
        cost per year = c·P·s²·E[B + O] / E[(B + O)²] → c·σ²L²/(4B) as Δt → 0,
    quadratic in L where fees and LVR are linear: per unit of value, with L ≈ V/(√P·w), the hedge
    costs c·σ²V/(4BPw²) a year against LVR's σ²/(4w) (ratio c·V/(P·B·w): 2× LVR for 30,000 token1
    on a ±0.25 ETH band at ±1 %, 0.07× at ±30 %). The overshoot matters for narrow ranges: at
    s√Δt ≈ B the trades are 1.8 B apart, not B. A hedge ratio h below 1 scales s by h, so its cost
    is about h² of this (the model assumes h = 1, the conservative side).

    A recentre from the edge of a range (all one token) swaps half the value, which the hedger
    then re-trades: c·V/2 more per recentre. Funding on the hedge is left out: the hedger hedges
    the idle wallet's token0 too, so it is paid in or out of the pool, and for any width the
    position holds ≈ V/(2P) token0 near its centre.
    """

    band_token0: float = 0.0  # 0: not hedged, nothing to pay
    cost_fraction: float = 0.0  # per trade, of its notional: taker fee + half spread
    check_interval_s: float = 0.0  # how often the hedger looks (0: continuously)

    @property
    def hedged(self) -> bool:
        return self.band_token0 > 0.0

    def rate_per_s(self, sigma_annual: float, liquidity: Liquidity, price: float) -> Liquidity:
        """Expected hedge trading cost per second, token1, of a range of human L (≥ 0) at P."""
        if not self.hedged or price <= 0.0:
            return liquidity * 0.0
        s = sigma_annual * liquidity / (2.0 * math.sqrt(price))
        step = s * math.sqrt(self.check_interval_s / SECONDS_PER_YEAR)
        traded, traded_sq = band_trade_moments(self.band_token0, step)  # E|n_τ|, E[n_τ²]
        return self.cost_fraction * price * s * s * traded / traded_sq / SECONDS_PER_YEAR

    def rehedge_token1(self, capital_token1: float) -> float:
        """What the hedger pays to follow a recentre's swap of half the capital."""
        return self.cost_fraction * capital_token1 / 2.0 if self.hedged else 0.0


UNHEDGED = HedgeCosting()


@dataclass(frozen=True, slots=True)
class PoolEconomics:
    """The live estimates the carry is computed from (human prices and L, token1, seconds)."""

    price: float
    sigma_annual: float
    fee_rate: float  # token1 per human L per second at the pool's active liquidity now
    pool_liquidity: float  # human L active at the price, ours included (0: unknown, no dilution)
    own_active_liquidity: float  # our part of `pool_liquidity` (0 when flat or out of range)
    capital_token1: float
    recentre_cost_token1: float  # gas of a close and an open + the swap of half the capital
    recentre_wait_s: float  # time out of range before a recentre is acted on
    hedge: HedgeCosting = UNHEDGED  # the CEX hedge's trading cost while in range
    # The σ the hedge's trades follow: the pool's own price (None: the fair σ). The position's
    # delta moves with the pool, which lags the fair price inside its fee band.
    hedge_sigma_annual: float | None = None
    # The pool path's band trading against the model's, per hedge band in log price
    # (`band_trading.BandTradingMeter.ratios`; empty: the model as is).
    hedge_band_ratios: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())

    @property
    def hedge_sigma(self) -> float:
        return self.sigma_annual if self.hedge_sigma_annual is None else self.hedge_sigma_annual

    @property
    def others_liquidity(self) -> float:
        return max(self.pool_liquidity - self.own_active_liquidity, 0.0)

    def fee_per_s(self, liquidity: Liquidity) -> Liquidity:
        """Our fees while in range with `liquidity`: our share of the pool's fee flow."""
        others = self.others_liquidity
        if not others > 0.0:
            return self.fee_rate * liquidity
        flow = self.fee_rate * self.pool_liquidity
        return flow * liquidity / (others + liquidity)

    def lvr_per_s(self, liquidity: Liquidity) -> Liquidity:
        return self.sigma_annual**2 * liquidity * math.sqrt(self.price) / 4.0 / SECONDS_PER_YEAR

    def hedge_per_s(self, liquidity: Liquidity) -> Liquidity:
        return self.hedge.rate_per_s(self.hedge_sigma, liquidity, self.price) * self.band_ratio(liquidity)

    def band_ratio(self, liquidity: Liquidity) -> Liquidity:
        """The measured ÷ modelled hedge trading at the band L implies, δ = 2B√P/L (held flat
        beyond the bands measured; 1 when none is)."""
        bands, ratios = self.hedge_band_ratios
        if not bands or not self.hedge.hedged:
            return liquidity * 0.0 + 1.0
        band = 2.0 * self.hedge.band_token0 * math.sqrt(self.price) / np.maximum(liquidity, 1e-300)
        return np.interp(np.log(band), np.log(bands), ratios) + liquidity * 0.0

    def in_range_carry_per_s(self, liquidity: Liquidity) -> Liquidity:
        return self.fee_per_s(liquidity) - self.lvr_per_s(liquidity) - self.hedge_per_s(liquidity)

    def at(self, sigma_annual: float, capital_token1: float) -> PoolEconomics:
        """The same pool at another σ (the pool's σ scaled alike) or capital
        (`dataclasses.replace` costs 10× this, a round asks for several)."""
        hedge_sigma = self.hedge_sigma_annual
        if hedge_sigma is not None and self.sigma_annual > 0.0:
            hedge_sigma *= sigma_annual / self.sigma_annual
        return PoolEconomics(self.price, sigma_annual, self.fee_rate, self.pool_liquidity,
                             self.own_active_liquidity, capital_token1, self.recentre_cost_token1,
                             self.recentre_wait_s, self.hedge, hedge_sigma,
                             self.hedge_band_ratios)  # fmt: skip


def liquidity_per_token1(price: float, half_width: Liquidity) -> Liquidity:
    """Human L of one token1 of value in [P·e^(−w), P·e^(w)] at P (the range's centre)."""
    return 1.0 / (2.0 * math.sqrt(price) * -np.expm1(-half_width / 2.0))


def mean_exit_time_s(sigma_annual: float, half_width: Liquidity) -> Liquidity:
    """Mean time for a driftless log price to move ±w from the centre: w²/σ²."""
    if sigma_annual <= 0.0:
        return half_width * math.inf
    return half_width**2 / sigma_annual**2 * SECONDS_PER_YEAR


def steady_carry_per_s(e: PoolEconomics, half_width: float) -> float:
    """Long-run carry of holding ±w around the price and recentring each time it leaves."""
    earning, recentring = steady_parts(e, half_width)
    return earning - recentring


def steady_parts(e: PoolEconomics, half_width: Liquidity) -> tuple[Liquidity, Liquidity]:
    """(fees − LVR − hedge per second averaged over time in and out of range, recentre cost per
    second: gas, swap and the swap's re-hedge), of one width or of a grid of them at once."""
    liquidity = e.capital_token1 * liquidity_per_token1(e.price, half_width)
    if e.sigma_annual <= 0.0:  # the price never leaves: no recentres
        return e.in_range_carry_per_s(liquidity), half_width * 0.0
    cycle_s = mean_exit_time_s(e.sigma_annual, half_width) + e.recentre_wait_s
    in_range = (cycle_s - e.recentre_wait_s) / cycle_s
    recentre = e.recentre_cost_token1 + e.hedge.rehedge_token1(e.capital_token1)
    return in_range * e.in_range_carry_per_s(liquidity), recentre / cycle_s


@dataclass(frozen=True, slots=True)
class Optimum:
    half_width: float
    carry_per_s: float


def _steady_carry_grid(e: PoolEconomics, half_widths: np.ndarray) -> np.ndarray:
    """`steady_parts`' earning − recentring over a grid of widths, its scalars folded first: the
    width search evaluates it four times a round, where numpy's per-call overhead, not the 33
    points, is the cost (equal to `steady_parts` to rounding: the brute-force test checks it)."""
    sqrt_p = math.sqrt(e.price)
    liquidity = (e.capital_token1 / (2.0 * sqrt_p)) / -np.expm1(half_widths * -0.5)
    others = e.others_liquidity
    if others > 0.0:
        fees = (e.fee_rate * e.pool_liquidity) * liquidity / (others + liquidity)
    else:
        fees = e.fee_rate * liquidity
    carry = fees - (e.sigma_annual**2 * sqrt_p / 4.0 / SECONDS_PER_YEAR) * liquidity
    h = e.hedge
    if h.hedged and e.price > 0.0:
        s = (e.hedge_sigma / (2.0 * sqrt_p)) * liquidity
        step = s * (OVERSHOOT_MEAN * math.sqrt(h.check_interval_s / SECONDS_PER_YEAR))
        b = h.band_token0
        traded_sq = b * b + step * (2.0 * b + (OVERSHOOT_SQUARE / OVERSHOOT_MEAN**2) * step)
        hedge = (h.cost_fraction * e.price / SECONDS_PER_YEAR) * s * s * (b + step) / traded_sq
        carry -= hedge * e.band_ratio(liquidity) if e.hedge_band_ratios[0] else hedge
    if e.sigma_annual <= 0.0:
        return carry
    exit_s = half_widths * half_widths * (SECONDS_PER_YEAR / e.sigma_annual**2)
    cycle_s = exit_s + e.recentre_wait_s
    recentre = e.recentre_cost_token1 + e.hedge.rehedge_token1(e.capital_token1)
    return (exit_s * carry - recentre) / cycle_s


_GRID_STEPS = np.arange(GRID_POINTS, dtype=np.float64)


@lru_cache(maxsize=64)  # the runner's exit timer and the rules ask for the same view's optimum
def optimal_half_width(
    e: PoolEconomics, min_half_width: float, max_half_width: float, snap_half_width: float = 0.0
) -> Optimum:
    """The half-width in [min, max] with the highest steady carry: a log grid, then the same grid
    again inside the two cells around its best, `ZOOM_PASSES` times (the carry need not be
    unimodal across the whole span, e.g. where dilution flattens the fees; it is smooth within
    one cell). Each pass is one vectorised evaluation, so a round's search costs four of them.
    `snap_half_width`: what snapping a range outward to usable ticks adds to each side on average
    (half a spacing); a requested width w is judged as the range it opens, w + that."""
    lo, hi = math.log(min_half_width), math.log(max_half_width)
    best_x, best_f = lo, -math.inf
    for _ in range(ZOOM_PASSES):
        grid = lo + _GRID_STEPS * ((hi - lo) / (GRID_POINTS - 1))
        grid[-1] = hi
        values = _steady_carry_grid(e, np.exp(grid) + snap_half_width)
        i = int(np.argmax(values))
        if values[i] > best_f:
            best_x, best_f = float(grid[i]), float(values[i])
        if hi - lo < 1e-12:
            break
        lo, hi = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, GRID_POINTS - 1)])
    return Optimum(math.exp(best_x), best_f)


def _time_beyond_s(distance: float, sigma_annual: float, horizon_s: float) -> float:
    """∫₀ᴴ P(σB_t > d) dt = (H + c²)·Φ(−c/√H) − c·√H·φ(c/√H) with c = d/σ (years inside)."""
    h = horizon_s / SECONDS_PER_YEAR
    c = distance / sigma_annual
    z = c / math.sqrt(h)
    tail = 0.5 * math.erfc(z / math.sqrt(2.0))
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return ((h + c * c) * tail - c * math.sqrt(h) * density) * SECONDS_PER_YEAR


def time_in_range_s(price: float, lower: float, upper: float, sigma_annual: float, horizon_s: float) -> float:
    """Expected time a driftless log price starting at `price` spends in [lower, upper] over the
    horizon (the range left alone)."""
    if sigma_annual <= 0.0 or horizon_s <= 0.0:
        return horizon_s if lower < price < upper else 0.0
    up, down = math.log(upper / price), math.log(price / lower)
    if up >= 0.0 and down >= 0.0:
        occupied = horizon_s - _time_beyond_s(up, sigma_annual, horizon_s)
        occupied -= _time_beyond_s(down, sigma_annual, horizon_s)
    else:  # outside: the time spent past the near edge but not past the far one
        near, far = (-up, down) if up < 0.0 else (-down, up)
        occupied = _time_beyond_s(near, sigma_annual, horizon_s)
        occupied -= _time_beyond_s(far, sigma_annual, horizon_s)
    return min(max(occupied, 0.0), horizon_s)


def range_carry(e: PoolEconomics, liquidity: float, lower: float, upper: float, horizon_s: float) -> float:
    """Expected fees − LVR of one range left alone over the horizon (token1)."""
    occupied = time_in_range_s(e.price, lower, upper, e.sigma_annual, horizon_s)
    return e.in_range_carry_per_s(liquidity) * occupied


def compound_gain_token1(e: PoolEconomics, liquidity: float, added_liquidity: float, life_s: float) -> float:
    """What adding `added_liquidity` (the fees) to a live range earns: its in-range carry with
    them less without (the hedge's cost is quadratic in L), for the range's expected life in
    range; after that a move redeploys the fees anyway, without a compound's gas."""
    gain = e.in_range_carry_per_s(liquidity + added_liquidity) - e.in_range_carry_per_s(liquidity)
    return gain * life_s


def carry_apr(carry_per_s: float, capital_token1: float) -> float:
    """A carry as a yearly fraction of the capital (what the entry and exit thresholds are in)."""
    return carry_per_s * SECONDS_PER_YEAR / capital_token1 if capital_token1 > 0 else 0.0


SERIES_MIN_DECAY = 0.01  # λ₁H below this: the edges are > 20 σ√H apart, the one-edge formulas hold
SERIES_TAIL = 50.0  # the exit-time series stops once e^(−λₙH) < e^(−50)


def range_survival(
    price: float, lower: float, upper: float, sigma_annual: float, horizon_s: float
) -> tuple[float, float]:
    """(P(the price stays in [lower, upper] for the whole horizon), E[min(exit time, horizon)] s)
    for a driftless log price starting inside: the interval's eigenfunction series, with
    E[exit] = d₁d₂/σ²; for edges far apart relative to σ√H, one-edge reflection formulas."""
    d1, d2 = math.log(price / lower), math.log(upper / price)
    if sigma_annual <= 0.0:
        return 1.0, horizon_s
    h = horizon_s / SECONDS_PER_YEAR
    width = d1 + d2
    decay1 = (math.pi * sigma_annual / width) ** 2 / 2.0 * h  # λ₁·H
    if decay1 < SERIES_MIN_DECAY:
        s = sigma_annual * math.sqrt(h)
        hit = math.erfc(d1 / s / math.sqrt(2.0)) + math.erfc(d2 / s / math.sqrt(2.0))
        beyond = _time_beyond_s(d1, sigma_annual, horizon_s) + _time_beyond_s(d2, sigma_annual, horizon_s)
        return max(1.0 - hit, 0.0), max(horizon_s - 2.0 * beyond, 0.0)
    survive = tail_time = 0.0
    n = 1
    while n * n * decay1 < SERIES_TAIL:
        weight = 4.0 / (n * math.pi) * math.sin(n * math.pi * d1 / width) * math.exp(-n * n * decay1)
        survive += weight
        tail_time += weight / (n * n * decay1) * h  # Σ cₙe^(−λₙH)/λₙ, in years
        n += 2
    mean_exit = d1 * d2 / sigma_annual**2
    return min(max(survive, 0.0), 1.0), min(max(mean_exit - tail_time, 0.0), h) * SECONDS_PER_YEAR


@dataclass(frozen=True, slots=True)
class MoveValue:
    """Moving the live range to the best one now, against keeping it until the price leaves it."""

    benefit_token1: float  # what the best policy earns over the live range until then
    cost_token1: float  # its recentres in that time, and the move itself if the live range lasts
    time_s: float  # the live range's expected life within the horizon


def move_value(
    e: PoolEconomics,
    liquidity: float,
    lower: float,
    upper: float,
    best_half_width: float,
    horizon_s: float,
    move_cost_token1: float,
) -> MoveValue:
    """Over the horizon: keeping the live range earns its in-range carry until the price leaves
    it (time τ), then pays a recentre and follows the best policy; moving pays the recentre now
    and follows the best policy throughout. Their difference is
        (best earning − live carry − best recentres per second)·E[min(τ, H)] − move cost·P(τ > H),
    so a range is never moved merely for being off centre (it earns the same anywhere inside),
    only when out, or when its width is wrong enough that the best policy outearns it by the
    cost. Out of range the live range earns only while the price is back in it, and stays out.

    Like for like: the best policy gets the capital the live range holds valued as if centred,
    so an off-centre range of the best width never moves, and capital left idle beside it (a
    mint's remainder, the CEX route's surplus, left idle again by any move) is no reason to."""
    held = liquidity / liquidity_per_token1(e.price, math.log(upper / lower) / 2.0)
    earning, recentring = steady_parts(e.at(e.sigma_annual, held), best_half_width)
    own = e.in_range_carry_per_s(liquidity)
    if lower < e.price < upper:
        survive, t = range_survival(e.price, lower, upper, e.sigma_annual, horizon_s)
        kept = own * t
    else:
        survive, t = 1.0, horizon_s
        kept = own * time_in_range_s(e.price, lower, upper, e.sigma_annual, horizon_s)
    return MoveValue(earning * t - kept, recentring * t + move_cost_token1 * survive, t)


def worst_move_value(
    e: PoolEconomics,
    sigma_spread: float,
    liquidity: float,
    lower: float,
    upper: float,
    best_half_width: float,
    horizon_s: float,
    move_cost_token1: float,
) -> MoveValue:
    """`move_value` at σ̂ and at σ̂·(1 ± `sigma_spread`), the least favourable to the move: the
    best width is chosen at σ̂, so a noisy σ̂ (a half-hour EWMA errs by 5–17 %) would otherwise
    flip the range between narrow and wide, each move's gain being the noise's, not the pool's."""
    sigmas = {e.sigma_annual * (1.0 + k * sigma_spread) for k in (-1.0, 0.0, 1.0)}
    moves = (
        move_value(e.at(s, e.capital_token1), liquidity, lower, upper, best_half_width,
                   horizon_s, move_cost_token1)
        for s in sorted(sigmas) if s >= 0.0
    )  # fmt: skip
    return min(moves, key=lambda m: m.benefit_token1 - m.cost_token1)
