"""Simulated AMM pools inside the bot: one SimulatedPool + SimPoolFlow per `kind = "sim_pool"` venue.

A sim pool is not a `Venue` (it has no order book): it lives in `BotContext.pools[name]` behind the
`amm.ports.AmmPool` port. Its arbitrageurs follow the latent fair price of a named mock CEX venue,
so the pool and the CEX move together as they would in the market. Flows run as tasks from
`start()` until `stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from amm.chain.params import UniswapV3VenueParams
from amm.ports import AmmPool
from amm.sim.flow import SimPoolFlow
from amm.sim.params import SimPoolParams
from amm.sim.pool import SimulatedPool
from bot.core.clock import Clock

if TYPE_CHECKING:  # web3 (≈1 s of imports) only when a uniswap_v3 venue is connected
    from amm.chain.pool import ChainPool

log = logging.getLogger("mmbot.pools")


@runtime_checkable
class LatentFairPrice(Protocol):
    """A simulated venue whose prices follow a latent fair price path (the mock venue)."""

    def fair_price(self, symbol: str, ts_ns: int | None = None) -> float: ...


def fair_price_source(venue_name: str, venue: object, symbol: str) -> Callable[[], float]:
    """The fair price the pool's arbitrageurs track: the venue's latent price (mock venues only)."""
    if not isinstance(venue, LatentFairPrice):
        raise ValueError(f"fair_venue {venue_name!r} has no latent fair price (only mock venues do)")
    fair_price = venue.fair_price

    def read() -> float:
        try:
            return float(fair_price(symbol))
        except RuntimeError:  # the venue's flow has not started yet: arbitrageurs wait
            return float("nan")

    return read


@dataclass(slots=True)
class SimPoolRuntime:
    name: str
    params: SimPoolParams
    pool: SimulatedPool
    flow: SimPoolFlow
    fair_price: Callable[[], float]
    task: asyncio.Task[None] | None = field(default=None)


class SimPools:
    """Every AMM pool of one bot: simulated pools (with their flows) and on-chain pools."""

    def __init__(self, runtimes: dict[str, SimPoolRuntime]) -> None:
        self.runtimes = runtimes
        self.chain: dict[str, ChainPool] = {}

    async def connect_chain(self, venue_params: Mapping[str, object], clock: Clock) -> None:
        """Connect every uniswap_v3 venue (RPC, wallet from its env var, contracts)."""
        for name, params in venue_params.items():
            if isinstance(params, UniswapV3VenueParams) and name not in self.chain:
                from amm.chain.pool import ChainPool

                self.chain[name] = await ChainPool.connect(params, clock)
                log.info("chain pool %s connected (chain id %d)", name, params.chain_id)

    @classmethod
    def build(
        cls, venue_params: Mapping[str, object], venues: Mapping[str, object], clock: Clock
    ) -> SimPools:
        runtimes: dict[str, SimPoolRuntime] = {}
        for name, params in venue_params.items():
            if not isinstance(params, SimPoolParams):
                continue
            if params.fair_venue not in venues:
                raise ValueError(f"venues.{name}.fair_venue: no venue named {params.fair_venue!r}")
            fair = fair_price_source(params.fair_venue, venues[params.fair_venue], params.fair_symbol)
            pool = SimulatedPool.from_params(params, clock)
            runtimes[name] = SimPoolRuntime(name, params, pool, SimPoolFlow(pool, fair, params, clock), fair)
        return cls(runtimes)

    @property
    def pools(self) -> dict[str, AmmPool]:
        return {**{name: rt.pool for name, rt in self.runtimes.items()}, **self.chain}

    def start(self) -> None:
        for rt in self.runtimes.values():
            if rt.task is None:
                rt.task = asyncio.create_task(rt.flow.run(), name=f"{rt.name}-flow")
                log.info(
                    "sim pool %s: %s/%s at %.4f, following %s %s",
                    rt.name,
                    rt.pool.token0.symbol,
                    rt.pool.token1.symbol,
                    rt.pool.price(),
                    rt.params.fair_venue,
                    rt.params.fair_symbol,
                )

    async def stop(self) -> None:
        for name, chain_pool in list(self.chain.items()):
            try:
                await chain_pool.close()
            except Exception:
                log.exception("closing chain pool %s failed", name)
            del self.chain[name]
        for rt in self.runtimes.values():
            rt.flow.stop()
        for rt in self.runtimes.values():
            if rt.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await rt.task
                rt.task = None
