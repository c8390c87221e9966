"""Simulated order flow around a latent fair price, reproducible from one seed.

Per market: a fair price following geometric Brownian motion, a ladder of background liquidity
around it, and Poisson arrivals of noise takers (random side and size) and informed takers (who
know the fair price `informed_horizon_s` ahead). Synchronous: a driver asks `next_event_ns()`,
waits (asyncio or a backtest loop), then calls `advance_to(ts_ns)`. Same seed, same calls, same
event sequence.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections.abc import Sequence

import numpy as np

from bot.core.domain import Side
from connectors.mock.exchange import MockExchange
from connectors.mock.matching import RestingOrder
from connectors.mock.params import MockMarketParams

NS_PER_S = 1_000_000_000
SECONDS_PER_YEAR = 365 * 24 * 3600  # crypto trades every day of the year

_REFRESH, _NOISE, _INFORMED = 0, 1, 2


class FairPricePath:
    """A GBM path sampled exactly at the times asked for, in any order after the present.

    Knots hold (ts_ns, log price). A time past the last knot is sampled forward from it; a time
    between two knots is sampled from the Brownian bridge between them, so looking ahead (informed
    takers) and then filling in the present stays one consistent path with the configured vol.
    """

    def __init__(
        self, initial_price: float, volatility_annual: float, rng: np.random.Generator, start_ns: int
    ):
        if initial_price <= 0:
            raise ValueError(f"initial_price must be positive, got {initial_price}")
        self._rng = rng
        self._var_per_ns = volatility_annual**2 / (SECONDS_PER_YEAR * NS_PER_S)
        self._ts: list[int] = [start_ns]
        self._log: list[float] = [math.log(initial_price)]

    @property
    def ts_ns(self) -> int:
        """Time of the present (the earliest knot kept)."""
        return self._ts[0]

    @property
    def price(self) -> float:
        """Fair price at `ts_ns`."""
        return math.exp(self._log[0])

    def price_at(self, ts_ns: int) -> float:
        """Fair price at `ts_ns` (not before the present); samples and remembers a new knot."""
        times, logs = self._ts, self._log
        if ts_ns < times[0]:
            raise ValueError(f"fair price path: {ts_ns} is before the present {times[0]}")
        i = bisect_left(times, ts_ns)
        if i < len(times) and times[i] == ts_ns:
            return math.exp(logs[i])
        z = float(self._rng.standard_normal())
        if i == len(times):
            var = self._var_per_ns * (ts_ns - times[-1])
            value = logs[-1] - 0.5 * var + math.sqrt(var) * z
        else:
            t0, t1 = times[i - 1], times[i]
            x0, x1 = logs[i - 1], logs[i]
            weight = (ts_ns - t0) / (t1 - t0)
            # The bridge's mean is linear whatever the drift; its variance shrinks at both ends.
            var = self._var_per_ns * (ts_ns - t0) * (t1 - ts_ns) / (t1 - t0)
            value = x0 + weight * (x1 - x0) + math.sqrt(var) * z
        times.insert(i, ts_ns)
        logs.insert(i, value)
        return math.exp(value)

    def advance_to(self, ts_ns: int) -> float:
        """Make `ts_ns` the present and forget the knots before it; returns the fair price there."""
        price = self.price_at(ts_ns)
        i = bisect_left(self._ts, ts_ns)
        del self._ts[:i]
        del self._log[:i]
        return price

    def jump(self, ts_ns: int, factor: float) -> float:
        """A price shock: from `ts_ns` (the new present) the path continues from price × `factor`.

        Knots sampled beyond `ts_ns` (informed takers looking ahead) are forgotten: the shock was
        not in anyone's forecast.
        """
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"jump factor must be a positive number, got {factor}")
        self.advance_to(ts_ns)
        del self._ts[1:]
        del self._log[1:]
        self._log[0] += math.log(factor)
        return self.price


class _MarketFlow:
    __slots__ = ("anchor", "ladder", "params", "path", "rates_per_s", "rng", "symbol", "tick")

    def __init__(self, params: MockMarketParams, path: FairPricePath, rng: np.random.Generator) -> None:
        self.params = params
        self.symbol = params.symbol
        self.path = path
        self.rng = rng
        self.tick = float(params.tick_size)
        self.ladder: list[RestingOrder] = []
        self.anchor = 0.0
        # indexed by event kind
        self.rates_per_s = (
            params.liquidity_refresh_rate_per_s,
            params.noise_taker_rate_per_s,
            params.informed_taker_rate_per_s,
        )

    def ladder_intact(self) -> bool:
        full = self.params.book_level_size_lots
        return all(order.size_lots == full for order in self.ladder)


class OrderFlow:
    """Background liquidity and takers of every market of one `MockExchange`."""

    def __init__(
        self, exchange: MockExchange, markets: Sequence[MockMarketParams], seed: int, start_ns: int
    ) -> None:
        self.exchange = exchange
        self._markets: list[_MarketFlow] = []
        self._by_symbol: dict[str, _MarketFlow] = {}
        self._queue: list[tuple[int, int, int]] = []
        # Independent streams per market and per purpose: reading the fair price at extra times
        # never shifts the takers' arrivals, sides or sizes.
        seeds = np.random.SeedSequence(seed).spawn(len(markets))
        for index, (params, market_seed) in enumerate(zip(markets, seeds, strict=True)):
            path_seed, taker_seed = market_seed.spawn(2)
            path_rng = np.random.default_rng(path_seed)
            path = FairPricePath(float(params.initial_price), params.volatility_annual, path_rng, start_ns)
            flow = _MarketFlow(params, path, np.random.default_rng(taker_seed))
            self._markets.append(flow)
            self._by_symbol[params.symbol] = flow
            self._refresh_ladder(flow, path.price, start_ns)
            for kind in (_REFRESH, _NOISE, _INFORMED):
                self._schedule(index, kind, start_ns)

    def next_event_ns(self) -> int | None:
        return self._queue[0][0] if self._queue else None

    def advance_to(self, ts_ns: int) -> int:
        """Run every flow event due at or before `ts_ns`, each at its own time; returns how many."""
        queue = self._queue
        processed = 0
        while queue and queue[0][0] <= ts_ns:
            event_ns, index, kind = heapq.heappop(queue)
            self._run(self._markets[index], event_ns, kind)
            self._schedule(index, kind, event_ns)
            processed += 1
        return processed

    def fair_price(self, symbol: str, ts_ns: int | None = None) -> float:
        """Latent fair price: as of the last flow event (no randomness used), or sampled at `ts_ns`.

        Sampling at `ts_ns` (not before the last flow event) is exact and consistent with the rest
        of the path; it draws from the path's own stream, so the takers' sequence is unaffected.
        """
        flow = self._by_symbol.get(symbol)
        if flow is None:
            raise KeyError(f"no simulated flow for symbol {symbol!r}")
        return flow.path.price if ts_ns is None else flow.path.price_at(ts_ns)

    def shock_fair_price(self, symbol: str, factor: float, ts_ns: int) -> float:
        """Multiply the latent fair price by `factor` at `ts_ns` (scenario tests: a CEX move that
        arbitrageurs then carry to other venues); the background ladder is re-posted around it."""
        flow = self._by_symbol.get(symbol)
        if flow is None:
            raise KeyError(f"no simulated flow for symbol {symbol!r}")
        self.advance_to(ts_ns)
        price = flow.path.jump(ts_ns, factor)
        self._refresh_ladder(flow, price, ts_ns)
        return price

    # ---- internals -----------------------------------------------------------------------------

    def _schedule(self, index: int, kind: int, after_ns: int) -> None:
        flow = self._markets[index]
        rate_per_s = flow.rates_per_s[kind]
        if rate_per_s <= 0:
            return
        wait_ns = int(flow.rng.exponential(1.0 / rate_per_s) * NS_PER_S)
        heapq.heappush(self._queue, (after_ns + max(wait_ns, 1), index, kind))

    def _run(self, flow: _MarketFlow, ts_ns: int, kind: int) -> None:
        fair = flow.path.advance_to(ts_ns)
        params = flow.params
        if (
            not flow.ladder_intact()
            or abs(fair - flow.anchor) >= flow.anchor * params.liquidity_refresh_bps / 1e4
        ):
            self._refresh_ladder(flow, fair, ts_ns)
        if kind == _NOISE:
            side = Side.BUY if flow.rng.random() < 0.5 else Side.SELL
            size_lots = int(flow.rng.geometric(1.0 / params.noise_taker_size_lots))
            self.exchange.background_take(flow.symbol, side, size_lots, ts_ns)
        elif kind == _INFORMED:
            size_lots = int(flow.rng.geometric(1.0 / params.informed_size_lots))
            self._informed_take(flow, size_lots, ts_ns)

    def _informed_take(self, flow: _MarketFlow, size_lots: int, ts_ns: int) -> None:
        params = flow.params
        future = flow.path.price_at(ts_ns + int(params.informed_horizon_s * NS_PER_S))
        edge = params.informed_edge_bps / 1e4
        book = self.exchange.book(flow.symbol)
        best_ask, best_bid = book.best_ask(), book.best_bid()
        # Sweep while the future fair still beats the price by the edge: the IOC limit is the
        # worst price at which the trade is still worth it.
        if best_ask is not None and future > best_ask * flow.tick * (1 + edge):
            limit = math.floor(future / (1 + edge) / flow.tick)
            self.exchange.background_take(flow.symbol, Side.BUY, size_lots, ts_ns, limit)
        elif best_bid is not None and future < best_bid * flow.tick * (1 - edge):
            limit = math.ceil(future / (1 - edge) / flow.tick)
            self.exchange.background_take(flow.symbol, Side.SELL, size_lots, ts_ns, limit)

    def _refresh_ladder(self, flow: _MarketFlow, fair: float, ts_ns: int) -> None:
        """Re-post the background ladder around `fair`; it may trade against stale quotes (ours)."""
        exchange, symbol, params = self.exchange, flow.symbol, flow.params
        for resting in flow.ladder:
            if resting.size_lots:
                exchange.background_cancel(symbol, resting.order_id, ts_ns)
        ladder: list[RestingOrder] = []
        last_bid: int | None = None
        last_ask: int | None = None
        for level in range(params.book_levels):
            offset = (params.book_spread_bps + level * params.book_level_spacing_bps) / 1e4
            bid = math.floor(fair * (1 - offset) / flow.tick)
            ask = math.ceil(fair * (1 + offset) / flow.tick)
            if bid == ask:  # a zero spread on a coarse grid: keep the ask one tick up
                ask += 1
            for side, price, last in ((Side.BUY, bid, last_bid), (Side.SELL, ask, last_ask)):
                if price <= 0 or price == last:
                    continue
                order = exchange.background_place(symbol, side, price, params.book_level_size_lots, ts_ns)
                if order is not None:
                    ladder.append(order)
            last_bid, last_ask = bid, ask
        flow.ladder = ladder
        flow.anchor = fair
