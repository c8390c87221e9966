"""Venue kinds: for each `kind` of a [venues.*] table, its params model, what it is and how it is built.

The config's `[venues]` union is assembled from this table, and the bot builds every order-book
venue through it, so a new venue kind is its connector module plus one row here. Two roles:

- an order-book venue (`connectors.base.Venue`: quoted and traded through the engine), built by
  its factory from (name, params, clock);
- an AMM pool (`amm.ports.AmmPool`, handed to strategies in `BotContext.pools`): not a `Venue`,
  built and run by the bot's pool wiring (`bot.app.pools`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from amm.chain.params import UniswapV3VenueParams
from amm.sim.params import SimPoolParams
from bot.core.clock import Clock
from connectors.base import Venue
from connectors.ccxt.params import CcxtVenueParams
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import MockVenue
from connectors.paper.params import PaperVenueParams
from connectors.replay.params import ReplayVenueParams
from connectors.replay.venue import ReplayVenue

# (venue name, its params, the bot's clock) -> a venue not yet connected.
VenueFactory = Callable[[str, Any, Clock], Venue]


@dataclass(frozen=True, slots=True)
class BookVenueKind:
    params: type[BaseModel]
    build: VenueFactory
    live: bool = False  # trades on a real exchange: it cannot run in a backtest


@dataclass(frozen=True, slots=True)
class PoolKind:
    params: type[BaseModel]


def _ccxt(name: str, params: CcxtVenueParams, clock: Clock) -> Venue:
    # Imported here: ccxt is a heavy import that `mmbot check-config` and backtests never need.
    from connectors.ccxt.venue import CcxtVenue

    return CcxtVenue(name, params, clock)


def _paper(name: str, params: PaperVenueParams, clock: Clock) -> Venue:
    from connectors.paper.venue import PaperVenue  # ccxt again: imported when built

    return PaperVenue(name, params, clock)


VENUE_KINDS: dict[str, BookVenueKind | PoolKind] = {
    "mock": BookVenueKind(MockVenueParams, MockVenue),
    "ccxt": BookVenueKind(CcxtVenueParams, _ccxt, live=True),
    "sim_pool": PoolKind(SimPoolParams),
    "uniswap_v3": PoolKind(UniswapV3VenueParams),
    "replay": BookVenueKind(ReplayVenueParams, ReplayVenue),
    "paper": BookVenueKind(PaperVenueParams, _paper),
}

_BY_MODEL = {row.params: (kind, row) for kind, row in VENUE_KINDS.items()}


def _lookup(params: BaseModel) -> tuple[str, BookVenueKind | PoolKind]:
    found = _BY_MODEL.get(type(params))
    if found is None:
        raise ValueError(f"{type(params).__name__} is not a registered venue kind")
    return found


def venue_kind(params: BaseModel) -> BookVenueKind | PoolKind:
    """The registry row of a venue's params; ValueError for a model no row declares."""
    return _lookup(params)[1]


def venue_kind_name(params: BaseModel) -> str:
    """The `kind` of a venue's params, as written in the config."""
    return _lookup(params)[0]


def is_pool(params: BaseModel) -> bool:
    return isinstance(venue_kind(params), PoolKind)


def is_live(params: BaseModel) -> bool:
    """Whether the venue trades on a real exchange (so never in a backtest)."""
    row = venue_kind(params)
    return isinstance(row, BookVenueKind) and row.live


def build_venue(name: str, params: BaseModel, clock: Clock) -> Venue:
    """The order-book venue of one [venues.*] table (not connected yet)."""
    row = venue_kind(params)
    if not isinstance(row, BookVenueKind):
        raise ValueError(f"venues.{name}: an AMM pool is not an order-book venue")
    return row.build(name, params, clock)
