"""The markets and pools a strategy's params name, as capabilities the params models may declare.

A params model that trades "venue:symbol" markets has `markets`; one whose resting orders own some
of them (no other strategy may quote those) has `quoted_markets`, or is a quoting kind
(`QuotingControls`: it owns every market it quotes); one whose orders on a market must meet no
quote diff has `exclusive_markets`; one that draws on AMM pool venues has `pools` (or one `pool`). The config
checks them against [[markets]] and [venues], and a stopped active strategy has its owned
markets' orders cancelled (bot.app.active_runner).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.kernel.controls import QuotingControls


@runtime_checkable
class TradesMarkets(Protocol):
    @property
    def markets(self) -> list[str]: ...


@runtime_checkable
class QuotesMarkets(Protocol):
    @property
    def quoted_markets(self) -> list[str]: ...


@runtime_checkable
class ReservesMarkets(Protocol):
    @property
    def exclusive_markets(self) -> list[str]: ...


@runtime_checkable
class DrawsOnPools(Protocol):
    @property
    def pools(self) -> list[str]: ...


def traded_markets(params: object) -> list[str]:
    return list(params.markets) if isinstance(params, TradesMarkets) else []


def quoted_markets(params: object) -> list[str]:
    """Markets whose resting orders belong to this strategy alone."""
    if isinstance(params, QuotingControls):
        return list(params.markets)
    return list(params.quoted_markets) if isinstance(params, QuotesMarkets) else []


def exclusive_markets(params: object) -> list[str]:
    return list(params.exclusive_markets) if isinstance(params, ReservesMarkets) else []


def owned_markets(params: object) -> list[str]:
    """Markets whose open orders go when the strategy stops: quoted or reserved ones."""
    return [*quoted_markets(params), *exclusive_markets(params)]


@runtime_checkable
class DrawsOnPool(Protocol):
    @property
    def pool(self) -> str: ...


def pool_references(params: object) -> list[tuple[str, str]]:
    """(field, pool venue) for every pool the params name: `pools` entries, or the one `pool`."""
    if isinstance(params, DrawsOnPools):
        return [("pools", pool) for pool in params.pools]
    return [("pool", params.pool)] if isinstance(params, DrawsOnPool) else []
