"""XEMM edge gauges, read at scrape time from each XEMM strategy's rolling window
(`strategies.xvenue.edge`; nothing is recorded in the hedge path):

    mmbot_xemm_realised_edge_bps{strategy}        Σ edge / Σ maker notional over the window
    mmbot_xemm_edge_shortfall_bps{strategy}       hedges vs the quotes' assumed hedge price (+ = worse)
    mmbot_xemm_edge_window_round_trips{strategy}  round trips in the window
    mmbot_xemm_edge_alerting{strategy}            1 while the window is below its alert threshold
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.core.clock import Clock
from strategies.xvenue.edge import EdgeMonitor


@runtime_checkable
class MeasuresEdge(Protocol):
    """An active strategy that measures its round trips against its quotes' assumed hedge."""

    name: str
    edges: EdgeMonitor


class EdgeCollector(Collector):
    """`strategies()`: the bot's active strategies now (a hot reload replaces them)."""

    def __init__(self, strategies: Callable[[], list[object]], clock: Clock) -> None:
        self.strategies = strategies
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        labels = ["strategy"]
        edge = GaugeMetricFamily(
            "mmbot_xemm_realised_edge_bps", "Realised edge over the rolling window, bps", labels=labels
        )
        shortfall = GaugeMetricFamily(
            "mmbot_xemm_edge_shortfall_bps",
            "Hedges vs the quotes' assumed hedge price over the window, bps (+ = worse)",
            labels=labels,
        )
        trips = GaugeMetricFamily(
            "mmbot_xemm_edge_window_round_trips", "Round trips in the edge window", labels=labels
        )
        alerting = GaugeMetricFamily(
            "mmbot_xemm_edge_alerting", "1 while the window's edge is below its threshold", labels=labels
        )
        now_ns = self.clock.now_ns()
        for strategy in self.strategies():
            if not isinstance(strategy, MeasuresEdge):
                continue
            stats = strategy.edges.stats(now_ns)
            trips.add_metric([strategy.name], stats.round_trips)
            alerting.add_metric([strategy.name], int(strategy.edges.alerting))
            if stats.realised_edge_bps is not None and stats.shortfall_bps is not None:
                edge.add_metric([strategy.name], stats.realised_edge_bps)
                shortfall.add_metric([strategy.name], stats.shortfall_bps)
        yield from (edge, shortfall, trips, alerting)
