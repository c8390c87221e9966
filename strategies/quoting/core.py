"""The vectorized quote core: market state arrays in, rounded target ladders out.

`compute_quotes(inputs, params, now_ns=..., workspace=...)` is a pure function of its arguments
(the workspace only holds scratch memory, output memory and the config-derived `QuotePlan`). No
Python loop over markets or levels.

Pipeline, the same for every market (the scalar reference in tests/strategies follows it step by step):

1. valid = fair > 0 with fair + inventory + both toxicities finite, and the model's estimates usable
   (AS, GLFT: sigma >= 0, kappa > 0, sigma + kappa finite; GLFT: 0 < A * level size < inf), and
   (after step 3) r + h_ask finite. An invalid market gets no quote; the others are unaffected.
2. model -> reservation price r and half spread h (see `strategies.quoting.models`).
3. per side: h_bid = h + s * (toxicity_bid_bps + maker_fee_bps) * 1e-4 (h_ask with
   toxicity_ask_bps), each clamped to [s * min_spread_bps / 2, s * max_spread_bps / 2] * 1e-4.
4. level 0: bid = floor((r - h_bid)/tick + 1e-9), ask = ceil((r + h_ask)/tick - 1e-9), rounded away from r
   (the 1e-9 tick tolerance keeps on-grid prices that float division puts a hair off the grid).
5. post-only: bid_0 <= round(best_ask/tick) - 1; ask_0 >= round(best_bid/tick) + 1 and >= bid_0 + 1
   (the unclamped bid_0, so rounding can never lock our own quotes).
6. level k = level 0 -+ k * step, step = max(ceil(s * level_spacing_bps * 1e-4 / tick - 1e-9), 1)
   ticks: a clamped ladder keeps its shape, and levels never share a price.
7. a level is quoted if k < level_count, ticks >= 1 and its price is within fair +- price band.
8. size = floor(level_size * exp(-eta * max(+-q/q_max, 0)) + 1e-9) lots (the side that would grow
   |inventory| shrinks); room to the limit per side floor(q_max -+ q + 1e-9) lots; level k gets
   min(size, max(room - k * size, 0)): a side at the limit is not quoted, a level that would breach
   it is cut, whatever the fills (levels above k counted at full size).
9. size 0 => price 0 (no order).

Targets are (n_markets, n_levels) int64 views into the workspace (not C-contiguous: they are
transposes of the internal (side, level, market) block); the same QuoteTargets object is returned
by every call with that workspace.

Speed notes. At 1,000 markets the cost is numpy's per-call overhead and its slow paths, not the
arithmetic, so: config-only factors come precomputed from the `QuotePlan`; per-market rows that go
through the same operations are stacked so one call serves them all; constants are 0-d arrays
(a Python float is converted on every call); every array starts on a cache line (`aligned_empty`:
numpy's SIMD loops run about twice as fast there); the (side, level, market) ladder is built with
in-place operations on as few arrays as possible (at 10,000 markets they leave the cache); no
masked ufuncs (`where=`), no scans along the short level axis. Validity zeroes the room to the
limit, so an unusable market gets no sizes and nothing downstream needs to look at it.
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np

from bot.kernel.targets import QuoteTargets
from strategies.quoting.arrays import QuoteInputs, QuoteParams, _check_shapes, aligned_empty
from strategies.quoting.models import QuoteModel
from strategies.quoting.models.spec import BPS_ARRAY, ONE, ZERO
from strategies.quoting.plan import QuotePlan

SNAP_TICKS = 1e-9
SNAP = np.array(SNAP_TICKS)  # a 0-d array operand, see strategies.quoting.models.spec

_INPUT_FIELDS = tuple(QuoteInputs.__slots__)
_input_columns = attrgetter(*_INPUT_FIELDS)


class QuoteWorkspace:
    """Scratch, output memory and the config plan for one (n_markets, n_levels) shape, reused.

    The targets returned by `compute_quotes` are views of this workspace: the next call with the
    same workspace overwrites them (copy them if they must outlive it). After a call, `valid`,
    `reservation` and `half_spread` hold each market's usability, r and the model's h, and
    `side_half_spread` the (bid, ask) half spreads after toxicity, fees and bounds.
    After editing params arrays in place, call `prepare(params)` (the plan is a snapshot of them);
    `level_size_lots`, `max_inventory_lots` and `session_end_ns` are exempt: the core reads those
    on every call, since strategies set them per requote. The models see it as their
    `ModelWorkspace` (strategies.quoting.models.spec), which it satisfies structurally.
    """

    def __init__(self, n_markets: int, n_levels: int) -> None:
        n, levels = n_markets, n_levels
        self.n_markets = n
        self.n_levels = levels
        self.plan: QuotePlan | None = None
        self.valid = aligned_empty(n, bool)
        self.flag = aligned_empty(n, bool)
        self.flag_b = aligned_empty(n, bool)
        self.tau_ns = aligned_empty(n, np.int64)
        self.inventory_base = aligned_empty(n)
        self.inventory_fraction = aligned_empty(n)
        self.reservation_half_spread = aligned_empty((2, n))
        self.reservation, self.half_spread = self.reservation_half_spread
        self.side_half_spread = aligned_empty((2, n))
        self.scratch = tuple(aligned_empty(n) for _ in range(6))
        # (reservation, half spread) x model when markets mix models
        self.model_reservation_half_spread = aligned_empty((2, len(QuoteModel), n))
        # stacked so that one ufunc call serves several rows: s * the plan's price fractions
        # (min and max half spread, band, level spacing), then the rows counted in ticks
        # (step, -bid_0, ask_0)
        self.per_market = aligned_empty((6, n))
        self.book_floor = aligned_empty((2, n))
        self.lo_hi = aligned_empty((2, n))  # lowest and highest quotable price
        self.room_shaped = aligned_empty((2, 2, n))  # (room in lots, level size) x (bid, ask)
        self.ticks = aligned_empty((2, levels, n))
        self.size = aligned_empty((2, levels, n))
        self.quoted = aligned_empty((2, levels, n), bool)
        self.quoted_b = aligned_empty((2, levels, n), bool)
        self.price_out = aligned_empty((2, levels, n), np.int64)
        self.size_out = aligned_empty((2, levels, n), np.int64)
        p, z = self.price_out, self.size_out
        self.targets = QuoteTargets(p[0].T, z[0].T, p[1].T, z[1].T)

    def prepare(self, params: QuoteParams) -> QuotePlan:
        """(Re)build the config plan from params: after in-place edits, or for another params."""
        if params.n_markets != self.n_markets or params.n_levels != self.n_levels:
            raise ValueError(
                f"QuoteParams has {params.n_markets} markets x {params.n_levels} levels, "
                f"workspace {self.n_markets} x {self.n_levels}"
            )
        self.plan = QuotePlan(params)
        return self.plan


def compute_quotes(
    inputs: QuoteInputs,
    params: QuoteParams,
    *,
    now_ns: int,
    workspace: QuoteWorkspace | None = None,
) -> QuoteTargets:
    """Target ladders (n_markets, n_levels) in integer ticks and lots for every market.

    `now_ns` (from the injected clock) only matters for AS markets with a session end.
    """
    ws = workspace if workspace is not None else QuoteWorkspace(params.n_markets, params.n_levels)
    plan = ws.plan
    if plan is None or not plan.is_current(params):
        plan = ws.prepare(params)
    _check_inputs(inputs, ws)
    with np.errstate(all="ignore"):
        _validity(inputs, params, plan, ws)
        _models(inputs, params, plan, now_ns, ws)
        _level_zero(inputs, params, plan, ws)
        _side_sizes(inputs, params, plan, ws)
        _ladders(plan, ws)
    return ws.targets


def _check_inputs(inputs: QuoteInputs, ws: QuoteWorkspace) -> None:
    """Cheap per-call guard: fields are replaceable, so a wrong shape must not reach the maths."""
    shape = (ws.n_markets,)
    for name, column in zip(_INPUT_FIELDS, _input_columns(inputs), strict=True):
        if column.shape != shape:
            _check_shapes(inputs, "QuoteInputs")  # names the field at fault
            raise ValueError(f"QuoteInputs.{name} has shape {column.shape}, workspace {shape}")


def _validity(inputs: QuoteInputs, params: QuoteParams, plan: QuotePlan, ws: QuoteWorkspace) -> None:
    """valid = fair > 0 and fair + inventory + toxicities finite, and the model's estimates usable.

    Each input check of the models in use runs once (`QuoteModelSpec.checks`; AS and GLFT: sigma
    >= 0, kappa > 0, sigma + kappa finite; GLFT also 0 < A * level_size < inf), the markets of
    models that do not need it exempt. `_level_zero` then drops markets whose r + h is not finite
    (overflow).
    """
    valid, flag, est, tmp = ws.valid, ws.flag, ws.flag_b, ws.scratch[0]
    s = inputs.fair_price
    np.add(s, inputs.inventory_lots, tmp)
    tmp += inputs.toxicity_bid_bps
    tmp += inputs.toxicity_ask_bps
    np.isfinite(tmp, valid)
    np.greater(s, ZERO, flag)
    valid &= flag
    for check, exempt in plan.checks:
        check(inputs, params, ws)  # -> est
        if exempt is not None:
            est |= exempt
        valid &= est


def _models(
    inputs: QuoteInputs, params: QuoteParams, plan: QuotePlan, now_ns: int, ws: QuoteWorkspace
) -> None:
    """r and h of each market's model: straight into place if one model, else gathered per market."""
    np.multiply(inputs.inventory_lots, params.lot_size, ws.inventory_base)
    np.divide(inputs.inventory_lots, params.max_inventory_lots, ws.inventory_fraction)
    for code, spec, prepared in plan.models:
        if plan.mixed:
            r, h = ws.model_reservation_half_spread[:, code]
        else:
            r, h = ws.reservation, ws.half_spread
        spec.compute(inputs, params, prepared, ws, now_ns, r, h)
    if plan.mixed:
        # plan.model_index is in range by construction: "clip" skips numpy's bounds check
        by_model = ws.model_reservation_half_spread.reshape(2, -1)
        np.take(by_model, plan.model_index, axis=1, out=ws.reservation_half_spread, mode="clip")


def _level_zero(inputs: QuoteInputs, params: QuoteParams, plan: QuotePlan, ws: QuoteWorkspace) -> None:
    """Spread adjustments, level-0 ticks per side with the post-only clamp, step and price band.

    Level-0 ticks are first worked in signed ticks z = -bid, +ask, where "further from the
    reservation price" is "larger z" on both sides, so one operation serves both sides.
    """
    s, tick, r, h = inputs.fair_price, params.tick_size, ws.reservation, ws.half_spread
    w = ws.scratch[0]
    rows = ws.per_market
    min_half, max_half, band, step = rows[:4]
    in_ticks, z = rows[3:], rows[4:]
    np.multiply(plan.price_fractions, s, rows[:4])
    sides = ws.side_half_spread  # (bid, ask): toxicity is per side
    np.add(inputs.toxicity_bid_bps, params.maker_fee_bps, sides[0])
    np.add(inputs.toxicity_ask_bps, params.maker_fee_bps, sides[1])
    sides *= BPS_ARRAY
    sides *= s
    sides += h
    np.maximum(sides, min_half, out=sides)
    np.minimum(sides, max_half, out=sides)
    np.subtract(sides[0], r, z[0])  # -(r - h_bid)
    np.add(r, sides[1], z[1])
    np.isfinite(z[1], ws.flag)
    ws.valid &= ws.flag
    # step between levels: the spacing rounded up to whole ticks, at least one tick
    in_ticks /= plan.tick_rows
    in_ticks -= SNAP
    np.ceil(in_ticks, in_ticks)
    np.maximum(step, ONE, out=step)
    # post-only floors: bid <= best_ask - 1 (z: -bid >= 1 - best_ask); ask >= max(best_bid, bid_0) + 1
    floor = ws.book_floor
    np.divide(inputs.best_ask, plan.neg_tick, floor[0])
    np.divide(inputs.best_bid, tick, floor[1])
    np.rint(floor, floor)
    floor += ONE
    np.subtract(ONE, z[0], w)
    np.fmax(floor[1], w, floor[1])
    # fmax: a missing book side (NaN) sets no floor (z is NaN only for unusable markets)
    np.fmax(z, floor, z)
    np.negative(z[0], z[0])  # plain ticks from here on
    # quoted prices: within fair +- band, at least one tick, at most 2**53 ticks
    lo, hi = ws.lo_hi
    np.subtract(s, band, lo)
    np.fmax(lo, tick, lo)
    np.add(s, band, hi)
    np.fmin(hi, plan.max_price, hi)


def _side_sizes(inputs: QuoteInputs, params: QuoteParams, plan: QuotePlan, ws: QuoteWorkspace) -> None:
    """Shaped level size and room to the inventory limit, per side; no room for invalid markets."""
    q, q_max, fraction = inputs.inventory_lots, params.max_inventory_lots, ws.inventory_fraction
    room, shaped = ws.room_shaped
    # bids grow a long position: shaped by max(q/q_max, 0); asks by max(-q/q_max, 0)
    np.maximum(fraction, ZERO, out=shaped[0])
    np.negative(fraction, shaped[1])
    np.maximum(shaped[1], ZERO, out=shaped[1])
    shaped *= plan.neg_eta_sides
    np.exp(shaped, shaped)
    shaped[0] *= params.level_size_lots
    shaped[1] *= params.level_size_lots
    # room to the limit: bids q_max - q, asks q + q_max
    np.subtract(q_max, q, room[0])
    np.add(q, q_max, room[1])
    both = ws.room_shaped
    both += SNAP
    np.floor(both, both)
    # none for an unusable market (0, or NaN, which the ladder's fmax turns into 0)
    np.multiply(room[0], ws.valid, room[0])
    np.multiply(room[1], ws.valid, room[1])


def _ladders(plan: QuotePlan, ws: QuoteWorkspace) -> None:
    """Every level of every side and market: ticks, band check, sizes, then the integer targets.

    In-place operations on as few (side, level, market) arrays as possible: at 10,000 markets
    they no longer fit in cache, and each extra array written is a trip to memory.
    """
    step = ws.per_market[3]
    z = ws.per_market[4:, None, :]
    room, shaped = ws.room_shaped[:, :, None, :]
    lo, hi = ws.lo_hi
    ticks, size, quoted, quoted_b = ws.ticks, ws.size, ws.quoted, ws.quoted_b
    np.copyto(ticks, step)
    ticks *= plan.signed_levels
    ticks += z  # bid_0 - k * step, ask_0 + k * step
    np.copyto(ws.price_out, ticks, casting="unsafe")
    ticks *= plan.tick_levels  # prices
    np.greater_equal(ticks, lo, quoted)
    np.less_equal(ticks, hi, quoted_b)
    quoted &= quoted_b
    # level k gets what levels 0..k-1 leave of the room, counted at full size (none from
    # level_count on); fmax/fmin drop the NaN an unusable market's values may carry
    np.copyto(size, shaped)
    size *= plan.level_or_inf
    np.subtract(room, size, size)
    np.fmax(size, ZERO, size)
    np.fmin(size, shaped, size)
    size *= quoted
    np.copyto(ws.size_out, size, casting="unsafe")
    # size 0 => price 0 (the ticks of an unquoted level may be NaN or huge: any cast times 0)
    has_size = ticks.view(np.int64)  # the prices are no longer needed
    np.sign(ws.size_out, has_size)  # sizes are >= 0: 1 where there is an order
    ws.price_out *= has_size
