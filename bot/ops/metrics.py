"""Prometheus metrics of one bot, in its own CollectorRegistry (several bots per process in tests).

Totals the bot already keeps (order counters, positions, PnL) are read at scrape time by a custom
collector, so the trading loop pays nothing for them. Only what has no other home is recorded
as it happens: latencies (histograms), spread captured per fill, rate-limit waits, job runs.
Gauges other components own (hedge delta) are created here and set by them; the LP books are read
at scrape time too (`bot.ops.lp_metrics`, once `watch_lp` is given the active strategies).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.core.clock import NS_PER_S, Clock
from bot.core.domain import Fill, Market, Side
from bot.core.supervision import Supervisor, TaskState
from bot.kernel.market_state import MarketState
from bot.kernel.runtime import Runtime
from bot.ops.edge_metrics import EdgeCollector
from bot.ops.hedge_metrics import HedgeCollector
from bot.ops.lp_metrics import LpCollector


@runtime_checkable
class QuoteDiagnostics(Protocol):
    """A quoting strategy that exposes its live model inputs (intensity, markouts, flow
    imbalance, toxicity per side): name -> one value per row of its `slots`, read at scrape time."""

    slots: npt.NDArray[np.int64]

    def quote_diagnostics(self) -> dict[str, npt.NDArray[np.float64]]: ...


LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class BotMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.event_to_order_s = Histogram(
            "mmbot_event_to_order_seconds",
            "Time from a market's latest book event to an order for it being sent",
            ["market"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.venue_latency_s = Histogram(
            "mmbot_venue_request_seconds",
            "Round trip of order requests to a venue",
            ["venue", "op"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.rate_limit_waits = Counter(
            "mmbot_rate_limit_waits", "Times a request waited for a venue's rate limit", ["venue"], registry=r
        )
        self.rate_limit_wait_s = Counter(
            "mmbot_rate_limit_wait_seconds", "Seconds spent waiting for rate limits", ["venue"], registry=r
        )
        self.job_runs = Counter("mmbot_job_runs", "Scheduled job runs", ["job"], registry=r)
        self.job_failures = Counter("mmbot_job_failures", "Scheduled job failures", ["job"], registry=r)
        self.notifications = Counter(
            "mmbot_notifications", "Notifications by outcome", ["outcome"], registry=r
        )
        self.hedge_delta_base = Gauge(
            "mmbot_hedge_delta_base", "Net delta after hedges", ["asset"], registry=r
        )
        self.spread_captured: dict[str, Decimal] = {}
        self._state: MarketState | None = None  # the started bot's, for book ages at order time

    def watch_tasks(self, supervisor: Supervisor) -> None:
        """Export every supervised task: `mmbot_task_up{task}`, `mmbot_task_restarts_total{task}`."""
        self.registry.register(_TaskCollector(supervisor))

    def watch_lp(self, strategies: Callable[[], list[Any]]) -> None:
        """Export the LP managers' and hedgers' books among `strategies()` (`bot.ops.lp_metrics`)."""
        self.registry.register(LpCollector(strategies))

    def watch_edges(self, strategies: Callable[[], list[Any]], clock: Clock) -> None:
        """Export the XEMM strategies' rolling edge among `strategies()` (`bot.ops.edge_metrics`)."""
        self.registry.register(EdgeCollector(strategies, clock))

    def watch_hedges(self, strategies: Callable[[], list[Any]]) -> None:
        """Export the cross-venue hedge counters among `strategies()` (`bot.ops.hedge_metrics`)."""
        self.registry.register(HedgeCollector(strategies))

    def bind(self, rt: Runtime) -> None:
        """Start exporting the started bot's own totals."""
        if self._state is None:
            self.registry.register(_BotCollector(rt, self))
        self._state = rt.state

    # ---- recorded as it happens -------------------------------------------------------------

    def on_round_trip(self, market: Market, op: str, sent_ns: int, answered_ns: int) -> None:
        self.venue_latency_s.labels(market.venue, op).observe((answered_ns - sent_ns) / NS_PER_S)
        state = self._state
        if op == "place" and state is not None:
            slot = state.slot(market.venue, market.symbol)
            if slot is not None and state.last_book_ns[slot] > 0:
                age_s = (sent_ns - int(state.last_book_ns[slot])) / NS_PER_S
                self.event_to_order_s.labels(market.key).observe(max(age_s, 0.0))

    def on_fill(self, fill: Fill, market: Market, mid: Decimal | None) -> None:
        """Spread captured: how far inside the mid we traded, times size (negative if outside)."""
        if mid is None:
            return
        price, size = market.price(fill.price_ticks), market.size(fill.size_lots)
        edge = (mid - price) if fill.side is Side.BUY else (price - mid)
        self.spread_captured[market.key] = self.spread_captured.get(market.key, Decimal(0)) + edge * size

    def rate_limit_wait(self, venue: str, seconds: float) -> None:
        self.rate_limit_waits.labels(venue).inc()
        self.rate_limit_wait_s.labels(venue).inc(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _BotCollector(Collector):
    def __init__(self, rt: Runtime, metrics: BotMetrics) -> None:
        self.rt = rt
        self.metrics = metrics
        self.started_ns = rt.clock.now_ns()

    def collect(self) -> Iterator[Metric]:
        rt = self.rt
        orders, engine, guard = rt.orders, rt.engine, rt.risk_guard
        c = orders.counters
        for name, value, doc in (
            ("mmbot_orders_placed", c.placed, "Orders acknowledged by a venue"),
            ("mmbot_orders_cancelled", c.cancelled, "Orders cancelled"),
            ("mmbot_orders_rejected", c.rejected, "Orders rejected by a venue"),
            ("mmbot_orders_risk_refused", c.risk_refused, "Quotes refused by pre-trade risk checks"),
            ("mmbot_quotes_self_trade_held", c.self_trade_held, "Quotes held back: would cross our own"),
            (
                "mmbot_self_trade_cancelled",
                orders.self_trade.cancelled_for_takers,
                "Our resting orders cancelled out of our own taker's way",
            ),
            (
                "mmbot_self_trade_capped",
                orders.self_trade.capped_takers,
                "Takers capped short of our own resting orders",
            ),
            ("mmbot_fills", c.fills, "Fills stored"),
            ("mmbot_events", engine.events_processed, "Venue events processed"),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        yield CounterMetricFamily("mmbot_kill_switch_trips", "Kill-switch trips", value=guard.trips)
        yield GaugeMetricFamily("mmbot_paused", "1 while quoting is paused", value=int(engine.paused))
        yield GaugeMetricFamily("mmbot_open_orders", "Orders tracked live", value=len(orders.live))
        state = engine.state
        inventory = GaugeMetricFamily(
            "mmbot_inventory_base", "Position vs target, base units", labels=["market"]
        )
        mid = GaugeMetricFamily("mmbot_mid_price", "Mid price", labels=["market"])
        pnl = GaugeMetricFamily("mmbot_pnl_quote", "Mark-to-market PnL since start", labels=["market"])
        book_age = GaugeMetricFamily("mmbot_book_age_seconds", "Age of the latest book", labels=["market"])
        spread = GaugeMetricFamily(
            "mmbot_spread_captured_quote", "Sum of (mid - price) x size over our fills", labels=["market"]
        )
        now_ns = rt.clock.now_ns()
        for slot, m in enumerate(state.markets):
            inventory.add_metric([m.key], float(m.size(int(state.position_lots[slot]))))
            m_mid = state.mid_decimal(slot)
            if m_mid is not None:
                mid.add_metric([m.key], float(m_mid))
                pnl.add_metric([m.key], float(orders.pnl[slot].pnl_at(m_mid)))
            if state.last_book_ns[slot] > 0:
                book_age.add_metric([m.key], (now_ns - int(state.last_book_ns[slot])) / NS_PER_S)
            spread.add_metric([m.key], float(self.metrics.spread_captured.get(m.key, Decimal(0))))
        yield from (inventory, mid, pnl, book_age, spread)
        yield from _quote_inputs(engine.strategies, state)
        total = float(guard.pnl_total())
        if math.isfinite(total):
            yield GaugeMetricFamily("mmbot_pnl_total_quote", "PnL incl. start inventory", value=total)
        connected = GaugeMetricFamily(
            "mmbot_venue_connected", "1 if the venue is connected", labels=["venue"]
        )
        for name in rt.venues:
            connected.add_metric([name], int(engine.venue_connected(name)))
        yield connected
        uptime_s = (now_ns - self.started_ns) / NS_PER_S
        yield GaugeMetricFamily("mmbot_uptime_seconds", "Seconds since start", value=uptime_s)


class _TaskCollector(Collector):
    """Read at scrape time: the supervisor's entries (tasks, streams, jobs, strategies)."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("mmbot_task_up", "1 while a supervised task runs and works", labels=["task"])
        restarts = CounterMetricFamily(
            "mmbot_task_restarts", "Restarts of a supervised task after it died", labels=["task"]
        )
        for status in self.supervisor.statuses():
            up.add_metric([status.name], int(status.state is TaskState.UP))
            restarts.add_metric([status.name], status.restarts)
        yield up
        yield restarts


def _quote_inputs(strategies: list[Any], state: MarketState) -> Iterator[Metric]:
    """Per-market gauges `mmbot_quote_<name>` of every strategy that exposes its model inputs."""
    families: dict[str, GaugeMetricFamily] = {}
    for qs in strategies:
        strategy = qs.strategy
        if not isinstance(strategy, QuoteDiagnostics):
            continue
        keys = [state.markets[int(slot)].key for slot in strategy.slots]
        for name, values in strategy.quote_diagnostics().items():
            family = families.get(name)
            if family is None:
                family = GaugeMetricFamily(
                    f"mmbot_quote_{name}", f"Quote model input: {name}", labels=["market"]
                )
                families[name] = family
            for key, value in zip(keys, values.tolist(), strict=True):
                if math.isfinite(value):
                    family.add_metric([key], value)
    yield from families.values()
