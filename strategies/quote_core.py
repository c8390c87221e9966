"""The vectorized quote core: market state arrays in, rounded target ladders out.

`compute_quotes(inputs, params, now_ns=..., workspace=...)` is a pure function of its arguments
(the workspace only holds scratch and output memory). No Python loop over markets or levels.

Pipeline, the same for every market (the scalar reference in tests/strategies follows it step by step):

1. valid = fair > 0 with fair + inventory + toxicity finite, and the model's estimates usable
   (AS, GLFT: sigma >= 0, kappa > 0, sigma + kappa finite; GLFT: 0 < A * level size < inf), and
   (after step 3) r + h finite. An invalid market gets no quote; the others are unaffected.
2. model -> reservation price r and half spread h (see `quote_models`).
3. h += s * (toxicity_bps + maker_fee_bps) * 1e-4, then h is clamped to
   [s * min_spread_bps / 2, s * max_spread_bps / 2] * 1e-4.
4. level 0: bid = floor((r - h)/tick + 1e-9), ask = ceil((r + h)/tick - 1e-9), rounded away from r
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
transposes of the internal (side, level, market) block).

Speed notes: the ladders are laid out (side, level, market) so per-market vectors broadcast on the
last axis; masked ufuncs (`where=`) and scans along the short level axis are avoided because numpy
runs them element-run by element-run.
"""

from __future__ import annotations

import numpy as np

from strategies.quote_arrays import QuoteInputs, QuoteModel, QuoteParams, _check_shapes
from strategies.quote_models import BPS, avellaneda_stoikov, fixed_spread, glft
from strategies.targets import QuoteTargets

HALF_BPS = 0.5e-4
SNAP_TICKS = 1e-9
MAX_TICKS = float(2**53)


class QuoteWorkspace:
    """Scratch and output memory for one (n_markets, n_levels) shape, reused across calls.

    The targets returned by `compute_quotes` are views of this workspace: the next call with the
    same workspace overwrites them (copy them if they must outlive it). After a call, `valid`,
    `reservation` and `half_spread` hold each market's usability, r and h (after fees and bounds).
    """

    def __init__(self, n_markets: int, n_levels: int) -> None:
        n, levels = n_markets, n_levels
        self.n_markets = n
        self.n_levels = levels
        self.valid = np.empty(n, dtype=bool)
        self.flag = np.empty(n, dtype=bool)
        self.flag_b = np.empty(n, dtype=bool)
        self.tau_ns = np.empty(n, dtype=np.int64)
        self.model_index = np.empty(n, dtype=np.intp)
        self.market_index = np.arange(n, dtype=np.intp)
        self.inventory_base = np.empty(n)
        self.inventory_fraction = np.empty(n)
        self.reservation = np.empty(n)
        self.half_spread = np.empty(n)
        self.scratch = tuple(np.empty(n) for _ in range(6))
        # one (reservation, half spread) row per model when markets mix models
        self.model_reservation = np.empty((len(QuoteModel), n))
        self.model_half_spread = np.empty((len(QuoteModel), n))
        self.side = np.empty((2, n))
        self.side_b = np.empty((2, n))
        self.depth = np.empty((levels, n))
        self.level_ok = np.empty((levels, n), dtype=bool)
        self.ticks = np.empty((2, levels, n))
        self.price = np.empty((2, levels, n))
        self.size = np.empty((2, levels, n))
        self.quoted = np.empty((2, levels, n), dtype=bool)
        self.quoted_b = np.empty((2, levels, n), dtype=bool)
        self.level_index = np.arange(levels, dtype=np.float64)[:, None]
        self.level_index_int = np.arange(levels, dtype=np.int64)[:, None]
        self.side_sign = np.array([-1.0, 1.0])[:, None, None]  # bids r - depth, asks r + depth
        self.price_out = np.empty((2, levels, n), dtype=np.int64)
        self.size_out = np.empty((2, levels, n), dtype=np.int64)


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
    _check_call(inputs, params, ws)
    counts = np.bincount(params.model, minlength=len(QuoteModel))
    with np.errstate(all="ignore"):
        _validity(inputs, params, ws, counts)
        _models(inputs, params, now_ns, ws, counts)
        _adjust_half_spread(inputs, params, ws)
        _ladder_ticks(inputs, params, ws)
        _sizes(inputs, params, ws)
        # size 0 => price 0; t * 0 may be NaN for unusable markets, which fmax turns into 0
        ticks, has_size = ws.ticks, ws.price
        np.minimum(ws.size, 1.0, out=has_size)
        ticks *= has_size
        np.fmax(ticks, 0.0, out=ticks)
    np.copyto(ws.price_out, ticks, casting="unsafe")
    np.copyto(ws.size_out, ws.size, casting="unsafe")
    p, z = ws.price_out, ws.size_out
    return QuoteTargets(p[0].T, z[0].T, p[1].T, z[1].T)


_INPUT_FIELDS = tuple(QuoteInputs.__slots__)  # type: ignore[attr-defined]
_PARAM_FIELDS = tuple(f for f in QuoteParams.__slots__ if f != "n_levels")  # type: ignore[attr-defined]


def _check_call(inputs: QuoteInputs, params: QuoteParams, ws: QuoteWorkspace) -> None:
    """Cheap per-call guard: fields are replaceable, so a wrong shape must not reach the maths."""
    shape = (ws.n_markets,)
    if params.n_levels != ws.n_levels:
        raise ValueError(f"QuoteParams.n_levels = {params.n_levels}, workspace has {ws.n_levels}")
    for owner, obj, names in (("QuoteInputs", inputs, _INPUT_FIELDS), ("QuoteParams", params, _PARAM_FIELDS)):
        for name in names:
            if getattr(obj, name).shape != shape:
                _check_shapes(obj, owner)  # names the field at fault
                raise ValueError(f"{owner}.{name} has shape {getattr(obj, name).shape}, workspace {shape}")


def _validity(inputs: QuoteInputs, params: QuoteParams, ws: QuoteWorkspace, counts: np.ndarray) -> None:
    """valid = fair > 0 and fair + inventory + toxicity finite, and the model's estimates usable.

    AS and GLFT: sigma >= 0, kappa > 0, sigma + kappa finite; GLFT also 0 < A * level_size < inf.
    `_adjust_half_spread` then drops markets whose r + h is not finite (overflow).
    """
    valid, flag, est, tmp = ws.valid, ws.flag, ws.flag_b, ws.scratch[0]
    s, n = inputs.fair_price, ws.n_markets
    np.greater(s, 0.0, out=valid)
    np.add(s, inputs.inventory_lots, out=tmp)
    tmp += inputs.toxicity_bps
    np.isfinite(tmp, out=flag)
    valid &= flag
    n_fixed, n_glft = counts[QuoteModel.FIXED_SPREAD], counts[QuoteModel.GLFT]
    if n_fixed == n:
        return
    np.greater_equal(inputs.volatility, 0.0, out=est)
    np.greater(inputs.intensity_kappa, 0.0, out=flag)
    est &= flag
    np.add(inputs.volatility, inputs.intensity_kappa, out=tmp)
    np.isfinite(tmp, out=flag)
    est &= flag
    if n_fixed:
        np.equal(params.model, QuoteModel.FIXED_SPREAD, out=flag)
        est |= flag
    valid &= est
    if n_glft:
        np.multiply(inputs.intensity_a, params.level_size_lots, out=tmp)
        np.greater(tmp, 0.0, out=est)
        np.less(tmp, np.inf, out=flag)
        est &= flag
        if n_glft != n:
            np.not_equal(params.model, QuoteModel.GLFT, out=flag)
            est |= flag
        valid &= est


def _models(
    inputs: QuoteInputs, params: QuoteParams, now_ns: int, ws: QuoteWorkspace, counts: np.ndarray
) -> None:
    """r and h of each market's model: straight into place if one model, else gathered per market."""
    s = inputs.fair_price
    np.multiply(inputs.inventory_lots, params.lot_size, out=ws.inventory_base)
    np.divide(inputs.inventory_lots, params.max_inventory_lots, out=ws.inventory_fraction)
    a, b, c, d, e, f = ws.scratch
    mixed = int(np.count_nonzero(counts)) > 1

    def outputs(model: QuoteModel) -> tuple[np.ndarray, np.ndarray]:
        if mixed:
            return ws.model_reservation[model], ws.model_half_spread[model]
        return ws.reservation, ws.half_spread

    if counts[QuoteModel.FIXED_SPREAD]:
        r, h = outputs(QuoteModel.FIXED_SPREAD)
        fixed_spread(
            s,
            ws.inventory_fraction,
            params.half_spread_bps,
            params.skew_bps_per_unit_inventory_fraction,
            reservation=r,
            half_spread=h,
            scratch=a,
        )
    if counts[QuoteModel.AVELLANEDA_STOIKOV]:
        tau_s = params.horizon_s
        if params.session_end_ns.any():
            tau_s = a
            np.subtract(params.session_end_ns, now_ns, out=ws.tau_ns)
            np.maximum(ws.tau_ns, 0, out=ws.tau_ns)
            np.multiply(ws.tau_ns, 1e-9, out=tau_s)
            np.equal(params.session_end_ns, 0, out=ws.flag)
            np.copyto(tau_s, params.horizon_s, where=ws.flag)
        r, h = outputs(QuoteModel.AVELLANEDA_STOIKOV)
        avellaneda_stoikov(
            s,
            ws.inventory_base,
            inputs.volatility,
            inputs.intensity_kappa,
            params.gamma,
            tau_s,
            reservation=r,
            half_spread=h,
            scratch=(b, c),
        )
    if counts[QuoteModel.GLFT]:
        np.multiply(params.level_size_lots, params.lot_size, out=a)  # order size Delta, base units
        r, h = outputs(QuoteModel.GLFT)
        glft(
            s,
            ws.inventory_base,
            inputs.volatility,
            inputs.intensity_a,
            inputs.intensity_kappa,
            params.gamma,
            a,
            reservation=r,
            half_spread=h,
            scratch=(b, c, d, e, f),
        )
    if mixed:
        # flat index model * n + market picks each market's own row
        np.copyto(ws.model_index, params.model)  # widen first: int8 * n would wrap
        ws.model_index *= ws.n_markets
        ws.model_index += ws.market_index
        np.take(ws.model_reservation, ws.model_index, out=ws.reservation)
        np.take(ws.model_half_spread, ws.model_index, out=ws.half_spread)


def _adjust_half_spread(inputs: QuoteInputs, params: QuoteParams, ws: QuoteWorkspace) -> None:
    s, h = inputs.fair_price, ws.half_spread
    widen, bound = ws.scratch[0], ws.scratch[1]
    np.add(inputs.toxicity_bps, params.maker_fee_bps, out=widen)
    widen *= BPS
    widen *= s
    h += widen
    np.multiply(params.min_spread_bps, HALF_BPS, out=bound)
    bound *= s
    np.maximum(h, bound, out=h)
    np.multiply(params.max_spread_bps, HALF_BPS, out=bound)
    bound *= s
    np.minimum(h, bound, out=h)
    np.add(ws.reservation, h, out=bound)
    np.isfinite(bound, out=ws.flag)
    ws.valid &= ws.flag


def _ladder_ticks(inputs: QuoteInputs, params: QuoteParams, ws: QuoteWorkspace) -> None:
    """Level-0 ticks per side, post-only clamp, then the ladder outward in whole ticks.

    Works in signed ticks z = side * ticks (bids -1, asks +1), where "further from the reservation
    price" is "larger z" on both sides, so one set of operations serves both sides.
    """
    s, tick, side = inputs.fair_price, params.tick_size, ws.side_sign[:, 0, :]
    z0, floor, step = ws.side, ws.side_b, ws.scratch[0]
    np.multiply(side, ws.half_spread, out=z0)
    z0 += ws.reservation
    z0 /= tick
    z0 *= side
    z0 -= SNAP_TICKS
    np.ceil(z0, out=z0)
    # post-only floors: bid <= best_ask - 1 (z: -bid >= 1 - best_ask); ask >= max(best_bid, bid_0) + 1
    np.divide(inputs.best_ask, tick, out=floor[0])
    np.rint(floor[0], out=floor[0])
    np.subtract(1.0, floor[0], out=floor[0])
    np.divide(inputs.best_bid, tick, out=floor[1])
    np.rint(floor[1], out=floor[1])
    floor[1] += 1.0
    np.subtract(1.0, z0[0], out=step)
    np.fmax(floor[1], step, out=floor[1])
    # fmax: a missing book side (NaN) sets no floor (z0 is NaN only for unusable markets)
    np.fmax(z0, floor, out=z0)
    # step between levels: the spacing rounded up to whole ticks, at least one tick
    np.multiply(params.level_spacing_bps, BPS, out=step)
    step *= s
    step /= tick
    step -= SNAP_TICKS
    np.ceil(step, out=step)
    np.maximum(step, 1.0, out=step)
    z = ws.ticks
    np.multiply(ws.level_index, step, out=ws.depth)
    np.add(z0[:, None, :], ws.depth, out=z)
    z *= ws.side_sign  # back to plain ticks
    # quoted: k < level_count, ticks >= 1 and price within fair +- band
    lo, hi, band = ws.scratch[1], ws.scratch[2], ws.scratch[3]
    np.multiply(params.price_band_bps, BPS, out=band)
    band *= s
    np.subtract(s, band, out=lo)
    np.fmax(lo, tick, out=lo)
    np.add(s, band, out=hi)
    np.multiply(tick, MAX_TICKS, out=band)
    np.fmin(hi, band, out=hi)
    np.multiply(z, tick, out=ws.price)
    np.greater_equal(ws.price, lo, out=ws.quoted)
    np.less_equal(ws.price, hi, out=ws.quoted_b)
    ws.quoted &= ws.quoted_b
    np.less(ws.level_index_int, params.level_count, out=ws.level_ok)
    ws.quoted &= ws.level_ok


def _sizes(inputs: QuoteInputs, params: QuoteParams, ws: QuoteWorkspace) -> None:
    q, side = inputs.inventory_lots, ws.side_sign[:, 0, :]
    shaped, room = ws.side, ws.side_b
    # bids grow a long position: shaped by max(q/q_max, 0); asks by max(-q/q_max, 0)
    np.multiply(side, ws.inventory_fraction, out=shaped)
    np.negative(shaped, out=shaped)
    np.maximum(shaped, 0.0, out=shaped)
    shaped *= params.size_shape_eta
    np.negative(shaped, out=shaped)
    np.exp(shaped, out=shaped)
    shaped *= params.level_size_lots
    shaped += SNAP_TICKS
    np.floor(shaped, out=shaped)
    # room to the limit: bids q_max - q, asks q_max + q; none for an unusable market (NaN -> 0)
    np.multiply(side, q, out=room)
    room += params.max_inventory_lots
    room += SNAP_TICKS
    np.floor(room, out=room)
    room *= ws.valid
    np.fmax(room, 0.0, out=room)
    # level k gets what levels 0..k-1 leave of the room, counted at full size; fmax/fmin drop the
    # NaN an unusable market's size may carry (its room is 0)
    size = ws.size
    np.multiply(ws.level_index, shaped[:, None, :], out=size)
    np.subtract(room[:, None, :], size, out=size)
    np.fmax(size, 0.0, out=size)
    np.fmin(size, shaped[:, None, :], out=size)
    size *= ws.quoted
