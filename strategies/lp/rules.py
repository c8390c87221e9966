"""Pure decision rules of the LP manager: volatility estimate, range choice, token split, gates.

No I/O and no clock here: the runner (`strategies.lp.manager`) measures, these functions decide,
so every rule is unit-testable with plain numbers. Prices are human (token1 per token0), liquidity
human (`amm.attribution.human_liquidity`), money in token1, σ annualised, times in seconds.

Economics (shared/notes/lp-maths.md): a position of liquidity L in range earns fees at
`fee_rate·L` (fee_rate measured from the pool's fee growth) and loses LVR at σ²L√P/4. Every action
is judged by the change in that carry over a decision horizon against gas plus swap cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from amm.analytics import v3_amounts, v3_lvr_rate, v3_value
from amm.attribution import SECONDS_PER_YEAR
from amm.math.conversions import price_range_to_ticks, tick_to_price


@dataclass(slots=True)
class EwmaVolatility:
    """Exponentially weighted variance of log returns per second, time-aware (irregular samples)."""

    half_life_s: float
    var_per_s: float = math.nan  # start from a prior with `from_sigma`
    samples: int = 0
    last_price: float = math.nan
    last_ts_ns: int = 0

    @classmethod
    def from_sigma(cls, half_life_s: float, sigma_annual: float) -> EwmaVolatility:
        """Starts at a prior σ, so the first few returns nudge it instead of replacing it."""
        return cls(half_life_s, sigma_annual**2 / SECONDS_PER_YEAR)

    def update(self, price: float, ts_ns: int) -> None:
        if not (math.isfinite(price) and price > 0):
            return
        if math.isnan(self.last_price):
            self.last_price, self.last_ts_ns = price, ts_ns
            return
        dt_s = (ts_ns - self.last_ts_ns) / 1e9
        if dt_s <= 0:
            return
        sample = math.log(price / self.last_price) ** 2 / dt_s
        alpha = 1.0 - math.exp(-dt_s * math.log(2) / self.half_life_s)
        self.var_per_s = (
            sample if math.isnan(self.var_per_s) else self.var_per_s + alpha * (sample - self.var_per_s)
        )
        self.samples += 1
        self.last_price, self.last_ts_ns = price, ts_ns

    def sigma_annual(self, fallback: float) -> float:
        """σ̂ per √year, or `fallback` until a first return was seen."""
        if math.isnan(self.var_per_s):
            return fallback
        return math.sqrt(self.var_per_s * SECONDS_PER_YEAR)


@dataclass(frozen=True, slots=True)
class RangeChoice:
    tick_lower: int
    tick_upper: int
    price_lower: float
    price_upper: float
    half_width: float  # log-price half width the σ rule asked for


def range_half_width(
    sigma_annual: float, horizon_s: float, width_k: float, min_half_width: float, max_half_width: float
) -> float:
    """w = k·σ̂·√T, clipped: the range should hold the price for about the rebalance horizon."""
    w = width_k * sigma_annual * math.sqrt(horizon_s / SECONDS_PER_YEAR)
    return min(max(w, min_half_width), max_half_width)


def choose_range(
    fair_price: float,
    half_width: float,
    *,
    skew: float,
    tick_spacing: int,
    decimals0: int,
    decimals1: int,
) -> RangeChoice:
    """[P·e^(−w(1−skew)), P·e^(w(1+skew))] snapped outward to usable ticks (skew > 0 leans up)."""
    if not -1.0 < skew < 1.0:
        raise ValueError(f"skew must be in (-1, 1), got {skew}")
    lower = fair_price * math.exp(-half_width * (1.0 - skew))
    upper = fair_price * math.exp(half_width * (1.0 + skew))
    tick_lower, tick_upper = price_range_to_ticks(lower, upper, decimals0, decimals1, tick_spacing)
    return RangeChoice(
        tick_lower,
        tick_upper,
        tick_to_price(tick_lower, decimals0, decimals1),
        tick_to_price(tick_upper, decimals0, decimals1),
        half_width,
    )


def liquidity_for_value(value_token1: float, price: float, price_lower: float, price_upper: float) -> float:
    """Human L a position worth `value_token1` at `price` holds in this range."""
    per_unit = float(v3_value(price, 1.0, price_lower, price_upper))
    return value_token1 / per_unit if per_unit > 0 else 0.0


def split_for_range(
    wallet0: float, wallet1: float, price: float, price_lower: float, price_upper: float
) -> tuple[bool, float]:
    """The swap (zero_for_one, amount_in human) that turns the wallet into the range's token ratio.

    Ignores the swap's own fee and impact (a few bp): the mint leaves that remainder idle.
    """
    x_unit, y_unit = v3_amounts(price, 1.0, price_lower, price_upper)
    value = wallet0 * price + wallet1
    per_unit = float(x_unit) * price + float(y_unit)
    want0 = value * float(x_unit) / per_unit
    if want0 < wallet0:
        return True, wallet0 - want0  # sell the extra token0
    want1 = value * float(y_unit) / per_unit
    return False, max(wallet1 - want1, 0.0)


class Action(StrEnum):
    HOLD = "hold"
    OPEN = "open"
    RECENTRE = "recentre"
    WIDEN = "widen"
    WITHDRAW = "withdraw"
    COMPOUND = "compound"


@dataclass(frozen=True, slots=True)
class Rules:
    """The thresholds of the gates (a view of the strategy params; see LpManagerParams)."""

    horizon_s: float
    decision_horizon_s: float
    width_k: float
    min_half_width: float
    max_half_width: float
    vol_ceiling: float
    reentry_fraction: float
    regime_ratio: float
    edge_buffer: float
    out_of_range_delay_s: float
    lvr_budget_fraction: float
    widen_factor: float
    compound_gas_multiple: float
    gas_margin: float
    min_action_interval_s: float
    max_pool_deviation_bps: float


@dataclass(frozen=True, slots=True)
class PoolView:
    """What the runner measured for one pool at one moment."""

    now_ns: int
    price: float
    sigma_annual: float
    fee_rate: float  # token1 per human L per second, when in range
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
    edge_since_ns: int | None = None  # first time the price was seen beyond the inner band
    lvr_since_open_token1: float = 0.0
    pending_fees_token1: float = 0.0
    pool_price: float = math.nan  # the pool's own price (NaN: not measured, no manipulation check)
    pool_twap_price: float = math.nan  # the pool oracle's TWAP (NaN: no oracle or too little history)


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    executed_gate: bool  # False: the rule fired but a gate (gas, interval) refused it
    half_width: float = 0.0
    numbers: dict[str, float] = field(default_factory=dict)


def carry_per_s(
    fee_rate: float, liquidity: float, price: float, sigma: float, lower: float, upper: float
) -> float:
    """Expected fees minus LVR per second of a position that is in range."""
    lvr = float(v3_lvr_rate(price, sigma, liquidity, lower, upper)) / SECONDS_PER_YEAR
    return fee_rate * liquidity - lvr


def at_edge(price: float, lower: float, upper: float, edge_buffer: float) -> bool:
    """Out of range, or within `edge_buffer` (a fraction of the log width) of either bound."""
    if not lower < price < upper:
        return True
    width = math.log(upper / lower)
    return min(math.log(price / lower), math.log(upper / price)) < edge_buffer * width


def in_range_odds(price: float, lower: float, upper: float, sigma: float, horizon_s: float) -> float:
    """Rough odds the price sits in [lower, upper] over the horizon (driftless, σ√T at mid-horizon).

    In range: erf(d/(σ√T)) with d the log distance to the nearer edge; outside: the odds of coming
    back, erfc(d/(σ√T)). Good enough to rank actions; not a pricing model.
    """
    scale = sigma * math.sqrt(horizon_s / SECONDS_PER_YEAR)
    if scale <= 0:
        return 1.0 if lower < price < upper else 0.0
    if lower < price < upper:
        return math.erf(min(math.log(price / lower), math.log(upper / price)) / scale)
    d = math.log(lower / price) if price <= lower else math.log(price / upper)
    return math.erfc(d / scale)


def decide(view: PoolView, rules: Rules) -> Decision:
    """One decision for one pool: the first rule (in priority order) whose gates pass.

    When rules fire but every one is refused by a gate, the highest-priority refusal is returned
    (so it is logged with its numbers); when none fires, HOLD.
    """
    w_new = range_half_width(
        view.sigma_annual, rules.horizon_s, rules.width_k, rules.min_half_width, rules.max_half_width
    )
    lower_new, upper_new = view.price * math.exp(-w_new), view.price * math.exp(w_new)
    l_new = liquidity_for_value(view.capital_token1, view.price, lower_new, upper_new)
    t, sigma, price = rules.decision_horizon_s, view.sigma_annual, view.price
    numbers = {"price": price, "sigma": sigma, "fee_rate": view.fee_rate, "half_width": w_new}
    since_s = math.inf if view.last_action_ns is None else (view.now_ns - view.last_action_ns) / 1e9
    numbers["since_last_action_s"] = since_s if math.isfinite(since_s) else -1.0

    def carry(liquidity: float, lower: float, upper: float, fee_rate: float = view.fee_rate) -> float:
        """Expected fees − LVR over the horizon, weighted by the odds of being in range."""
        inside = min(max(price, lower * (1 + 1e-12)), upper * (1 - 1e-12))
        odds = in_range_odds(price, lower, upper, sigma, t)
        return carry_per_s(fee_rate, liquidity, inside, sigma, lower, upper) * odds * t

    refused: list[Decision] = []

    deviation_bps = abs(view.pool_price / price - 1.0) * 1e4
    if math.isfinite(deviation_bps):
        numbers["pool_deviation_bps"] = deviation_bps
    twap_deviation_bps = abs(view.pool_price / view.pool_twap_price - 1.0) * 1e4
    if math.isfinite(twap_deviation_bps):
        numbers["twap_deviation_bps"] = twap_deviation_bps

    def gated(action: Action, reason: str, benefit: float, cost: float, width: float) -> Decision | None:
        n = {**numbers, "benefit_token1": benefit, "cost_token1": cost}
        if deviation_bps > rules.max_pool_deviation_bps:
            # Manipulation guard: a pool pushed off the CEX mid (sandwich, oracle games) would fill
            # our swap and set our range at its price; act again once arbitrage has closed the gap.
            refused.append(Decision(action, f"{reason}; refused: pool price off fair", False, width, n))
        elif twap_deviation_bps > rules.max_pool_deviation_bps:
            # The pool's own oracle disagrees with its spot: moved within the last blocks (a
            # sandwich or a push), even if the CEX agrees by chance. Charm's and Revert's check.
            refused.append(Decision(action, f"{reason}; refused: pool price off its TWAP", False, width, n))
        elif since_s < rules.min_action_interval_s:
            refused.append(Decision(action, f"{reason}; refused: min interval", False, width, n))
        elif benefit <= cost * rules.gas_margin:
            refused.append(Decision(action, f"{reason}; refused: benefit below gas + swap", False, width, n))
        else:
            return Decision(action, reason, True, width, n)
        return None

    def outcome(default_reason: str) -> Decision:
        if refused:
            return refused[0]
        return Decision(Action.HOLD, default_reason, False, w_new, numbers)

    if view.liquidity is None:
        reentry = rules.vol_ceiling * rules.reentry_fraction
        if sigma >= reentry:
            numbers["reentry_sigma"] = reentry
            return Decision(Action.HOLD, "flat: volatility above re-entry level", False, w_new, numbers)
        cost = view.gas_open_token1 + view.gas_close_token1 + view.swap_cost_token1
        return gated(Action.OPEN, "flat: enter", carry(l_new, lower_new, upper_new), cost, w_new) or outcome(
            "flat"
        )

    lower, upper, liq = view.price_lower, view.price_upper, view.liquidity
    in_range = lower < price < upper
    carry_now = carry(liq, lower, upper)
    carry_new = carry(l_new, lower_new, upper_new)
    reopen_cost = view.gas_close_token1 + view.gas_open_token1 + view.swap_cost_token1
    numbers.update(carry_now=carry_now, carry_new=carry_new, lvr_since_open=view.lvr_since_open_token1)

    if sigma > rules.vol_ceiling:
        numbers["vol_ceiling"] = rules.vol_ceiling
        # Above the ceiling fee estimates are not trusted to pay for it: staying costs the LVR.
        lvr_avoided = -carry(liq, lower, upper, fee_rate=0.0)
        decision = gated(Action.WITHDRAW, "volatility above ceiling", lvr_avoided, view.gas_close_token1, 0.0)
        # Above the ceiling nothing re-opens or adds liquidity (as when flat): withdraw, or keep what
        # is there (an out-of-range position bears no LVR, so pulling it may not pay its gas).
        return decision or outcome("volatility above ceiling: holding")
    edge_for_s = 0.0 if view.edge_since_ns is None else (view.now_ns - view.edge_since_ns) / 1e9
    numbers["edge_for_s"] = edge_for_s
    if view.edge_since_ns is not None and edge_for_s >= rules.out_of_range_delay_s:
        reason = "out of range" if not in_range else "beyond the inner band"
        decision = gated(Action.RECENTRE, reason, carry_new - carry_now, reopen_cost, w_new)
        if decision is not None:
            return decision
    ratio = sigma / view.sigma_at_open if view.sigma_at_open > 0 else 1.0
    numbers["sigma_ratio"] = ratio
    if ratio > rules.regime_ratio or ratio < 1.0 / rules.regime_ratio:
        decision = gated(
            Action.RECENTRE, "volatility regime change", carry_new - carry_now, reopen_cost, w_new
        )
        if decision is not None:
            return decision
    budget = rules.lvr_budget_fraction * view.value_token1
    numbers["lvr_budget"] = budget
    if view.lvr_since_open_token1 > budget:
        w_wide = min(view.half_width * rules.widen_factor, rules.max_half_width)
        lo_w, hi_w = price * math.exp(-w_wide), price * math.exp(w_wide)
        l_wide = liquidity_for_value(view.capital_token1, price, lo_w, hi_w)
        # LVR ran over budget: a wider range bears less of it per unit of value. The overrun is
        # what staying put has already shown it costs, on top of the change in expected carry.
        benefit = carry(l_wide, lo_w, hi_w) - carry_now + (view.lvr_since_open_token1 - budget)
        decision = gated(Action.WIDEN, "accumulated LVR above budget", benefit, reopen_cost, w_wide)
        if decision is not None:
            return decision
    if in_range and view.pending_fees_token1 > rules.compound_gas_multiple * view.gas_compound_token1:
        # (Out of range the fees would join liquidity that earns nothing until the next recentre.)
        # The rule is the threshold itself: fees at least `compound_gas_multiple` times the gas.
        benefit = view.pending_fees_token1 / rules.compound_gas_multiple
        decision = gated(Action.COMPOUND, "fees worth compounding", benefit, view.gas_compound_token1, 0.0)
        if decision is not None:
            return decision
    return outcome("in range")
