"""Strategy kinds: for each `kind` of a [strategies.*] table, its params model and its builder.

The config's `[strategies]` union is assembled from this table and the bot builds every strategy
through it (at start and on a hot reload), so a new strategy kind is its module plus one row here.
Two roles:

- a quoting kind: a `QuoteStrategy` the engine asks for targets, with the `QuotingControls` that
  say how live orders follow them;
- an active kind: an `ActiveStrategy` that runs as its own task (XEMM, arbitrage, LP, hedger).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from bot.core.domain import Market, MarketKey
from bot.kernel.context import ActiveStrategy
from bot.kernel.controls import QuotingControls
from bot.kernel.market_state import MarketState
from bot.kernel.strategy import QuoteStrategy
from strategies.lp.hedger import Hedger, HedgerParams
from strategies.lp.manager import LpManager
from strategies.lp.params import LpManagerParams
from strategies.quoting.core_strategy import CoreQuoteStrategy
from strategies.quoting.models import QuoteConfig, quote_configs
from strategies.quoting.multi_venue import MultiVenueParams, MultiVenueStrategy
from strategies.xvenue.amm_arbitrage import AmmArbitrageParams, AmmArbitrageStrategy
from strategies.xvenue.xemm import XemmParams, XemmStrategy


@dataclass(frozen=True, slots=True)
class BuildInputs:
    """What a builder may read: the engine's markets, each market's sizes, the time of the build,
    and whether anything reads the strategies' diagnostics (`quote_diagnostics`, for /metrics)."""

    state: MarketState
    sizes_of: Callable[[Market], tuple[float, float]]  # (order size, max position) in base units
    now_ns: int
    diagnostics_read: bool = True


# A quoting kind's params are also its controls: its builder returns (model, params).
Quoting = tuple[QuoteStrategy, QuotingControls]


@dataclass(frozen=True, slots=True)
class QuotingKind:
    params: type[QuotingControls]
    build: Callable[[str, Any, BuildInputs], Quoting]


@dataclass(frozen=True, slots=True)
class ActiveKind:
    params: type[BaseModel]
    build: Callable[[str, Any, BuildInputs], ActiveStrategy]


def market_slots(state: MarketState, keys: list[str]) -> np.ndarray:
    return np.array([state.slot_of[MarketKey.parse(k)] for k in keys], dtype=np.int64)


def _core_quote(name: str, params: QuoteConfig, at: BuildInputs) -> Quoting:
    slots = market_slots(at.state, params.markets)
    markets = [at.state.markets[int(s)] for s in slots]
    sizes = [at.sizes_of(m) for m in markets]
    strategy = CoreQuoteStrategy(
        name, params, slots, markets, sizes, at.now_ns, at.state, diagnostics_read=at.diagnostics_read
    )
    return strategy, params


def _multi_venue(name: str, params: MultiVenueParams, at: BuildInputs) -> Quoting:
    slots = market_slots(at.state, params.markets)
    return MultiVenueStrategy(name, params, slots, at.state, at.now_ns, at.diagnostics_read), params


def _xemm(name: str, params: XemmParams, at: BuildInputs) -> ActiveStrategy:
    return XemmStrategy(name, params, at.state)


def _amm_arbitrage(name: str, params: AmmArbitrageParams, at: BuildInputs) -> ActiveStrategy:
    return AmmArbitrageStrategy(name, params, at.state)


def _lp_manager(name: str, params: LpManagerParams, at: BuildInputs) -> ActiveStrategy:
    return LpManager(name, params)


def _hedger(name: str, params: HedgerParams, at: BuildInputs) -> ActiveStrategy:
    return Hedger(name, params)


STRATEGY_KINDS: dict[str, QuotingKind | ActiveKind] = {
    # every quote model of the vectorized core is a kind (strategies/quoting/models/ registers them)
    **{kind: QuotingKind(config, _core_quote) for kind, config in quote_configs().items()},
    "multi_venue_mm": QuotingKind(MultiVenueParams, _multi_venue),
    "xemm": ActiveKind(XemmParams, _xemm),
    "amm_arbitrage": ActiveKind(AmmArbitrageParams, _amm_arbitrage),
    "lp_manager": ActiveKind(LpManagerParams, _lp_manager),
    "hedger": ActiveKind(HedgerParams, _hedger),
}

_BY_MODEL = {row.params: row for row in STRATEGY_KINDS.values()}


def strategy_kind(name: str, params: BaseModel) -> QuotingKind | ActiveKind:
    """The registry row of `[strategies.<name>]`'s params; ValueError for a model no row declares."""
    row = _BY_MODEL.get(type(params))
    if row is None:
        raise ValueError(f"strategies.{name}: {type(params).__name__} is not a registered strategy kind")
    return row
