"""Builds strategies from their config: quoting models (driven by the engine) or active ones."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydantic import BaseModel

from bot.core.domain import Market
from bot.kernel.controls import QuotingControls
from bot.kernel.market_state import MarketState
from bot.kernel.strategy import ActiveStrategy, QuoteStrategy
from strategies.lp.hedger import Hedger, HedgerParams
from strategies.lp.manager import LpManager
from strategies.lp.params import LpManagerParams
from strategies.quoting.core_strategy import CoreQuoteStrategy
from strategies.quoting.models import QuoteConfig
from strategies.quoting.multi_venue import MultiVenueParams, MultiVenueStrategy
from strategies.xvenue.amm_arbitrage import AmmArbitrageParams, AmmArbitrageStrategy
from strategies.xvenue.xemm import XemmParams, XemmStrategy


def market_slots(state: MarketState, keys: list[str]) -> np.ndarray:
    return np.array([state.slot_of[tuple(k.split(":", 1))] for k in keys], dtype=np.int64)  # type: ignore[index]


def build_strategy(
    name: str,
    params: BaseModel,
    state: MarketState,
    sizes_of: Callable[[Market], tuple[float, float]],
    now_ns: int,
) -> tuple[QuoteStrategy, QuotingControls] | ActiveStrategy:
    """One entry per strategy kind; a quoting kind returns (model, controls).

    `sizes_of(market)` gives the market's (order size, max position) in base units.
    """
    if isinstance(params, QuoteConfig):
        slots = market_slots(state, params.markets)
        markets = [state.markets[int(s)] for s in slots]
        return CoreQuoteStrategy(name, params, slots, markets, [sizes_of(m) for m in markets], now_ns), params
    if isinstance(params, MultiVenueParams):
        return MultiVenueStrategy(name, params, market_slots(state, params.markets), state, now_ns), params
    if isinstance(params, XemmParams):
        return XemmStrategy(name, params, state)
    if isinstance(params, AmmArbitrageParams):
        return AmmArbitrageStrategy(name, params, state)
    if isinstance(params, LpManagerParams):
        return LpManager(name, params)
    if isinstance(params, HedgerParams):
        return Hedger(name, params)
    raise ValueError(f"strategies.{name}: kind {getattr(params, 'kind', '?')!r} has no builder")
