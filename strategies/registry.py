"""Builds strategies from their config: quoting models (driven by the engine) or active ones."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from bot.market_state import MarketState
from strategies.base import ActiveStrategy, QuoteStrategy
from strategies.fixed_spread import FixedSpreadParams, FixedSpreadStrategy, QuotingControls
from strategies.hedger import Hedger, HedgerParams
from strategies.lp_manager import LpManager
from strategies.lp_params import LpManagerParams


def market_slots(state: MarketState, keys: list[str]) -> np.ndarray:
    return np.array([state.slot_of[tuple(k.split(":", 1))] for k in keys], dtype=np.int64)  # type: ignore[index]


def build_strategy(
    name: str, params: BaseModel, state: MarketState
) -> tuple[QuoteStrategy, QuotingControls] | ActiveStrategy:
    """One entry per strategy kind; a quoting kind returns (model, controls)."""
    if isinstance(params, FixedSpreadParams):
        return FixedSpreadStrategy(name, params, market_slots(state, params.markets)), params
    if isinstance(params, LpManagerParams):
        return LpManager(name, params)
    if isinstance(params, HedgerParams):
        return Hedger(name, params)
    raise ValueError(f"strategies.{name}: kind {getattr(params, 'kind', '?')!r} has no builder")
