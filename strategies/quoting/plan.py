"""Per-market constants of the quote core that change only with the config, derived once.

`QuotePlan(params)` turns the `QuoteParams` columns into the exact factors the core multiplies by
(bps already scaled, ticks and level sizes repeated per side, the level ladder laid out as full
(side, level, market) arrays, each model's own constants) and settles which models and input
checks run, so a recompute spends no operation on them. Each constant is the same floating-point
expression the scalar reference evaluates, so results stay bit-identical.

A plan is a snapshot: `QuoteWorkspace.prepare(params)` builds a new one after params were edited
in place (replacing a field array or passing another QuoteParams object is noticed by itself).
`level_size_lots`, `max_inventory_lots` and `session_end_ns` are not part of it: strategies set
those per requote (sizes and limits from the engine, rolled sessions), so the core reads them on
every call.
"""

from __future__ import annotations

from operator import attrgetter, is_
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from strategies.quoting.arrays import FloatArray, QuoteParams, _check_shapes, aligned_empty
from strategies.quoting.models import QUOTE_MODELS, QuoteModel, validate_quote_params
from strategies.quoting.models.spec import InputCheck, QuoteModelSpec

BPS = 1e-4
HALF_BPS = 0.5e-4
MAX_TICKS = float(2**53)

_T = TypeVar("_T", bound=np.generic)
_PARAM_FIELDS = tuple(f for f in QuoteParams.__slots__ if f != "n_levels")
_param_columns = attrgetter(*_PARAM_FIELDS)  # every call of the core checks them: one C call


class QuotePlan:
    """What the quote core needs from `QuoteParams`, precomputed (see the module docstring)."""

    def __init__(self, params: QuoteParams) -> None:
        _check_shapes(params, "QuoteParams")
        validate_quote_params(params)
        n, levels = params.n_markets, params.n_levels
        self.params = params
        self.columns = _param_columns(params)
        counts = np.bincount(params.model, minlength=len(QuoteModel))
        # the models some market uses, each with the constants its `compute` multiplies by
        self.models: tuple[tuple[QuoteModel, QuoteModelSpec, FloatArray | None], ...] = tuple(
            (code, spec, _aligned_or_none(spec.prepare(params)))
            for code, spec in QUOTE_MODELS.items()
            if counts[code]
        )
        self.mixed = len(self.models) > 1
        self.checks = _input_checks(params, self.models)
        # flat index model * n + market into the (model, market) rows of r and h
        self.model_index = _aligned(params.model.astype(np.intp) * n + np.arange(n, dtype=np.intp))

        # the fractions of the fair price the core needs, in the core's row order: min and max
        # half spread, price band, level spacing
        self.price_fractions = _rows(
            params.min_spread_bps * HALF_BPS,
            params.max_spread_bps * HALF_BPS,
            params.price_band_bps * BPS,
            params.level_spacing_bps * BPS,
        )
        self.max_price = _aligned(params.tick_size * MAX_TICKS)
        # the rows the core divides by the tick (step, -bid_0, ask_0); -tick so that
        # best_ask / -tick is the negated bid cap
        self.tick_rows = _rows(params.tick_size, params.tick_size, params.tick_size)
        self.neg_tick = _aligned(-params.tick_size)
        self.neg_eta_sides = _rows(-params.size_shape_eta, -params.size_shape_eta)

        # (side, level, market) ladders: -k for bids and +k for asks; k for the size of level k,
        # inf from level_count on (room - inf * shaped is never a positive size); ticks
        k = np.arange(levels, dtype=np.float64)[:, None]
        self.signed_levels = _levels(levels, n)
        self.signed_levels[0] = -k
        self.signed_levels[1] = k
        self.level_or_inf = _levels(levels, n)
        self.level_or_inf[:] = np.where(k < params.level_count, k, np.inf)
        self.tick_levels = _levels(levels, n)
        self.tick_levels[:] = params.tick_size

    def is_current(self, params: QuoteParams) -> bool:
        """Same params object with the same field arrays (in-place edits need `prepare`)."""
        if params is not self.params:
            return False
        return all(map(is_, _param_columns(params), self.columns))


def _input_checks(
    params: QuoteParams, models: tuple[tuple[QuoteModel, QuoteModelSpec, FloatArray | None], ...]
) -> tuple[tuple[InputCheck, npt.NDArray[np.bool_] | None], ...]:
    """Each input check some market's model needs, once, with the markets it does not apply to
    (None: it applies to every market)."""
    users: dict[InputCheck, list[QuoteModel]] = {}
    for code, spec, _ in models:
        for check in spec.checks:
            users.setdefault(check, []).append(code)
    out = []
    for check, codes in users.items():
        exempt = ~np.isin(params.model, codes)
        out.append((check, _aligned(exempt) if exempt.any() else None))
    return tuple(out)


def _aligned(values: npt.NDArray[_T]) -> npt.NDArray[_T]:
    out: npt.NDArray[_T] = aligned_empty(values.shape, values.dtype)
    out[...] = values
    return out


def _aligned_or_none(values: FloatArray | None) -> FloatArray | None:
    return None if values is None else _aligned(values)


def _rows(*rows: FloatArray) -> FloatArray:
    out = aligned_empty((len(rows), rows[0].shape[0]))
    for i, row in enumerate(rows):
        out[i] = row
    return out


def _levels(levels: int, n: int) -> FloatArray:
    return aligned_empty((2, levels, n))
