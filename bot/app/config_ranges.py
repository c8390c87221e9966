"""Numbers the running bot can compute with: each one the schema lets through but the code cannot
hold is refused here with its field's path.

Prices in ticks and sizes in lots are 64-bit integers (numpy arrays of the market state) and go
through the float64 quote core, exact to 2**53 (about 9e15). A price or size of the config is
allowed up to 1e12 ticks or lots, which leaves a factor of 9000 for prices to move, ladders to
widen and positions to build before float64 stops being exact. Tick and lot sizes become float64
too, so they must not underflow to 0 or overflow to infinity (`tick_size = "1e-999"` divided by
zero at start). Pool amounts are Uniswap integers (uint128 liquidity, token amounts in raw units):
a raw amount is allowed up to 2**90, far above any real pool and far below where the pool's
float conversions overflow (`value_token1 = 1e300`).

Markets on a ccxt venue get their tick and lot from the exchange: `lots_problem` is checked at
start for them (bot.app.startup) with the same line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel

from amm.sim.params import SimPoolParams
from connectors.mock.params import MockMarketParams, MockVenueParams

MAX_UNITS = Decimal(10) ** 12
MIN_STEP = Decimal("1e-18")
MAX_STEP = Decimal("1e9")
MAX_RAW_TOKENS = 2**90


class SizedMarket(Protocol):
    """A [[markets]] entry: its sizes in base units."""

    @property
    def venue(self) -> str: ...

    @property
    def symbol(self) -> str: ...

    @property
    def order_size(self) -> Decimal: ...

    @property
    def max_position(self) -> Decimal: ...

    @property
    def target_base(self) -> Decimal | None: ...


def _step_problem(path: str, step: Decimal) -> str | None:
    if MIN_STEP <= step <= MAX_STEP:
        return None
    return f"{path}: must be between {MIN_STEP} and {MAX_STEP:.0E} (a float64 step), got {step}"


def units_problem(path: str, value: Decimal, step: Decimal, unit: str) -> str | None:
    """`value` in `unit`s ("ticks", "lots") of `step` must stay within MAX_UNITS."""
    units = value / step
    if units <= MAX_UNITS:
        return None
    return (
        f"{path}: {value} is {units:.3E} {unit} of {step}; at most {MAX_UNITS:.0E} {unit} "
        "(64-bit integers through a float64 quote core)"
    )


def lots_problem(path: str, market: SizedMarket, lot_size: Decimal) -> str | None:
    """The first size of a [[markets]] entry (at `path`) that does not fit in lots of `lot_size`."""
    sizes = {"order_size": market.order_size, "max_position": market.max_position}
    if market.target_base is not None:
        sizes["target_base"] = market.target_base
    for name, size in sizes.items():
        problem = units_problem(f"{path}.{name}", size, lot_size, "lots")
        if problem is not None:
            return problem
    return None


def _mock_market_problems(path: str, m: MockMarketParams) -> list[str]:
    steps = [_step_problem(f"{path}.tick_size", m.tick_size), _step_problem(f"{path}.lot_size", m.lot_size)]
    problems = [p for p in steps if p is not None]
    if problems:
        return problems  # the unit checks below divide by the steps
    price = units_problem(f"{path}.initial_price", m.initial_price, m.tick_size, "ticks")
    if price is None and m.initial_price < m.tick_size:
        price = f"{path}.initial_price: {m.initial_price} is below one tick ({m.tick_size})"
    return [price] if price is not None else []


def _mock_venue_problems(name: str, venue: MockVenueParams) -> list[str]:
    problems: list[str] = []
    for i, market in enumerate(venue.markets):
        problems += _mock_market_problems(f"venues.{name}.markets[{i}]", market)
    if problems:
        return problems
    # a base balance becomes the market's starting position in lots (bot.app.startup)
    for asset, amount in venue.initial_balances.items():
        for market in venue.markets:
            if market.base == asset:
                path = f"venues.{name}.initial_balances.{asset}"
                problem = units_problem(path, amount, market.lot_size, "lots")
                if problem is not None:
                    return [problem]
    return []


def _pool_problems(name: str, pool: SimPoolParams) -> list[str]:
    amounts: list[tuple[str, float, int]] = [
        ("wallet_token0", pool.wallet_token0, pool.token0_decimals),
        ("wallet_token1", pool.wallet_token1, pool.token1_decimals),
        ("noise.mean_size_token1", pool.noise.mean_size_token1, pool.token1_decimals),
    ]
    amounts += [
        (f"background[{i}].value_token1", rng.value_token1, pool.token1_decimals)
        for i, rng in enumerate(pool.background)
    ]
    problems = []
    for field, human, decimals in amounts:
        if Decimal(str(human)).scaleb(decimals) > MAX_RAW_TOKENS:
            limit = Decimal(MAX_RAW_TOKENS).scaleb(-decimals)
            problems.append(
                f"venues.{name}.{field}: {human:g} is more than the pool can hold "
                f"(at most {limit:.3E} with {decimals} decimals)"
            )
    return problems


def range_problems(venues: Mapping[str, BaseModel], markets: Sequence[SizedMarket]) -> list[str]:
    """One line per number of a validated config that the running bot could not compute with."""
    problems: list[str] = []
    for name, venue in venues.items():
        if isinstance(venue, MockVenueParams):
            problems += _mock_venue_problems(name, venue)
        elif isinstance(venue, SimPoolParams):
            problems += _pool_problems(name, venue)
    if problems:
        return problems
    for i, market in enumerate(markets):
        mock = venues.get(market.venue)
        if not isinstance(mock, MockVenueParams):
            continue  # a ccxt market's lot comes from the exchange: checked at start
        listed = next(m for m in mock.markets if m.symbol == market.symbol)
        problem = lots_problem(f"markets[{i}]", market, listed.lot_size)
        if problem is not None:
            problems.append(problem)
    return problems
