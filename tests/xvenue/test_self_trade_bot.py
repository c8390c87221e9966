"""Self-trade prevention on LIVE orders, in the whole bot on fast mock venues, sampled on every event.

The targets never cross (tests/xvenue/test_multi_venue.py); these check the orders themselves,
including those pending new or pending cancel (they can still fill), after every event the engine
applies, with venues on different ticks.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from bot.app.config import AppConfig, validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import run_simulated
from bot.core.domain import Side
from bot.core.events import VenueEvent
from bot.kernel.store import Store
from strategies.xvenue.edge import ALERT_REASON
from tests.kit import small_config_dict
from tests.ops.kit import mock_venues, run_with_script


class CrossingSampler:
    """An engine listener: after every event, our best live bid of each venue against our best
    live ask of every other venue, in price (Decimal: the venues' ticks differ)."""

    def __init__(self, bot: Bot) -> None:
        self.orders = bot.runtime.orders
        self.samples = 0
        self.crossed: list[tuple[int, str, Decimal, str, Decimal]] = []

    def __call__(self, event: VenueEvent) -> None:
        self.samples += 1
        state = self.orders.state
        bids: dict[str, Decimal] = {}
        asks: dict[str, Decimal] = {}
        for order in self.orders.live.values():
            r = order.request
            if r.immediate_or_cancel:
                continue  # a hedge never rests
            price = state.markets[state.slot_of[(r.venue, r.symbol)]].price(r.price_ticks)
            if r.side is Side.BUY:
                bids[r.venue] = max(bids.get(r.venue, price), price)
            else:
                asks[r.venue] = min(asks.get(r.venue, price), price)
        for bid_venue, bid in bids.items():
            for ask_venue, ask in asks.items():
                if bid_venue != ask_venue and bid >= ask:
                    self.crossed.append((self.samples, bid_venue, bid, ask_venue, ask))


def _run(config: AppConfig, tmp_path, duration_s: float, moves: Callable[[Bot], Awaitable[Any]]):
    async def script(bot: Bot) -> CrossingSampler:
        sampler = CrossingSampler(bot)
        bot.runtime.engine.listeners.append(sampler)
        await moves(bot)
        bot.runtime.engine.listeners.remove(sampler)
        return sampler

    async def main() -> CrossingSampler:
        venues = mock_venues(config)
        bot = Bot(config, tmp_path, venues=venues)
        out = await run_with_script(bot, duration_s, script)
        for v in venues.values():
            await v.close()
        return out

    return run_simulated(main)


def _btc_only(data: dict[str, Any], **market: Any) -> None:
    data["markets"] = [m for m in data["markets"] if m["symbol"] == "BTC/USDT"]
    for name, venue in data["venues"].items():
        venue["markets"] = [m for m in venue["markets"] if m["symbol"] == "BTC/USDT"]
        venue["markets"][0].update(tick_size="0.5" if name == "vb" else "0.1", **market)


# Valued on the venues' own books (our quotes in them, the old default) the mids chase our own
# quotes, so orders churn more: the same activity takes a few more seconds without ourselves.
@pytest.mark.parametrize(("ex_own", "seconds"), [(False, 15.0), (True, 18.0)])
def test_multi_venue_live_bid_never_at_or_above_our_live_ask_on_the_other_venue(tmp_path, ex_own, seconds):
    data = small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite")
    # fast: the two mids move several ticks between two requotes, independently of each other
    _btc_only(data, noise_taker_rate_per_s=4.0, noise_taker_size_lots=5, volatility_annual=4.0)
    data["strategies"] = {
        "xmm": {
            "kind": "multi_venue_mm",
            "markets": ["va:BTC/USDT", "vb:BTC/USDT"],
            "model": "fixed_spread",
            "bid_spread_bps": 1,
            "ask_spread_bps": 1,
            "levels": 2,
            "level_spacing_bps": 1,
            "local_anchor_weight": 1.0,  # each venue around its own mid
            "refresh_tolerance_ticks": 0,
            "min_requote_interval_ms": 50,
            "fair_ex_own_orders": ex_own,
        }
    }
    config = validate_config(data)
    sampler = _run(config, tmp_path, seconds + 1, lambda bot: asyncio.sleep(seconds))
    assert sampler.samples > 3_000
    assert sampler.crossed == []
    assert sampler.orders.counters.self_trade_held > 0  # the guard had work to do
    fills = Store(config.bot.database_url, config.bot.instance_id).fills()
    assert {f.venue for f in fills} == {"va", "vb"}
    assert len(fills) >= 40


def test_xemm_maker_venues_never_cross_each_other_when_the_taker_book_jumps(tmp_path):
    data = small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite", venues=("va", "vb", "vc"))
    _btc_only(data, noise_taker_rate_per_s=2.0, noise_taker_size_lots=15, volatility_annual=1.5)
    data["strategies"] = {
        "x": {
            "kind": "xemm",
            "maker_markets": ["va:BTC/USDT", "vc:BTC/USDT"],
            "taker_market": "vb:BTC/USDT",
            "min_profitability_bps": 1,
            "hedge_max_slippage_bps": 60,  # a hedge may chase a jump
        }
    }
    config = validate_config(data)

    async def jumps(bot: Bot) -> None:
        for i in range(18):  # the whole market jumps 40 bps, up then down, every 1.5 s
            await asyncio.sleep(1.5)
            for venue in bot.venues.values():
                venue.shock_fair_price("BTC/USDT", 1.004 if i % 2 == 0 else 1 / 1.004)  # type: ignore[attr-defined]

    # 30 s: a maker with a fill to hedge pulls its quotes within that fill's event, so fewer
    # quotes rest through a jump and it takes more jumps for the guard to find a cross to hold
    sampler = _run(config, tmp_path, 30, jumps)
    assert sampler.samples > 1_000
    assert sampler.crossed == []
    assert sampler.orders.counters.self_trade_held > 0
    store = Store(config.bot.database_url, config.bot.instance_id)
    # every maker fill hedged: both makers quoted throughout (the jumps are correlated flow: the
    # edge alert of strategies.xvenue.edge may speak, no hedge alert)
    alerts = [json.loads(e.detail)["reason"] for e in store.events("alert")]
    assert set(alerts) <= {ALERT_REASON}
    maker_fills = [f for f in store.fills() if f.venue != "vb"]
    assert {f.venue for f in maker_fills} == {"va", "vc"}
    assert len(maker_fills) >= 20
