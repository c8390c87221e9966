"""Pure decision rules of the LP manager: a table of small rules, in priority order, and the gates.

Each rule looks at the `Situation` (the measured `PoolView` plus shared figures) and fires an
action with its benefit and cost, or not; either way it adds its numbers to the decision log.
`decide` takes the first fired rule whose gates pass. No I/O and no clock here: the runner
(`strategies.lp.pool`) measures, these functions decide, so every rule is unit-testable with
plain numbers. Prices are human (token1 per token0), liquidity
human (`amm.attribution.human_liquidity`), money in token1, σ annualised, times in seconds.

Economics (`strategies.lp.carry`, shared/notes/lp-maths.md): the pool is worth being in while the
expected carry of the best range (fees − LVR − hedge costs if hedged − amortised recentres, at
the width that maximises it) is positive. Enter above `enter_carry_apr`, stay while above
`exit_carry_apr` (lower: the band between them is the hysteresis), withdraw once below it for
`exit_delay_s`. A range is moved (recentred, widened, narrowed) when what the best range earns
over the decision horizon beats what the live one earns left alone by more than the move's cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from strategies.lp.carry import compound_gain_token1, range_survival, time_in_range_s
from strategies.lp.situation import PoolView as PoolView
from strategies.lp.situation import Rules as Rules
from strategies.lp.situation import Situation
from strategies.lp.situation import carry_below_exit as carry_below_exit

WIDTH_CHANGE = 1.25  # a move to a range this much wider (narrower) is named a widen (narrowing)


class Action(StrEnum):
    HOLD = "hold"
    OPEN = "open"
    RECENTRE = "recentre"
    WIDEN = "widen"
    WITHDRAW = "withdraw"
    COMPOUND = "compound"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    executed_gate: bool  # False: the rule fired but a gate (gas, interval) refused it
    half_width: float = 0.0
    numbers: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule that fires: the action, why, and its benefit and cost (token1) over the horizon.
    `shortfall`: the rule's own threshold is not met (checked after the guards and the interval)."""

    action: Action
    reason: str
    benefit_token1: float
    cost_token1: float
    half_width: float
    shortfall: str | None = None


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
    """Flat: stay out until σ̂ is below the safety ceiling by `reentry_fraction`."""
    reentry = s.rules.vol_ceiling * s.rules.reentry_fraction
    if not s.view.sigma_annual >= reentry:
        return SILENT
    return RuleOutcome({"reentry_sigma": reentry}, final_hold="flat: volatility above re-entry level")


def enter(s: Situation) -> RuleOutcome:
    """Flat: open the best range when its expected carry clears the entry threshold and what it
    earns over the horizon pays the round trip (open, later close, ratio swap). Both are judged
    at the pessimistic estimates (`Situation.judged`); the width is the best at the measured ones,
    the width the held rules would keep, so not before σ̂ is known within `entry_max_sigma_error`:
    a range opened on minutes of returns is soon moved (σ 30 % on a 0.05 % pool from a cold
    start: entries ~10 min sooner without it, then more moves: −12.1 ± 4.7 a path in the LP benchmark)."""
    v, r = s.view, s.rules
    cost = v.gas_open_token1 + v.gas_close_token1 + v.swap_cost_token1
    benefit = s.judged.carry_per_s * r.decision_horizon_s
    short = None
    if v.sigma_rel_error > r.entry_max_sigma_error:
        short = f"σ̂ not yet known within {r.entry_max_sigma_error:.0%}"
    elif not s.carry_apr > r.enter_carry_apr:
        short = "expected carry below entry"
    firing = Firing(Action.OPEN, "flat: enter", benefit, cost, s.optimum.half_width, short)
    return RuleOutcome({"enter_carry_apr": r.enter_carry_apr}, firing)


def volatility_ceiling(s: Situation) -> RuleOutcome:
    """A safety limit, not the exit (the carry is): above it σ̂ itself is not trusted. Nothing
    re-opens or adds liquidity there: withdraw, or keep what is there (an out-of-range position
    bears no LVR, so pulling it may not pay its gas)."""
    v, ceiling = s.view, s.rules.vol_ceiling
    if not v.sigma_annual > ceiling:
        return SILENT
    assert v.liquidity is not None
    horizon = s.rules.decision_horizon_s
    lvr_avoided = s.economics.lvr_per_s(v.liquidity) * time_in_range_s(
        v.price, v.price_lower, v.price_upper, v.sigma_annual, horizon
    )
    withdraw = Firing(Action.WITHDRAW, "volatility above ceiling", lvr_avoided, v.gas_close_token1, 0.0)
    return RuleOutcome({"vol_ceiling": ceiling}, withdraw, "volatility above ceiling: holding")


def negative_carry(s: Situation) -> RuleOutcome:
    """The best range's carry below `exit_carry_apr`: nothing moves or compounds; after
    `exit_delay_s` withdraw, when what the live range would lose over the horizon pays the close
    (one out of range, losing nothing, is kept: it costs nothing to hold)."""
    v, r = s.view, s.rules
    if not s.carry_apr < r.exit_carry_apr:
        return SILENT
    below_s = 0.0 if v.negative_carry_since_ns is None else (v.now_ns - v.negative_carry_since_ns) / 1e9
    numbers = {"exit_carry_apr": r.exit_carry_apr, "below_exit_s": below_s}
    if below_s < r.exit_delay_s:
        return RuleOutcome(numbers, final_hold="carry below exit: waiting for the delay")
    withdraw = Firing(Action.WITHDRAW, "expected carry negative", -s.keep_token1, v.gas_close_token1, 0.0)
    return RuleOutcome(numbers, withdraw, "expected carry negative: holding")


def move_range(s: Situation) -> RuleOutcome:
    """Recentre, widen or narrow when the best range earns more than the live one until the live
    one would be left (`carry.move_value`), by its amortised recentres × `gas_margin` (the gate).
    Fires whenever out of range (a refusal is logged) or when the gain beats the cost; right after
    a move the live range is the best one and the gain is negative, so noise cannot flap it."""
    v, move = s.view, s.move
    if not (not s.in_range or move.benefit_token1 > move.cost_token1):
        return SILENT
    if s.carry_apr < s.rules.enter_carry_apr:
        return _no_range_to_move_into(s)
    w_new = s.optimum.half_width
    ratio = w_new / v.half_width if v.half_width > 0 else 1.0
    if not s.in_range:
        action, reason = Action.RECENTRE, "out of range"
    elif ratio > WIDTH_CHANGE:
        action, reason = Action.WIDEN, "a wider range pays"
    elif ratio < 1.0 / WIDTH_CHANGE:
        action, reason = Action.RECENTRE, "a narrower range pays"
    else:
        action, reason = Action.RECENTRE, "recentring pays"
    firing = Firing(action, reason, move.benefit_token1, move.cost_token1, w_new)
    return RuleOutcome({"width_ratio": ratio, "reopen_cost_token1": s.reopen_cost_token1}, firing)


def _no_range_to_move_into(s: Situation) -> RuleOutcome:
    """A move is a close and a new entry: into a range whose carry is below the entry threshold
    (in the band between exit and entry) none is made. Out of range the position is held (it
    bears no LVR); in range, where the live range would lose more than the close over the
    horizon, it is withdrawn, and the entry rule judges a return as from flat. Near break-even
    the best width swings between a narrow range and the widest as σ̂ moves (σ 120 % on a 0.3 %
    pool: ±5 % at σ̂ 1.07, ±100 % at 1.24), and each swing paid a close and an open for a range
    that earns about nothing."""
    numbers = {"enter_carry_apr": s.rules.enter_carry_apr}
    if not s.in_range:
        return RuleOutcome(numbers, final_hold="out of range: no range pays to move into")
    withdraw = Firing(
        Action.WITHDRAW, "no range pays to move into", -s.keep_token1, s.view.gas_close_token1, 0.0
    )
    return RuleOutcome(numbers, withdraw, "no range pays to move into: holding")


def fees_to_compound(s: Situation) -> RuleOutcome:
    """In range with a positive carry, fees at least `compound_gas_multiple` times the compound
    gas: add them when what they earn in the range until it is left pays the gas (× the margin,
    the gate). (Out of range they would join liquidity that earns nothing until the next move;
    with a negative carry they would add to what loses; and a range soon left earns little on
    them before the move that redeploys them for free.)"""
    v, multiple = s.view, s.rules.compound_gas_multiple
    paying = s.carry_apr >= 0.0 and s.keep_token1 > 0.0
    if not (s.in_range and paying and v.pending_fees_token1 > multiple * v.gas_compound_token1):
        return SILENT
    assert v.liquidity is not None
    added = v.liquidity * v.pending_fees_token1 / v.value_token1 if v.value_token1 > 0.0 else 0.0
    horizon = s.rules.decision_horizon_s
    life_s = range_survival(v.price, v.price_lower, v.price_upper, v.sigma_annual, horizon)[1]
    benefit = compound_gain_token1(s.economics, v.liquidity, added, life_s)
    firing = Firing(Action.COMPOUND, "fees worth compounding", benefit, v.gas_compound_token1, 0.0)
    return RuleOutcome({"compound_life_s": life_s}, firing)


# Priority order: the first rule whose gates pass acts.
FLAT_RULES: tuple[Rule, ...] = (reentry_level, enter)
POSITION_RULES: tuple[Rule, ...] = (volatility_ceiling, negative_carry, move_range, fees_to_compound)


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
    if f.shortfall is not None:
        return f.shortfall
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
    return Decision(Action.HOLD, hold_reason, False, s.optimum.half_width, numbers)
