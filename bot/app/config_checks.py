"""Cross-references of a config: what one section names must exist, with the right role, in another.

Each check raises ValueError naming the field to fix (`<dotted.path>: <what is wrong>`); they run
in this order from `AppConfig`'s validator, so the first problem of a file is the one reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from amm.chain.params import UniswapV3VenueParams
from amm.sim.params import SimPoolParams
from bot.app.strategy_markets import exclusive_markets, pool_references, quoted_markets, traded_markets
from connectors.mock.params import MockVenueParams
from connectors.registry import is_pool
from strategies.lp.params import LpManagerParams


class ListedMarket(Protocol):
    """A [[markets]] entry."""

    @property
    def venue(self) -> str: ...

    @property
    def symbol(self) -> str: ...

    @property
    def key(self) -> str: ...


@runtime_checkable
class AnchoredPool(Protocol):
    """A pool venue whose fair price is a market's (`fair_venue`, `fair_symbol`), when it has one."""

    @property
    def fair_venue(self) -> str | None: ...

    @property
    def fair_symbol(self) -> str | None: ...


def pool_anchor(params: BaseModel) -> tuple[str, str] | None:
    """(venue, symbol) of the market whose price anchors a pool venue; None for others."""
    if not is_pool(params) or not isinstance(params, AnchoredPool) or params.fair_venue is None:
        return None
    return params.fair_venue, params.fair_symbol or ""


def _check_fair_source(name: str, pool: SimPoolParams, venues: Mapping[str, BaseModel]) -> None:
    """A simulated pool follows the latent price of a market on a mock venue of this config."""
    fair = venues.get(pool.fair_venue)
    if not isinstance(fair, MockVenueParams):
        raise ValueError(f"venues.{name}.fair_venue: {pool.fair_venue!r} is not a mock venue of [venues]")
    if pool.fair_symbol not in {m.symbol for m in fair.markets}:
        raise ValueError(
            f"venues.{name}.fair_symbol: {pool.fair_symbol!r} is not a market of {pool.fair_venue}"
        )


def _check_chain_fair_source(
    name: str, pool: UniswapV3VenueParams, venues: Mapping[str, BaseModel], markets: Sequence[ListedMarket]
) -> None:
    """A chain pool's fair price: a market of [[markets]] on that venue, or a mock venue's market."""
    venue = venues.get(pool.fair_venue or "")
    if venue is None or is_pool(venue):
        raise ValueError(
            f"venues.{name}.fair_venue: {pool.fair_venue!r} is not an order-book venue of [venues]"
        )
    traded = {m.symbol for m in markets if m.venue == pool.fair_venue}
    latent = {m.symbol for m in venue.markets} if isinstance(venue, MockVenueParams) else set()
    if pool.fair_symbol not in traded | latent:
        raise ValueError(
            f"venues.{name}.fair_symbol: {pool.fair_symbol!r} is neither in [[markets]] on "
            f"{pool.fair_venue} nor a mock market there"
        )


def check_pool_anchors(venues: Mapping[str, BaseModel], markets: Sequence[ListedMarket]) -> None:
    for name, venue in venues.items():
        if isinstance(venue, SimPoolParams):
            _check_fair_source(name, venue, venues)
        elif isinstance(venue, UniswapV3VenueParams) and venue.fair_venue is not None:
            _check_chain_fair_source(name, venue, venues, markets)


def check_markets(venues: Mapping[str, BaseModel], markets: Sequence[ListedMarket]) -> None:
    """Each market once, on an order-book venue of [venues] that trades it."""
    keys = [m.key for m in markets]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"markets: listed twice: {', '.join(dupes)}")
    for i, m in enumerate(markets):
        if m.venue not in venues:
            raise ValueError(f"markets[{i}].venue: no venue named {m.venue!r} in [venues]")
        venue = venues[m.venue]
        if is_pool(venue):
            raise ValueError(f"markets[{i}].venue: {m.venue!r} is a pool, not an order-book venue")
        if isinstance(venue, MockVenueParams) and m.symbol not in {v.symbol for v in venue.markets}:
            raise ValueError(f"markets[{i}].symbol: {m.symbol!r} is not a market of venue {m.venue}")


def check_strategy_pools(strategies: Mapping[str, BaseModel], venues: Mapping[str, BaseModel]) -> None:
    """Pools a strategy draws on are pool venues; an LP manager's have a fair price to centre on."""
    for name, strat in strategies.items():
        for field, pool in pool_references(strat):
            venue = venues.get(pool)
            if venue is None or not is_pool(venue):
                pools = ", ".join(sorted(n for n, v in venues.items() if is_pool(v))) or "none"
                raise ValueError(
                    f"strategies.{name}.{field}: {pool!r} is not a sim_pool or uniswap_v3 venue of "
                    f"[venues] (pool venues: {pools})"
                )
            if isinstance(strat, LpManagerParams) and pool_anchor(venue) is None:
                raise ValueError(f"strategies.{name}.{field}: {pool!r} has no fair_venue / fair_symbol")


def market_owners(strategies: Mapping[str, BaseModel], keys: Sequence[str]) -> dict[str, str]:
    """Market key -> the one strategy whose resting orders own it; every traded market listed."""
    owner: dict[str, str] = {}
    for name, strat in strategies.items():
        quoted = quoted_markets(strat)
        for key in traded_markets(strat):
            if key not in keys:
                raise ValueError(f"strategies.{name}.markets: {key!r} is not in [[markets]]")
            if key not in quoted:
                continue
            if key in owner:
                raise ValueError(f"strategies.{name}.markets: {key!r} is already quoted by {owner[key]}")
            owner[key] = name
    return owner


def check_reserved_markets(
    strategies: Mapping[str, BaseModel],
    venues: Mapping[str, BaseModel],
    keys: list[str],
    owner: Mapping[str, str],
) -> None:
    """Markets a strategy trades outside the quote diff (hedges, an LP's CEX route) are quoted by none."""
    for name, strat in strategies.items():
        if isinstance(strat, LpManagerParams):
            strat.check_cex_market(name, venues, keys, owner)
            strat.check_hedge_band(name, strategies)
        for key in exclusive_markets(strat):
            if key in owner:
                raise ValueError(
                    f"strategies.{name}.market: {key!r} is quoted by {owner[key]}; hedge elsewhere"
                )
