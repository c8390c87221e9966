"""XEMM's edge against the hedge price its quotes assumed (#22 item 7): correlated flow on the
simulated clock (both venues jump together, so every maker fill comes with the move and its hedge
trades after it) is named per round trip and raises the rolling-window alert once."""

import asyncio
import json
from decimal import Decimal

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from bot.core.domain import Side
from bot.kernel.store import Store
from connectors.mock.venue import MockVenue
from strategies.xvenue.edge import ALERT_REASON, edge_rows, shortfall_bps
from strategies.xvenue.store import XvenueLedger
from tests.kit import small_config_dict
from tests.ops.kit import run_with_script

JUMP_BPS = 30  # both venues at the same instant: more than our quotes' distance from the taker book
JUMPS = 8


def _config(tmp_path):
    data = small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite")
    data["markets"] = [m for m in data["markets"] if m["symbol"] == "BTC/USDT"]
    for venue in data["venues"].values():
        venue["markets"] = [m for m in venue["markets"] if m["symbol"] == "BTC/USDT"]
        venue["markets"][0].update(noise_taker_rate_per_s=0.5, volatility_annual=0.3)
    data["strategies"] = {
        "x": {
            "kind": "xemm",
            "maker_markets": ["va:BTC/USDT"],
            "taker_market": "vb:BTC/USDT",
            "min_profitability_bps": 2,
            "hedge_max_slippage_bps": 80,  # the hedge follows the move: the loss is the shortfall
            "edge_alert": {"window_s": 60, "min_round_trips": 5, "alert_below_bps": 0},
        }
    }
    return validate_config(data)


def test_correlated_flow_names_each_round_trips_shortfall_and_raises_the_edge_alert(tmp_path):
    config = _config(tmp_path)
    factor = 1 + JUMP_BPS / 1e4

    async def jumps(bot: Bot) -> None:
        await asyncio.sleep(2.0)  # both books and our quotes up
        for i in range(JUMPS):  # down, up, down...: each jump runs through the maker quote ahead
            await asyncio.sleep(0.75)
            for venue in bot.venues.values():
                venue.shock_fair_price("BTC/USDT", 1 / factor if i % 2 == 0 else factor)  # type: ignore[attr-defined]

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venues = {name: MockVenue(name, config.venues[name], clock) for name in ("va", "vb")}
        bot = Bot(config, tmp_path, venues=venues)
        await run_with_script(bot, JUMPS * 0.75 + 3, jumps)
        for v in venues.values():
            await v.close()

    run_simulated(main)
    store = Store(config.bot.database_url, config.bot.instance_id)
    trips = {t.id: t for t in XvenueLedger(store).round_trips("x")}
    rows = edge_rows(store, "x")
    # one edge row per hedged round trip, measured against the filled quote's own assumption
    assert len(rows) == len(trips) == JUMPS
    assert {t.status for t in trips.values()} == {"hedged"}
    assert [r.maker_side for r in rows] == ["buy", "sell"] * (JUMPS // 2)  # down fills bids, up asks
    for r in rows:
        trip = trips[r.round_trip_id]
        assert r.assumed_from == "quote"
        realised = Decimal(trip.hedge_notional) / Decimal(trip.hedged_base)
        assert Decimal(r.realised_hedge_price) == realised
        assert r.realised_edge_bps == trip.realised_edge_bps
        assert r.shortfall_bps == shortfall_bps(Side(r.maker_side), Decimal(r.assumed_hedge_price), realised)
        # the hedge traded a jump's worth worse than the quote assumed; the quote kept its margin
        assert JUMP_BPS - 3 < r.shortfall_bps < JUMP_BPS + 3
        assert r.realised_edge_bps < -(JUMP_BPS - 10)
    # the alert: once, when the window first held min_round_trips, with the stored rows' figures
    alerts = [json.loads(e.detail) for e in store.events("alert")]
    assert [a["reason"] for a in alerts] == [ALERT_REASON]
    first = rows[:5]
    notional = [Decimal(r.maker_price) * Decimal(r.size_base) for r in first]
    edge = sum(Decimal(trips[r.round_trip_id].realised_edge_quote) for r in first)
    assert alerts[0]["round_trips"] == 5
    assert alerts[0]["realised_edge_bps"] == round(float(edge / sum(notional) * 10_000), 4)
    weighted = sum(n * Decimal(repr(r.shortfall_bps)) for n, r in zip(notional, first, strict=True))
    assert alerts[0]["shortfall_bps"] == round(float(weighted / sum(notional)), 4)
    shortfalls, edges = [r.shortfall_bps for r in rows], [r.realised_edge_bps for r in rows]
    print(
        f"correlated flow: {len(rows)} round trips, shortfall {min(shortfalls):.2f}..{max(shortfalls):.2f} "
        f"bps, realised edge {min(edges):.2f}..{max(edges):.2f} bps; alert {alerts[0]}"
    )
