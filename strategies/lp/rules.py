"""Pure decision rules of the LP manager: a table of small rules, in priority order, and the gates.

Each rule looks at the `Situation` (the measured `PoolView` plus shared figures) and fires an
action with its benefit and cost, or not; either way it adds its numbers to the decision log.
`decide` takes the first fired rule whose gates pass. No I/O and no clock here: the runner
(`strategies.lp.pool`) measures, these functions decide, so every rule is unit-testable with
plain numbers. Prices are human (token1 per token0), liquidity
human (`amm.attribution.human_liquidity`), money in token1, σ annualised, times in seconds.

Economics (shared/notes/lp-maths.md): a position of liquidity L in range earns fees at
`fee_rate·L` (fee_rate measured from the pool's fee growth) and loses LVR at σ²L√P/4. Every action
is judged by the change in that carry over a decision horizon against gas plus swap cost.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from strategies.lp.ranges import carry_per_s, in_range_odds, liquidity_for_value, range_half_width


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


@dataclass(frozen=True, slots=True)
class Situation:
    """What every rule sees: the view, the thresholds, and the figures the rules share."""

    view: PoolView
    rules: Rules
    half_width_new: float  # the σ rule's width for a range opened now
    price_lower_new: float
    price_upper_new: float
    liquidity_new: float  # human L of the capital in that range
    since_last_action_s: float  # inf before the first action
    pool_deviation_bps: float  # pool price vs fair (NaN: not measured)
    twap_deviation_bps: float  # pool price vs its oracle TWAP (NaN: no oracle)
    carry_now: float = 0.0  # the live position's carry over the horizon (0 when flat)
    carry_new: float = 0.0  # a range opened now, same capital

    @classmethod
    def of(cls, view: PoolView, rules: Rules) -> Situation:
        w_new = range_half_width(
            view.sigma_annual, rules.horizon_s, rules.width_k, rules.min_half_width, rules.max_half_width
        )
        price_lower_new, price_upper_new = view.price * math.exp(-w_new), view.price * math.exp(w_new)
        since_s = math.inf if view.last_action_ns is None else (view.now_ns - view.last_action_ns) / 1e9
        s = cls(
            view,
            rules,
            w_new,
            price_lower_new,
            price_upper_new,
            liquidity_for_value(view.capital_token1, view.price, price_lower_new, price_upper_new),
            since_s,
            abs(view.pool_price / view.price - 1.0) * 1e4,
            abs(view.pool_price / view.pool_twap_price - 1.0) * 1e4,
        )
        if view.liquidity is None:
            return s
        carry_now = s.carry(view.liquidity, view.price_lower, view.price_upper)
        carry_new = s.carry(s.liquidity_new, price_lower_new, price_upper_new)
        return dataclasses.replace(s, carry_now=carry_now, carry_new=carry_new)

    def carry(self, liquidity: float, lower: float, upper: float, fee_rate: float | None = None) -> float:
        """Expected fees − LVR over the decision horizon, weighted by the odds of being in range."""
        price, sigma, t = self.view.price, self.view.sigma_annual, self.rules.decision_horizon_s
        inside = min(max(price, lower * (1 + 1e-12)), upper * (1 - 1e-12))
        odds = in_range_odds(price, lower, upper, sigma, t)
        rate = self.view.fee_rate if fee_rate is None else fee_rate
        return carry_per_s(rate, liquidity, inside, sigma, lower, upper) * odds * t

    @property
    def reopen_cost_token1(self) -> float:
        v = self.view
        return v.gas_close_token1 + v.gas_open_token1 + v.swap_cost_token1

    def numbers(self) -> dict[str, float]:
        """The figures every decision is logged with (position figures only when one is held)."""
        v = self.view
        since_s = self.since_last_action_s
        numbers = {"price": v.price, "sigma": v.sigma_annual, "fee_rate": v.fee_rate,
                   "half_width": self.half_width_new,
                   "since_last_action_s": since_s if math.isfinite(since_s) else -1.0}  # fmt: skip
        if math.isfinite(self.pool_deviation_bps):
            numbers["pool_deviation_bps"] = self.pool_deviation_bps
        if math.isfinite(self.twap_deviation_bps):
            numbers["twap_deviation_bps"] = self.twap_deviation_bps
        if v.liquidity is not None:
            numbers.update(carry_now=self.carry_now, carry_new=self.carry_new,
                           lvr_since_open=v.lvr_since_open_token1)  # fmt: skip
        return numbers


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule that fires: the action, why, and its benefit and cost (token1) over the horizon."""

    action: Action
    reason: str
    benefit_token1: float
    cost_token1: float
    half_width: float


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One rule's verdict: its numbers (logged whether or not it fires), what it fires, and
    `final_hold`: no later rule is considered; hold with this reason unless a refusal came first."""

    numbers: dict[str, float] = field(default_factory=dict)
    firing: Firing | None = None
    final_hold: str | None = None


Rule = Callable[[Situation], RuleOutcome]
SILENT = RuleOutcome()


def reentry_level(s: Situation) -> RuleOutcome:
    """Flat: stay out until σ̂ is below the ceiling by `reentry_fraction` (no churn at the ceiling)."""
    reentry = s.rules.vol_ceiling * s.rules.reentry_fraction
    if not s.view.sigma_annual >= reentry:
        return SILENT
    return RuleOutcome({"reentry_sigma": reentry}, final_hold="flat: volatility above re-entry level")


def enter(s: Situation) -> RuleOutcome:
    """Flat: open at the σ width when its carry pays the round trip (open, later close, swap)."""
    v = s.view
    cost = v.gas_open_token1 + v.gas_close_token1 + v.swap_cost_token1
    benefit = s.carry(s.liquidity_new, s.price_lower_new, s.price_upper_new)
    return RuleOutcome(firing=Firing(Action.OPEN, "flat: enter", benefit, cost, s.half_width_new))


def volatility_ceiling(s: Situation) -> RuleOutcome:
    """Above the ceiling fee estimates are not trusted to pay for it: staying costs the LVR.
    Nothing re-opens or adds liquidity there (as when flat): withdraw, or keep what is there (an
    out-of-range position bears no LVR, so pulling it may not pay its gas)."""
    v, ceiling = s.view, s.rules.vol_ceiling
    if not v.sigma_annual > ceiling:
        return SILENT
    assert v.liquidity is not None
    lvr_avoided = -s.carry(v.liquidity, v.price_lower, v.price_upper, fee_rate=0.0)
    withdraw = Firing(Action.WITHDRAW, "volatility above ceiling", lvr_avoided, v.gas_close_token1, 0.0)
    return RuleOutcome({"vol_ceiling": ceiling}, withdraw, "volatility above ceiling: holding")


def edge_of_range(s: Situation) -> RuleOutcome:
    """Out of range, or beyond the inner band, for `out_of_range_delay_s`: recentre."""
    v = s.view
    edge_for_s = 0.0 if v.edge_since_ns is None else (v.now_ns - v.edge_since_ns) / 1e9
    numbers = {"edge_for_s": edge_for_s}
    if not (v.edge_since_ns is not None and edge_for_s >= s.rules.out_of_range_delay_s):
        return RuleOutcome(numbers)
    reason = "out of range" if not v.price_lower < v.price < v.price_upper else "beyond the inner band"
    benefit = s.carry_new - s.carry_now
    return RuleOutcome(
        numbers, Firing(Action.RECENTRE, reason, benefit, s.reopen_cost_token1, s.half_width_new)
    )


def volatility_regime(s: Situation) -> RuleOutcome:
    """σ̂ moved beyond `regime_ratio` (either way) of σ at open: the width is wrong, recentre."""
    v, regime = s.view, s.rules.regime_ratio
    ratio = v.sigma_annual / v.sigma_at_open if v.sigma_at_open > 0 else 1.0
    numbers = {"sigma_ratio": ratio}
    if not (ratio > regime or ratio < 1.0 / regime):
        return RuleOutcome(numbers)
    benefit = s.carry_new - s.carry_now
    firing = Firing(
        Action.RECENTRE, "volatility regime change", benefit, s.reopen_cost_token1, s.half_width_new
    )
    return RuleOutcome(numbers, firing)


def lvr_budget(s: Situation) -> RuleOutcome:
    """LVR since open above its budget: a wider range bears less of it per unit of value."""
    v, r = s.view, s.rules
    budget = r.lvr_budget_fraction * v.value_token1
    numbers = {"lvr_budget": budget}
    if not v.lvr_since_open_token1 > budget:
        return RuleOutcome(numbers)
    w_wide = min(v.half_width * r.widen_factor, r.max_half_width)
    lo_w, hi_w = v.price * math.exp(-w_wide), v.price * math.exp(w_wide)
    l_wide = liquidity_for_value(v.capital_token1, v.price, lo_w, hi_w)
    # The overrun is what staying put has already shown it costs, on top of the change in carry.
    benefit = s.carry(l_wide, lo_w, hi_w) - s.carry_now + (v.lvr_since_open_token1 - budget)
    firing = Firing(Action.WIDEN, "accumulated LVR above budget", benefit, s.reopen_cost_token1, w_wide)
    return RuleOutcome(numbers, firing)


def fees_to_compound(s: Situation) -> RuleOutcome:
    """In range, fees at least `compound_gas_multiple` times the compound gas: add them.
    (Out of range they would join liquidity that earns nothing until the next recentre.)"""
    v, multiple = s.view, s.rules.compound_gas_multiple
    in_range = v.price_lower < v.price < v.price_upper
    if not (in_range and v.pending_fees_token1 > multiple * v.gas_compound_token1):
        return SILENT
    # The rule is the threshold itself: the benefit is what clears it.
    benefit = v.pending_fees_token1 / multiple
    firing = Firing(Action.COMPOUND, "fees worth compounding", benefit, v.gas_compound_token1, 0.0)
    return RuleOutcome(firing=firing)


# Priority order: the first rule whose gates pass acts.
FLAT_RULES: tuple[Rule, ...] = (reentry_level, enter)
POSITION_RULES: tuple[Rule, ...] = (
    volatility_ceiling, edge_of_range, volatility_regime, lvr_budget, fees_to_compound
)  # fmt: skip


def refusal(f: Firing, s: Situation) -> str | None:
    """Which gate refuses a fired rule (None: it may act)."""
    r = s.rules
    if s.pool_deviation_bps > r.max_pool_deviation_bps:
        # Manipulation guard: a pool pushed off the CEX mid (sandwich, oracle games) would fill
        # our swap and set our range at its price; act again once arbitrage has closed the gap.
        return "pool price off fair"
    if s.twap_deviation_bps > r.max_pool_deviation_bps:
        # The pool's own oracle disagrees with its spot: moved within the last blocks (a
        # sandwich or a push), even if the CEX agrees by chance. Charm's and Revert's check.
        return "pool price off its TWAP"
    if s.since_last_action_s < r.min_action_interval_s:
        return "min interval"
    if f.benefit_token1 <= f.cost_token1 * r.gas_margin:
        return "benefit below gas + swap"
    return None


def gate(f: Firing, s: Situation, numbers: dict[str, float]) -> Decision:
    n = {**numbers, "benefit_token1": f.benefit_token1, "cost_token1": f.cost_token1}
    refused = refusal(f, s)
    if refused is None:
        return Decision(f.action, f.reason, True, f.half_width, n)
    return Decision(f.action, f"{f.reason}; refused: {refused}", False, f.half_width, n)


def decide(view: PoolView, rules: Rules) -> Decision:
    """One decision for one pool: the first rule (in priority order) whose gates pass.

    When rules fire but every one is refused by a gate, the highest-priority refusal is returned
    (so it is logged with its numbers); when none fires, HOLD.
    """
    s = Situation.of(view, rules)
    numbers = s.numbers()
    table, hold_reason = (FLAT_RULES, "flat") if view.liquidity is None else (POSITION_RULES, "in range")
    refused: list[Decision] = []
    for rule in table:
        outcome = rule(s)
        numbers.update(outcome.numbers)
        if outcome.firing is not None:
            decision = gate(outcome.firing, s, numbers)
            if decision.executed_gate:
                return decision
            refused.append(decision)
        if outcome.final_hold is not None:
            hold_reason = outcome.final_hold
            break
    if refused:
        return refused[0]
    return Decision(Action.HOLD, hold_reason, False, s.half_width_new, numbers)
