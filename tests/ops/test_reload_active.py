"""Hot reload of an active strategy (XEMM) while it runs on the simulated clock: a parameter change
restarts it under the new parameters without losing a hedge; removing it hands its market to a
quoting strategy."""

import asyncio
import copy
import logging
from decimal import Decimal

import tomli_w

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import Side
from bot.kernel.store import Store
from strategies.xvenue.store import XvenueLedger
from tests.kit import small_config_dict
from tests.ops.kit import mock_venues, run_with_script, store_path

MAKER, TAKER = "va:BTC/USDT", "vb:BTC/USDT"


def xemm_data(tmp_path):
    data = small_config_dict(store_path(tmp_path))
    data["bot"]["config_poll_interval_s"] = 2
    data["markets"] = [m for m in data["markets"] if m["symbol"] == "BTC/USDT"]
    for venue in data["venues"].values():
        venue["markets"] = [m for m in venue["markets"] if m["symbol"] == "BTC/USDT"]
        venue["order_latency_ms"] = 400  # hedges stay in flight long enough to swap during one
        venue["markets"][0].update(
            noise_taker_rate_per_s=2.0, noise_taker_size_lots=15, volatility_annual=1.5
        )
    data["strategies"] = {
        "x": {
            "kind": "xemm",
            "maker_markets": [MAKER],
            "taker_market": TAKER,
            "min_profitability_bps": 1,
            "hedge_retry_delay_ms": 100,
        }
    }
    return data


def maker_distances_bps(bot, reference="vb"):
    """Each live maker order's distance from the `reference` venue's mid, in bps."""
    state = bot.runtime.engine.state
    mid = state.mid_price[state.slot(reference, "BTC/USDT")]
    out = []
    for o in bot.runtime.orders.live.values():
        if (o.request.venue, o.request.symbol) != ("va", "BTC/USDT"):
            continue
        price = o.request.price_ticks * state.tick_size[state.slot("va", "BTC/USDT")]
        out.append((mid - price) / mid * 1e4 if o.request.side is Side.BUY else (price - mid) / mid * 1e4)
    return out


def signed_base(store, venue):
    return sum(((1 if f.side == "buy" else -1) * Decimal(f.size) for f in store.fills(venue)), Decimal(0))


def test_xemm_parameter_change_restarts_it_and_every_fill_stays_hedged(tmp_path, caplog):
    path = tmp_path / "bot.toml"
    data = xemm_data(tmp_path)
    path.write_text(tomli_w.dumps(data))
    config = validate_config(data)

    async def script(bot):
        seen = {}
        await asyncio.sleep(20)
        first = seen["first"] = bot.active_strategies[0]
        seen["tight"] = min(maker_distances_bps(bot))
        while not (first.hedger and first.hedger.sending):  # swap it mid-hedge: the hard case
            await asyncio.sleep(0.005)
        seen["hedges_in_flight"] = int(first.hedger.sending)
        seen["fills_before"] = len(bot.store.fills("va"))

        wide = copy.deepcopy(data)
        wide["strategies"]["x"]["min_profitability_bps"] = 40
        path.write_text(tomli_w.dumps(wide))
        assert await bot.reload_config()
        seen["hedges_after_swap"] = int(first.hedger.sending)
        await asyncio.sleep(10)
        seen["second"] = bot.active_strategies[0]
        seen["wide"] = maker_distances_bps(bot)
        await asyncio.sleep(20)

        handover = copy.deepcopy(wide)  # XEMM goes; a quoting strategy takes the maker market
        handover["strategies"] = {
            "mm": {"kind": "fixed_spread", "markets": [MAKER], "half_spread_bps": 25, "n_levels": 1}
        }
        path.write_text(tomli_w.dumps(handover))
        await asyncio.sleep(10)
        seen["actives_after_handover"] = list(bot.active_strategies)
        seen["mm"] = maker_distances_bps(bot, reference="va")
        return seen

    async def main():
        venues = mock_venues(config)
        bot = Bot(config, tmp_path, venues=venues, config_path=path)
        out = await run_with_script(bot, 120, script)
        left = await venues["va"].fetch_open_orders()
        for v in venues.values():
            await v.close()
        return out, left

    with caplog.at_level(logging.INFO, logger="mmbot"):
        seen, left = run_simulated(main)

    assert seen["hedges_in_flight"] >= 1 and seen["hedges_after_swap"] == 0
    assert seen["tight"] < 20  # 1 bp + fees: close to the taker mid
    assert seen["second"] is not seen["first"]  # rebuilt under the new parameters
    assert seen["second"].params.min_profitability_bps == 40
    assert seen["wide"] and min(seen["wide"]) > 35  # every maker quote follows the wider edge
    assert seen["actives_after_handover"] == []
    assert seen["mm"] and all(20 < d < 35 for d in seen["mm"])  # the quoting strategy's 25 bps
    assert left == []

    store = Store(config.bot.database_url, config.bot.instance_id)
    trips = XvenueLedger(store).round_trips("x")
    assert seen["fills_before"] >= 3, "no maker fill before the reload: the test proves nothing"
    assert {t.status for t in trips} == {"hedged"}
    trade_ids = {t.maker_trade_id for t in trips}
    xemm_fills = [f for f in store.fills("va") if f.venue_trade_id in trade_ids]
    # every XEMM maker fill hedged exactly once across the restart: taker fills offset maker fills
    # (a part may be closed by an opposite maker fill: netted, no hedge needed)
    hedged = sum(Decimal(t.hedged_base) + Decimal(t.netted_base) for t in trips)
    assert hedged == sum(Decimal(f.size) for f in xemm_fills)
    assert abs(
        signed_base(store, "vb")
        + sum(((1 if f.side == "buy" else -1) * Decimal(f.size) for f in xemm_fills), Decimal(0))
    ) <= Decimal("0.001")
    messages = [r.getMessage() for r in caplog.records]
    assert any("strategies.x: active strategy restarted" in m for m in messages)
    assert any("strategies.x: active strategy stopped" in m for m in messages)


def test_lp_manager_and_hedger_restart_keeps_the_open_position(tmp_path):
    """A changed LP manager and hedger restart; the open position is adopted, not re-minted."""
    from tests.lp.lp_kit import lp_hedge_config_dict

    path = tmp_path / "bot.toml"
    data = lp_hedge_config_dict(store_path(tmp_path))
    data["bot"]["config_poll_interval_s"] = 2
    path.write_text(tomli_w.dumps(data))
    config = validate_config(data)

    async def script(bot):
        seen = {}
        await asyncio.sleep(180)  # the entry comes at ~150 s (its gate also judges σ̂ over the fee window)
        lp, hedger = bot.active_strategies
        seen["position"] = lp.managers["uni"].position
        changed = copy.deepcopy(data)
        changed["strategies"]["lp"]["check_interval_s"] = 10
        changed["strategies"]["hedge"]["band"] = 0.2
        path.write_text(tomli_w.dumps(changed))
        await asyncio.sleep(60)
        seen["actives"] = {s.name: s for s in bot.active_strategies}
        seen["old"] = (lp, hedger)
        seen["jobs"] = [spec.name for spec in bot.scheduler.jobs if spec.name.startswith("lp:")]
        return seen

    async def main():
        bot = Bot(config, tmp_path, config_path=path)
        return await run_with_script(bot, 260, script)

    seen = run_simulated(main)
    before = seen["position"]
    assert before is not None, "no position opened before the reload: the test proves nothing"
    lp, hedger = seen["actives"]["lp"], seen["actives"]["hedge"]
    assert (lp, hedger) != seen["old"] and lp is not seen["old"][0] and hedger is not seen["old"][1]
    assert lp.params.check_interval_s == 10 and hedger.params.band == 0.2
    assert seen["jobs"] == ["lp:lp"]  # the scheduled LP round now wakes the new instance
    assert 5 <= lp.rounds <= 8  # every 10 s over the 60 s since the swap
    adopted = lp.managers["uni"].position
    assert adopted is not None and adopted.token_id == before.token_id
    assert adopted.liquidity_raw == before.liquidity_raw and adopted.row_id == before.row_id
    from bot.kernel.lp_store import LpStore

    lp_store = LpStore(Store(config.bot.database_url, config.bot.instance_id))
    rows = lp_store.positions("lp")
    assert [r.token_id for r in rows] == [before.token_id]  # one position ever: adopted, not re-minted
    # Opened less than the 600 s minimum interval before the end: the adopted position keeps its
    # last action's time, so its entry (priced on the fee rate less its error) is not narrowed at once.
    assert [a.action for a in lp_store.actions("lp", executed=True)] == ["open"]
    # The new instance resumed the old one's estimates (stored at the drain), then measured on:
    # every round one more σ̂ return, but the first (a resume starts new returns).
    old_meter, new_meter = seen["old"][0].managers["uni"].meter, lp.managers["uni"].meter
    assert old_meter.vol.samples > 0
    assert new_meter.vol.samples == old_meter.vol.samples + lp.rounds - 1
    assert lp.managers["uni"].estimates_origin == "resumed"


def test_arbitrage_swapped_mid_trade_finishes_both_legs_first(tmp_path):
    from connectors.mock.venue import MockVenue
    from tests.xvenue.test_amm_arbitrage import BotWithPool, _pool, config_data

    path = tmp_path / "bot.toml"
    data = config_data(tmp_path)
    data["bot"]["config_poll_interval_s"] = 0  # reloads only when the test asks
    path.write_text(tomli_w.dumps(data))
    config = validate_config(data)
    pool = _pool(3030.0)  # 1% over the CEX: the arbitrage trades at once

    async def script(bot):
        seen = {}
        old = bot.active_strategies[0]
        while old._idle.is_set():  # a trade is in progress: swap now
            await asyncio.sleep(0.001)
        changed = copy.deepcopy(data)
        changed["strategies"]["arb"]["slippage_buffer_bps"] = 4
        path.write_text(tomli_w.dumps(changed))
        assert await bot.reload_config()
        seen["old_idle_after_swap"] = old._idle.is_set()
        seen["new"] = bot.active_strategies[0]
        seen["old"] = old
        return seen

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venue = MockVenue("va", config.venues["va"], clock)
        bot = BotWithPool(config, tmp_path, venues={"va": venue}, config_path=path)
        bot.pool = pool
        out = await run_with_script(bot, 20, script)
        await venue.close()
        return out

    seen = run_simulated(main)
    assert seen["old_idle_after_swap"] and seen["new"] is not seen["old"]
    assert seen["new"].params.slippage_buffer_bps == 4
    store = Store(config.bot.database_url, config.bot.instance_id)
    trades = XvenueLedger(store).arb_trades("arb")
    assert trades and {t.status for t in trades} == {"done"}  # the swapped trade completed both legs
    cex_bought = sum(Decimal(f.size) for f in store.fills("va") if f.side == "buy")
    assert (
        cex_bought
        == sum(Decimal(t.cex_filled_base) for t in trades)
        == sum(Decimal(t.size_base) for t in trades)
    )
    assert pool.wallet0 == 5 * 10**18 - sum(int(t.pool_amount_in) for t in trades)
