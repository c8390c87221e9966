"""Cross-venue hedge counters, read at scrape time from each XEMM strategy's hedging loop
(`strategies.xvenue.hedge_worker`) and each arbitrage's immediate-leg executor
(`strategies.xvenue.hedging`); nothing is recorded in the hedge path. Labels: strategy, and the
venue and market (venue:symbol) the hedges trade on (XEMM's taker market, the arbitrage's CEX one):

    mmbot_xemm_hedge_orders_total{..., outcome}   sent, filled (traded ≥ 1 lot), rejected (by the
                                                  venue), risk_refused, unknown_outcome (after the answer)
    mmbot_xemm_hedge_escalations_total{...}       alerts raised, maker markets paused
    mmbot_xvenue_hedge_errors_total{..., error}   venue errors that ended a hedge order or leg, by class
    mmbot_xvenue_settle_total{..., step}          lookups of unknown outcomes, rest_catch_ups of
                                                  unstreamed fills, catch_up_failures

Counters start from zero with each strategy (a restart, or a hot reload that replaces it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.core.domain import Market
from strategies.xvenue.amm_arbitrage import AmmArbitrageStrategy
from strategies.xvenue.settle import SettleCounters
from strategies.xvenue.xemm import XemmStrategy

LABELS = ["strategy", "venue", "market"]


class HedgeCollector(Collector):
    """`strategies()`: the bot's active strategies now (a hot reload replaces them)."""

    def __init__(self, strategies: Callable[[], list[object]]) -> None:
        self.strategies = strategies

    def collect(self) -> Iterator[Metric]:
        orders = CounterMetricFamily(
            "mmbot_xemm_hedge_orders", "XEMM hedge orders by outcome", labels=[*LABELS, "outcome"]
        )
        escalations = CounterMetricFamily(
            "mmbot_xemm_hedge_escalations", "XEMM hedge episodes escalated", labels=LABELS
        )
        errors = CounterMetricFamily(
            "mmbot_xvenue_hedge_errors", "Venue errors ending a hedge order or leg", labels=[*LABELS, "error"]
        )
        settle = CounterMetricFamily(
            "mmbot_xvenue_settle", "Hedge outcome lookups and REST fill catch-ups", labels=[*LABELS, "step"]
        )
        for strategy in self.strategies():
            if isinstance(strategy, XemmStrategy) and strategy.hedger is not None:
                worker, key = strategy.hedger, _labels(strategy.name, strategy.hedger.taker)
                c = worker.counters
                for outcome, value in (
                    ("sent", c.attempts), ("filled", c.filled), ("rejected", c.rejected),
                    ("risk_refused", c.risk_refused), ("unknown_outcome", c.unknown_outcome),
                ):  # fmt: skip
                    orders.add_metric([*key, outcome], value)
                escalations.add_metric(key, c.escalations)
                by_class = {"RateLimited": c.rate_limited, "AuthError": c.auth_failed, **c.errors}
                _add_errors(errors, key, by_class)
                _add_settle(settle, key, worker.settler.counters)
            elif isinstance(strategy, AmmArbitrageStrategy) and strategy.hedger is not None:
                key = _labels(strategy.name, strategy.market)
                _add_errors(errors, key, strategy.hedger.errors)
                _add_settle(settle, key, strategy.hedger.settler.counters)
        yield from (orders, escalations, errors, settle)


def _labels(strategy: str, market: Market) -> list[str]:
    return [strategy, market.venue, market.key]


def _add_errors(family: CounterMetricFamily, key: list[str], by_class: dict[str, int]) -> None:
    for error, value in sorted(by_class.items()):
        family.add_metric([*key, error], value)


def _add_settle(family: CounterMetricFamily, key: list[str], c: SettleCounters) -> None:
    for step, value in (
        ("lookups", c.lookups),
        ("rest_catch_ups", c.rest_catch_ups),
        ("catch_up_failures", c.catch_up_failures),
    ):
        family.add_metric([*key, step], value)
