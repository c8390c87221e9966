"""The port between the engine and quoting strategies."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from bot.market_state import MarketState
from strategies.targets import QuoteTargets


class QuoteStrategy(Protocol):
    """Computes targets for its markets (rows aligned with `slots`) from the engine's arrays."""

    name: str
    slots: npt.NDArray[np.int64]

    def targets(self, state: MarketState, now_ns: int) -> QuoteTargets: ...
