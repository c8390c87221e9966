"""What the LP rules see and the figures they share: the thresholds (`Rules`), the measured
`PoolView`, the carry model's inputs from a view (σ and the fee rate the carry is judged at) and
the `Situation` every rule of `strategies.lp.rules` reads. Pure: no I/O, no clock."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from strategies.lp.carry import (
    UNHEDGED,
    HedgeCosting,
    MoveValue,
    Optimum,
    PoolEconomics,
    carry_apr,
    liquidity_per_token1,
    optimal_half_width,
    range_carry,
    worst_move_value,
)

NO_MOVE = MoveValue(0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Rules:
    """The thresholds of the gates (a view of the strategy params; see LpManagerParams)."""

    decision_horizon_s: float
    min_half_width: float
    max_half_width: float
    enter_carry_apr: float
    exit_carry_apr: float
    exit_delay_s: float
    entry_carry_errors: float
    entry_max_sigma_error: float
    move_sigma_errors: float
    vol_ceiling: float
    reentry_fraction: float
    compound_gas_multiple: float
    gas_margin: float
    min_action_interval_s: float
    max_pool_deviation_bps: float
    check_interval_s: float
    hedge: HedgeCosting = UNHEDGED  # the CEX hedger's costs when the pool is hedged


@dataclass(frozen=True, slots=True)
class PoolView:
    """What the runner measured for one pool at one moment."""

    now_ns: int
    price: float
    sigma_annual: float
    fee_rate: float  # token1 per human L per second, when in range, at the pool's active L now
    capital_token1: float  # what a new position would be worth
    gas_open_token1: float
    gas_close_token1: float
    gas_compound_token1: float
    swap_cost_token1: float  # estimated cost of the ratio swap a new position needs
    last_action_ns: int | None = None
    # the live position (None when flat)
    liquidity: float | None = None
    price_lower: float = 0.0
    price_upper: float = 0.0
    value_token1: float = 0.0
    sigma_at_open: float = 0.0
    half_width: float = 0.0
    lvr_since_open_token1: float = 0.0
    pending_fees_token1: float = 0.0
    pool_price: float = math.nan  # the pool's own price (NaN: not measured, no manipulation check)
    pool_twap_price: float = math.nan  # the pool oracle's TWAP (NaN: no oracle or too little history)
    pool_liquidity: float = 0.0  # human L active at the pool's price, ours included (0: not measured)
    recentre_swap_cost_token1: float = math.nan  # swapping half the capital (NaN: swap_cost_token1)
    negative_carry_since_ns: int | None = None  # first seen below the exit threshold (None: above)
    sigma_rel_error: float = 0.0  # σ̂'s standard error as a fraction of σ̂ (its EWMA's sample count)
    fee_rel_error: float = 0.0  # the fee rate's standard error as a fraction of it (1: unknown)
    # fee rate − LVR's standard error, token1 per human L per second, from batch means (NaN: not yet)
    carry_error_per_l: float = math.nan
    tick_spacing_log: float = 0.0  # one tick spacing in log price: the narrowest half-width usable
    pool_sigma_annual: float = math.nan  # the pool price's own σ̂, what the hedge follows (NaN: σ̂)
    fee_window_sigma_annual: float = math.nan  # σ̂ over the fee rate's window (NaN: no return yet)
    fee_window_sigma_rel_error: float = 1.0  # its standard error as a fraction of it
    # the pool path's band-hedge trading ÷ the diffusion model's, per band (empty: not measured)
    pool_band_ratios: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())


def economics(view: PoolView, rules: Rules) -> PoolEconomics:
    """The carry model's inputs from a view, at the measured σ̂ and fee rate: our liquidity counts
    as active while the pool's price is inside our range (that is where the pool's
    active-liquidity figure was read)."""
    at = view.pool_price if math.isfinite(view.pool_price) else view.price
    own = view.liquidity if view.liquidity is not None and view.price_lower < at < view.price_upper else 0.0
    swap = view.recentre_swap_cost_token1
    swap = swap if math.isfinite(swap) else view.swap_cost_token1
    return PoolEconomics(
        price=view.price,
        sigma_annual=view.sigma_annual,
        fee_rate=view.fee_rate,
        pool_liquidity=view.pool_liquidity if math.isfinite(view.pool_liquidity) else 0.0,
        own_active_liquidity=own,
        capital_token1=view.capital_token1,
        recentre_cost_token1=view.gas_close_token1 + view.gas_open_token1 + swap,
        recentre_wait_s=rules.check_interval_s,
        hedge=rules.hedge,
        hedge_sigma_annual=view.pool_sigma_annual if math.isfinite(view.pool_sigma_annual) else None,
        hedge_band_ratios=view.pool_band_ratios,
    )


def entry_sigma(view: PoolView) -> tuple[float, float]:
    """The σ̂ the entry gate judges LVR at, and its standard error as a fraction of it: σ̂ over
    the fee rate's own window (`fee_half_life_s`), σ̂ until that window has a return.

    The fee rate is that window's average, in a volatile pool mostly the arbitrageurs' fees,
    which grow with that window's σ²: fees − LVR is that window's carry when both come from it.
    With the half-hour σ̂, a calm half hour after a volatile one read the volatile hours'
    arbitrage fees against the calm half hour's LVR, a carry the pool does not pay (σ 120 % on a
    0.3 % pool: entries at σ̂ 1.04–1.12, then a widen and an exit on gas). The held rules keep
    σ̂: how soon a range is left is the recent σ's business."""
    if math.isfinite(view.fee_window_sigma_annual):
        return view.fee_window_sigma_annual, view.fee_window_sigma_rel_error
    return view.sigma_annual, view.sigma_rel_error


def entry_fee_rate(view: PoolView, rules: Rules, e: PoolEconomics, sigma_rel_error: float) -> float:
    """The fee rate the entry gate judges the carry at (`e`: the pool at the entry's σ̂): less
    `entry_carry_errors` standard errors of fees − LVR per unit of liquidity. Fees and LVR nearly
    cancel in a volatile pool (σ 120 % on a 0.3 % pool: fees ≈ 1.1 × LVR), so a carry read from a
    few lumpy swaps or from the high end of σ̂'s noise is otherwise taken for one the pool pays.
    One error bar for the difference rather than one on each side: where the carry is large
    against both errors (σ 60 % on a 0.05 % pool) it is not judged at the worst of each at once.
    The error is the measured one (`strategies.lp.carry_error`: batch means, the fees' runs and
    their correlation with the moves included); until enough batches,
    √((e_f·fee)² + (2·e_σ·LVR)²) from the rounds, taken as independent. The hedge cost is judged
    at the window's σ̂ like LVR, but its own error is left out of the bar (in the benchmark's
    narrow 30 % ranges it is the larger cost: the bar is narrower than it could be)."""
    return max(view.fee_rate - rules.entry_carry_errors * carry_error(view, e, sigma_rel_error), 0.0)


def carry_error(view: PoolView, e: PoolEconomics, sigma_rel_error: float) -> float:
    """fee rate − LVR's standard error per unit of liquidity (token1 per second): the measured
    one, else the rounds'."""
    if math.isfinite(view.carry_error_per_l):
        return view.carry_error_per_l
    return rounds_carry_error(view, e, sigma_rel_error)


def rounds_carry_error(view: PoolView, e: PoolEconomics, sigma_rel_error: float) -> float:
    """The same from the rounds' errors taken as independent: √((e_f·fee)² + (2·e_σ·LVR)²)."""
    return math.hypot(view.fee_rel_error * view.fee_rate, 2.0 * sigma_rel_error * e.lvr_per_s(1.0))


def entry_economics(view: PoolView, rules: Rules) -> PoolEconomics:
    """What the entry gate judges a flat pool at: the fee window's σ̂ (the pool's σ̂ and the
    hedge scaled alike) and the fee rate less the carry's errors."""
    sigma, sigma_rel_error = entry_sigma(view)
    e = economics(view, rules).at(sigma, view.capital_token1)
    return dataclasses.replace(e, fee_rate=entry_fee_rate(view, rules, e, sigma_rel_error))


def best_range(view: PoolView, rules: Rules, e: PoolEconomics) -> Optimum:
    """The best half-width to ask for within the configured bounds, judged as the range it opens:
    snapped outward to the tick spacing, half a spacing wider each side on average. Never under
    half a spacing: [P·e^(−w), P·e^(w)] then still spans the price's spacing and a neighbour
    (the narrowest range around the price, at a 0.3 % pool's spacing of 0.6 % a ±0.6 % range);
    narrower requests snap to a lopsided single spacing."""
    snap = view.tick_spacing_log / 2.0
    narrowest = min(max(rules.min_half_width, snap), rules.max_half_width)
    return optimal_half_width(e, narrowest, rules.max_half_width, snap)


@dataclass(frozen=True, slots=True)
class Situation:
    """What every rule sees: the view, the thresholds, and the figures the rules share."""

    view: PoolView
    rules: Rules
    economics: PoolEconomics  # at the measured σ̂ and fee rate
    optimum: Optimum  # the best width and its steady carry per second, at the measured estimates
    # What the carry is judged at: flat, the entry gate's pessimistic estimates (the range still
    # opens at `optimum`'s width, the one the held rules then keep, so entry and hold agree and
    # the first move after an entry is not a narrowing); held, the same as `economics`/`optimum`.
    judged_economics: PoolEconomics
    judged: Optimum
    carry_apr: float  # `judged`'s carry as a yearly fraction of the capital
    price_lower_new: float
    price_upper_new: float
    liquidity_new: float  # human L of the capital in the best range opened now
    since_last_action_s: float  # inf before the first action
    pool_deviation_bps: float  # pool price vs fair (NaN: not measured)
    twap_deviation_bps: float  # pool price vs its oracle TWAP (NaN: no oracle)
    keep_token1: float = 0.0  # the live range left alone: fees − LVR over the decision horizon
    move: MoveValue = NO_MOVE  # moving the live range to the best one

    @classmethod
    def of(cls, view: PoolView, rules: Rules) -> Situation:
        e = economics(view, rules)
        best = best_range(view, rules, e)
        judged_e = e if view.liquidity is not None else entry_economics(view, rules)
        judged = best if view.liquidity is not None else best_range(view, rules, judged_e)
        w = best.half_width
        lower_new, upper_new = view.price * math.exp(-w), view.price * math.exp(w)
        liquidity_new = view.capital_token1 * liquidity_per_token1(view.price, w)
        since_s = math.inf if view.last_action_ns is None else (view.now_ns - view.last_action_ns) / 1e9
        s = cls(view, rules, e, best, judged_e, judged, carry_apr(judged.carry_per_s, view.capital_token1),
                lower_new, upper_new, liquidity_new, since_s,
                abs(view.pool_price / view.price - 1.0) * 1e4,
                abs(view.pool_price / view.pool_twap_price - 1.0) * 1e4)  # fmt: skip
        if view.liquidity is None:
            return s
        horizon, lo, hi = rules.decision_horizon_s, view.price_lower, view.price_upper
        keep = range_carry(e, view.liquidity, lo, hi, horizon)
        # The best range as it will be opened: snapped outward, half a spacing wider each side.
        w_snapped = w + view.tick_spacing_log / 2.0
        spread = rules.move_sigma_errors * view.sigma_rel_error
        move = worst_move_value(e, spread, view.liquidity, lo, hi, w_snapped, horizon, s.reopen_cost_token1)
        return dataclasses.replace(s, keep_token1=keep, move=move)

    @property
    def in_range(self) -> bool:
        v = self.view
        return v.price_lower < v.price < v.price_upper

    @property
    def reopen_cost_token1(self) -> float:
        v = self.view
        return v.gas_close_token1 + v.gas_open_token1 + v.swap_cost_token1

    def numbers(self) -> dict[str, float]:
        """The figures every decision is logged with (position figures only when one is held)."""
        v = self.view
        since_s = self.since_last_action_s
        numbers = {"price": v.price, "sigma": v.sigma_annual, "fee_rate": v.fee_rate,
                   "half_width": self.optimum.half_width, "carry_apr": self.carry_apr,
                   "since_last_action_s": since_s if math.isfinite(since_s) else -1.0}  # fmt: skip
        if v.liquidity is None:
            numbers["sigma_entry"] = self.judged_economics.sigma_annual
            numbers["fee_rate_entry"] = self.judged_economics.fee_rate
            numbers["carry_error_measured"] = float(math.isfinite(v.carry_error_per_l))
        if self.economics.pool_liquidity > 0:
            numbers["pool_liquidity"] = self.economics.pool_liquidity
        if math.isfinite(self.pool_deviation_bps):
            numbers["pool_deviation_bps"] = self.pool_deviation_bps
        if math.isfinite(self.twap_deviation_bps):
            numbers["twap_deviation_bps"] = self.twap_deviation_bps
        if v.liquidity is not None:
            numbers.update(keep_token1=self.keep_token1, move_gain_token1=self.move.benefit_token1,
                           move_time_s=self.move.time_s, half_width_now=v.half_width,
                           lvr_since_open=v.lvr_since_open_token1)  # fmt: skip
        return numbers


def carry_below_exit(view: PoolView, rules: Rules) -> bool:
    """The best range's expected carry is below the exit threshold (the runner times how long)."""
    e = economics(view, rules)
    best = best_range(view, rules, e)
    return carry_apr(best.carry_per_s, view.capital_token1) < rules.exit_carry_apr
