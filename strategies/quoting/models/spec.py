"""What a quote model is to the vectorized core: a row kind with its maths and its needs.

A model maps market state to a reservation price r and a half spread h per market (level 0 is
bid = r - h, ask = r + h, before fees, toxicity, spread bounds and rounding, which the core applies
the same way for every model). Its `compute` writes every market into `reservation`/`half_spread`
(full arrays, no masks: masked ufuncs run one inner loop per run of True, which is slow on
interleaved models); the core gathers each market's own model afterwards.

Units: s, r, h in price units (quote currency per base unit); q in base units (inventory_lots *
lot_size); sigma in price units per sqrt(second), so sigma**2 is a variance rate in price**2/s;
tau in seconds; gamma per unit of quote currency (CARA utility -exp(-gamma * wealth)), or
gamma_notional per unit of quoted notional; kappa per price unit and A per second, from the fill
intensity lambda(delta) = A * exp(-kappa * delta) of OUR OWN quotes at distance delta from fair.
A-S and GLFT work in the units of the quoted size (`order_units`): inventory in orders q / Delta,
risk aversion per order x = gamma * Delta.

The scalar reference (tests/strategies/reference_quotes.py) repeats each expression operation for
operation, so both round identically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from strategies.quoting.arrays import BoolArray, FloatArray, IntArray, QuoteInputs, QuoteParams
from strategies.quoting.params import LadderParams

BPS = 1e-4

# Constants as 0-d arrays: numpy takes those as they are, a Python float it converts on every call
# (a measurable share of a call on 1,000 markets).
BPS_ARRAY = np.array(BPS)
HALF = np.array(0.5)
ONE = np.array(1.0)
TWO = np.array(2.0)
ZERO = np.array(0.0)
INF = np.array(np.inf)


class ModelWorkspace(Protocol):
    """The part of the core's `QuoteWorkspace` a model works in: its scratch memory, and the
    per-call values the core derived before the models run. One array per market each.

    Declared here, below the core, so that a model needs nothing of the core that dispatches to it.
    """

    scratch: tuple[FloatArray, ...]
    flag: BoolArray
    flag_b: BoolArray
    tau_ns: IntArray
    inventory_base: FloatArray  # q in base units: inventory_lots * lot_size
    inventory_fraction: FloatArray  # q / q_max: inventory_lots / max_inventory_lots


# Reads the inputs (and params) a model relies on and writes `ws.flag_b`: True where they are
# usable. It may use `ws.flag` and `ws.scratch[0]`. The core runs each check once for all the
# models that list it, and exempts the markets of the other models.
InputCheck = Callable[[QuoteInputs, QuoteParams, ModelWorkspace], None]

# (inputs, params, prepared, workspace, now_ns, reservation, half_spread): writes r and h of every
# market; `prepared` is what `prepare` derived from the params; `ws.scratch`, `ws.flag` and
# `ws.tau_ns` are free to use, `ws.inventory_base` and `ws.inventory_fraction` are set.
Compute = Callable[[QuoteInputs, QuoteParams, Any, ModelWorkspace, int, FloatArray, FloatArray], None]
# Writes the model's own QuoteParams columns of one market from its config (after the core
# reset them to neutral values): (params, slot, config, now_ns).
WriteSlot = Callable[[QuoteParams, int, Any, int], None]


def _nothing_prepared(params: QuoteParams) -> FloatArray | None:
    return None


@dataclass(frozen=True, slots=True)
class QuoteModelSpec:
    """One row kind of the core: registered in `strategies.quoting.models.QUOTE_MODELS`."""

    config: type[LadderParams]  # its strategy config (its `kind` names the model in the config)
    compute: Compute
    write_slot: WriteSlot
    checks: tuple[InputCheck, ...] = ()  # inputs a market of this model needs usable
    uses_gamma: bool = False  # QuoteParams.gamma or gamma_notional must be > 0 on its markets
    # config-only constants `compute` multiplies by: the plan keeps them cache-aligned
    prepare: Callable[[QuoteParams], FloatArray | None] = _nothing_prepared

    @property
    def kind(self) -> str:
        return str(self.config.model_fields["kind"].default)


def estimates_usable(inputs: QuoteInputs, params: QuoteParams, ws: ModelWorkspace) -> None:
    """sigma >= 0, kappa > 0 and sigma + kappa finite (the estimators' volatility and intensity)."""
    est, flag, tmp = ws.flag_b, ws.flag, ws.scratch[0]
    sigma, kappa = inputs.volatility, inputs.intensity_kappa
    np.greater_equal(sigma, ZERO, est)
    np.greater(kappa, ZERO, flag)
    est &= flag
    np.add(sigma, kappa, tmp)
    np.isfinite(tmp, flag)
    est &= flag


def order_intensity_usable(inputs: QuoteInputs, params: QuoteParams, ws: ModelWorkspace) -> None:
    """0 < A * level size < inf: fills expected for an order of our size."""
    est, flag, tmp = ws.flag_b, ws.flag, ws.scratch[0]
    np.multiply(inputs.intensity_a, params.level_size_lots, tmp)
    np.greater(tmp, ZERO, est)
    np.less(tmp, INF, flag)
    est &= flag
