"""The quote models of the vectorized core, one module each, and their registry.

Adding a model: a module beside these with its config (a `kind`), its maths, and a
`QuoteModelSpec` (which inputs it needs usable, which QuoteParams columns it writes), then one row
here: its `QuoteModel` code, its spec in `QUOTE_MODELS` and its config in `QuoteConfig`. The core's
dispatch, the plan, the params' validation, the config union and the strategy builder read them
from here. The models see only the data types below them (`strategies.quoting.arrays` and the
workspace port in `spec`), never the core that dispatches to them.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, get_args

import numpy as np
from pydantic import Field

from bot.kernel.controls import QuotingControls
from strategies.quoting.arrays import QuoteParams, finite_positive
from strategies.quoting.models.avellaneda import AVELLANEDA_STOIKOV, AvellanedaParams
from strategies.quoting.models.fixed_spread import FIXED_SPREAD, FixedSpreadParams
from strategies.quoting.models.glft import GLFT, GlftParams
from strategies.quoting.models.spec import QuoteModelSpec


class QuoteModel(IntEnum):
    """Per-market model code (`QuoteParams.model`)."""

    FIXED_SPREAD = 0
    AVELLANEDA_STOIKOV = 1
    GLFT = 2


QUOTE_MODELS: dict[QuoteModel, QuoteModelSpec] = {
    QuoteModel.FIXED_SPREAD: FIXED_SPREAD,
    QuoteModel.AVELLANEDA_STOIKOV: AVELLANEDA_STOIKOV,
    QuoteModel.GLFT: GLFT,
}

# The strategy configs of the quote models (a "kind" each), for the config union and the builder.
QuoteConfig = FixedSpreadParams | AvellanedaParams | GlftParams


def quote_configs() -> dict[str, type[QuotingControls]]:
    """Strategy kind -> its config model, one per quote model (in `QuoteConfig`'s order)."""
    return {config.model_fields["kind"].default: config for config in get_args(QuoteConfig)}


MODEL_OF_KIND: dict[str, QuoteModel] = {spec.kind: code for code, spec in QUOTE_MODELS.items()}
# The union as a config field: the `kind` picks the model.
QuoteStrategyParams = Annotated[QuoteConfig, Field(discriminator="kind")]

_CODES = list(QUOTE_MODELS)
_GAMMA_MODELS = [code for code, spec in QUOTE_MODELS.items() if spec.uses_gamma]


def validate_quote_params(params: QuoteParams) -> None:
    """`params.validate()` plus the rules that depend on the registered models: every `model`
    code registered; on the markets of the models that use a risk aversion, `gamma` finite and
    >= 0, and `gamma` or `gamma_notional` > 0 (the models take x = gamma * Delta + gamma_notional / s)."""
    params.validate()
    exempt = ~np.isin(params.model, _GAMMA_MODELS)
    gamma, gamma_notional = params.gamma, params.gamma_notional
    params.check(
        [
            ("model", np.isin(params.model, _CODES), "a QuoteModel code"),
            (
                "gamma",
                exempt | (np.isfinite(gamma) & (gamma >= 0)),
                "finite and >= 0 for the models that use it",
            ),
            (
                "gamma",
                exempt | finite_positive(gamma) | finite_positive(gamma_notional),
                "> 0 where gamma_notional is 0, for the models that use them",
            ),
        ]
    )
