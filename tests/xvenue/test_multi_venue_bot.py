"""multi_venue_mm in the whole bot on two mock venues: the core's Avellaneda quotes, never self-crossing."""

import asyncio
from decimal import Decimal

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import run_simulated
from bot.core.ids import client_order_prefix
from bot.kernel.store import Store
from tests.kit import small_config_dict
from tests.ops.kit import mock_venues, run_with_script


def test_multi_venue_avellaneda_quotes_both_venues_and_never_crosses_itself(tmp_path):
    data = small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite")
    data["markets"] = [m for m in data["markets"] if m["symbol"] == "BTC/USDT"]
    for venue in data["venues"].values():
        venue["markets"] = [m for m in venue["markets"] if m["symbol"] == "BTC/USDT"]
        venue["markets"][0].update(noise_taker_rate_per_s=2.0, noise_taker_size_lots=5, volatility_annual=1.0)
    data["strategies"] = {
        "xmm": {
            "kind": "multi_venue_mm",
            "markets": ["va:BTC/USDT", "vb:BTC/USDT"],
            "model": "avellaneda",
            "gamma": 0.002,
            "levels": 2,
            "local_anchor_weight": 1.0,  # each venue around its own mid: only the clamp keeps them apart
            "refresh_tolerance_bps": 1,
            "volatility": {"fallback_annual_vol": 1.0},
        }
    }
    config = validate_config(data)
    prefix = client_order_prefix(config.bot.instance_id)

    async def script(bot: Bot):
        strategy = bot.runtime.engine.strategies[0].strategy
        compute = strategy.targets
        calls = []

        def targets(state, now_ns):  # every target set the engine gets, as it gets it
            t = compute(state, now_ns)
            bids = t.bid_price_ticks[t.bid_size_lots > 0]
            asks = t.ask_price_ticks[t.ask_size_lots > 0]
            calls.append((int(bids.max()) if bids.size else None, int(asks.min()) if asks.size else None))
            return t

        strategy.targets = targets
        samples = []
        for _ in range(40):
            await asyncio.sleep(1.0)
            quoted = set()
            for name, venue in bot.venues.items():
                for o in await venue.fetch_open_orders():
                    if o.client_order_id.startswith(prefix):
                        quoted.add((name, o.side))
            samples.append(quoted)
        return calls, samples

    async def main():
        venues = mock_venues(config)
        bot = Bot(config, tmp_path, venues=venues)
        out = await run_with_script(bot, 45, script)
        for v in venues.values():
            await v.close()
        return out

    calls, samples = run_simulated(main)
    assert sum(len(q) == 4 for q in samples) >= 5  # both venues quoted on both sides
    two_sided = [(bid, ask) for bid, ask in calls if bid is not None and ask is not None]
    assert len(two_sided) > 50
    # every target set: our best bid on any venue is below our best ask on any venue, although
    # each venue is quoted around its own mid and the two mids drift bps apart
    assert all(bid < ask for bid, ask in two_sided)
    fills = Store(config.bot.database_url, config.bot.instance_id).fills()
    assert {f.venue for f in fills} == {"va", "vb"}
    for venue in ("va", "vb"):  # each venue's own position limit (0.1 BTC) holds
        net = sum((1 if f.side == "buy" else -1) * Decimal(f.size) for f in fills if f.venue == venue)
        assert abs(net) <= Decimal("0.1")
