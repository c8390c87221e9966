"""The arbitrage's immediate legs in /metrics: a leg the venue answers 429 is counted by error class
on its CEX market, next to the settle step's counts (a real executor, order manager and mock venue
on the simulated clock; XEMM's counters are read from a running bot in
tests/xvenue/test_xemm_facade_faults.py)."""

from prometheus_client.parser import text_string_to_metric_families

from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import OrderRequest, Side
from bot.core.events import OrderUpdate
from bot.ops.metrics import BotMetrics
from connectors.base import RateLimited
from connectors.mock.venue import MockVenue
from strategies.xvenue.amm_arbitrage import AmmArbitrageParams, AmmArbitrageStrategy
from strategies.xvenue.hedging import HedgeExecutor
from strategies.xvenue.store import XvenueLedger
from tests.kit.mock_market import mock_market, mock_venue_params


class BusyVenue(MockVenue):
    """The real mock venue, answering its first immediate order 429 (Retry-After 0.3 s)."""

    busy = 1

    async def place_order(self, request: OrderRequest) -> OrderUpdate:
        if request.immediate_or_cancel and self.busy > 0:
            self.busy -= 1
            raise RateLimited(self.name, "429 (injected)", retry_after_s=0.3)
        return await super().place_order(request)


def test_a_rate_limited_arbitrage_leg_is_counted_on_its_cex_market(tmp_path):
    async def main():
        venue = BusyVenue("vb", mock_venue_params("vb", "0.1", 1), LoopClock())
        m = await mock_market(venue, tmp_path, with_engine=False)
        state, store, orders = m.state, m.store, m.orders
        params = AmmArbitrageParams(
            kind="amm_arbitrage", pool="uni", cex_market="vb:BTC/USDT", max_trade_base=1.0
        )
        arb = AmmArbitrageStrategy("arb", params, state)
        arb.hedger = HedgeExecutor(orders, XvenueLedger(store))
        ask = venue.exchange.depth("BTC/USDT", 1)[1][0][0]
        result = await arb.hedger.execute(
            0, Side.BUY, 3, float(ask), max_slippage_bps=10, max_attempts=3, retry_delay_s=0.05
        )
        metrics = BotMetrics()
        metrics.watch_hedges(lambda: [arb, object()])
        text = metrics.render().decode()
        await venue.close()
        return result, text

    result, text = run_simulated(main)
    assert (result.attempts, result.filled_lots) == (2, 3)  # the 429, then the leg
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    cex = (("market", "vb:BTC/USDT"), ("strategy", "arb"), ("venue", "vb"))
    assert samples[("mmbot_xvenue_hedge_errors_total", (("error", "RateLimited"), *cex))] == 1
    settle = {dict(k[1])["step"]: v for k, v in samples.items() if k[0] == "mmbot_xvenue_settle_total"}
    # no user stream here: the leg's fills came by one REST catch-up, its outcome from the answer
    assert settle == {"lookups": 0, "rest_catch_ups": 1, "catch_up_failures": 0}
    assert not [k for k in samples if k[0].startswith("mmbot_xemm_")]  # an arbitrage has no XEMM loop
