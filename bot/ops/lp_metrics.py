"""LP gauges, read at scrape time from the LP managers' and hedgers' own books (nothing is recorded
in their loops): per pool and per open position, the attribution of `strategies.lp.accounts`
(fees − LVR − gas − swap − hedge = net, token1), the open range, and each hedger's costs.

    mmbot_lp_pool_token1{strategy, pool, component}         since the bot started, all positions
    mmbot_lp_position_token1{strategy, pool, position, component}   the open position (token id)
    mmbot_lp_range_lower_price / _upper_price{strategy, pool}
    mmbot_lp_unadoptable_position{strategy, pool, position}   1 per stored position that could not
                                                             be adopted at start (its pool unmanaged)
    mmbot_lp_sigma_annual{strategy, pool, estimate}          σ̂ (long) and the regime switch's short σ̂
    mmbot_lp_vol_switches_total{strategy, pool}              volatility regime switches since start
    mmbot_lp_estimate_rel_error{strategy, pool, estimate}    σ̂'s and the fee rate's standard error over
                                                             the estimate (1: unknown): what an entry waits on
    mmbot_lp_estimates_origin{strategy, pool, origin}        1 for where they started: measured (from
                                                             scratch), resumed (stored), seeded (history)
    mmbot_hedge_cost_quote{strategy, part}                   part: trading (fees, spread, latency), carry

A position's hedge share is what its hedgers charged it (each fill's cost and carry payment split
equally over the positions open then); `mmbot status` shares the stored hedge trades the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from amm.attribution import PnlAttribution
from strategies.lp.hedger import Hedger
from strategies.lp.manager import LpManager

COMPONENTS: tuple[tuple[str, Callable[[PnlAttribution], float]], ...] = (
    ("fees", lambda a: a.fees_token1),
    ("lvr", lambda a: a.lvr_token1),
    ("gas", lambda a: a.gas_token1),
    ("swap", lambda a: a.swap_cost_token1),
    ("hedge", lambda a: a.hedge_cost_token1),
    ("net", lambda a: a.net_token1),
)


POOL_LABELS = ["strategy", "pool", "component"]
POSITION_LABELS = ["strategy", "pool", "position", "component"]


class LpCollector(Collector):
    """`strategies()`: the bot's active strategies now (a hot reload replaces them)."""

    def __init__(self, strategies: Callable[[], list[object]]) -> None:
        self.strategies = strategies

    def collect(self) -> Iterator[Metric]:
        active = self.strategies()
        hedgers = [s for s in active if isinstance(s, Hedger)]
        pool = GaugeMetricFamily(
            "mmbot_lp_pool_token1", "LP attribution since start, token1", labels=POOL_LABELS
        )
        position = GaugeMetricFamily(
            "mmbot_lp_position_token1", "Open LP position's attribution, token1", labels=POSITION_LABELS
        )
        lower = GaugeMetricFamily(
            "mmbot_lp_range_lower_price", "LP range lower bound", labels=POOL_LABELS[:2]
        )
        upper = GaugeMetricFamily(
            "mmbot_lp_range_upper_price", "LP range upper bound", labels=POOL_LABELS[:2]
        )
        unadoptable = GaugeMetricFamily(
            "mmbot_lp_unadoptable_position",
            "Stored LP position that could not be adopted (its pool is not managed)",
            labels=["strategy", "pool", "position"],
        )
        sigma = GaugeMetricFamily(
            "mmbot_lp_sigma_annual", "LP manager's annual σ̂: long, and the regime switch's short",
            labels=["strategy", "pool", "estimate"],
        )  # fmt: skip
        switches = CounterMetricFamily(
            "mmbot_lp_vol_switches", "Volatility regime switches seen (estimates restarted)",
            labels=["strategy", "pool"],
        )  # fmt: skip
        rel_error = GaugeMetricFamily(
            "mmbot_lp_estimate_rel_error", "LP manager's σ̂ and fee rate: standard error over the estimate",
            labels=["strategy", "pool", "estimate"],
        )  # fmt: skip
        origin = GaugeMetricFamily(
            "mmbot_lp_estimates_origin", "Where the LP estimates started: measured, resumed, seeded",
            labels=["strategy", "pool", "origin"],
        )  # fmt: skip
        for lp in (s for s in active if isinstance(s, LpManager)):
            for pool_name, token_ids in lp.unadoptable.items():
                for token_id in token_ids:
                    unadoptable.add_metric([lp.name, pool_name, str(token_id)], 1.0)
            for name, manager in lp.managers.items():

                def hedge(row_id: int) -> float:
                    return sum(h.costs.by_row_id.get(row_id, 0.0) for h in hedgers)

                accounts = list(manager.ledger.accounts.values())
                total = manager.ledger.attribution(sum(hedge(a.row_id) for a in accounts))
                for component, value in COMPONENTS:
                    pool.add_metric([lp.name, name, component], value(total))
                for a in (a for a in accounts if a.open):
                    attribution = a.attribution(hedge(a.row_id))
                    for component, value in COMPONENTS:
                        position.add_metric([lp.name, name, str(a.token_id), component], value(attribution))
                if manager.position is not None:
                    lower.add_metric([lp.name, name], manager.position.choice.price_lower)
                    upper.add_metric([lp.name, name], manager.position.choice.price_upper)
                meter = manager.meter
                sigma.add_metric([lp.name, name, "long"], meter.sigma_annual())
                sigma.add_metric([lp.name, name, "short"], meter.switch.short.sigma_annual(math.nan))
                switches.add_metric([lp.name, name], float(meter.switches))
                rel_error.add_metric([lp.name, name, "sigma"], meter.sigma_rel_error())
                rel_error.add_metric([lp.name, name, "fee"], meter.fee_rel_error())
                origin.add_metric([lp.name, name, manager.estimates_origin], 1.0)
        yield from (pool, position, lower, upper, unadoptable, sigma, switches, rel_error, origin)
        cost = GaugeMetricFamily(
            "mmbot_hedge_cost_quote", "Hedge costs since start", labels=["strategy", "part"]
        )
        for h in hedgers:
            cost.add_metric([h.name, "trading"], h.book.cost)
            cost.add_metric([h.name, "carry"], h.book.carry)
        yield cost
