"""Self-trade between strategies on one venue (#22 item 6), on the simulated clock, per seed.

XEMM makes on va and hedges on vb; a `multi_venue_mm` strategy quotes vb and vc half a bp from
each venue's mid, so XEMM's hedge IOCs on vb run through our own quotes there. Printed per seed:
round trips (hedged), our orders the venue's own self-trade prevention had to expire (each one a
wash trade on a venue without it), fills with ourselves on both sides, hedge delay from the
maker fill to the round trip's close (p50, max: clearing our own quotes first costs a hedge a
cancel round trip), and hedge alerts. Every
figure is read from the bot's store, so the same script measures any version: the baseline is
this script run against a checkout of the commit before the change.

    python benchmarks/xvenue_self_trade.py [seconds=60] [seeds=1,2,3]
    PYTHONPATH=<checkout of the baseline> python benchmarks/xvenue_self_trade.py 60 1,2,3
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from sqlalchemy import text

from bot.app.config import AppConfig, validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from bot.kernel.store import Store
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import MockVenue
from tests.kit import small_config_dict

VENUES = ("va", "vb", "vc")


def config(tmp: str, seed: int) -> AppConfig:
    data: dict[str, Any] = small_config_dict(f"sqlite:///{tmp}/bot.sqlite", venues=VENUES)
    data["markets"] = [m for m in data["markets"] if m["symbol"] == "BTC/USDT"]
    for i, venue in enumerate(data["venues"].values()):
        venue["seed"] = seed * 10 + i
        venue["markets"] = [m for m in venue["markets"] if m["symbol"] == "BTC/USDT"]
        venue["markets"][0].update(
            noise_taker_rate_per_s=2.0, noise_taker_size_lots=15, volatility_annual=1.5
        )
    data["strategies"] = {
        "x": {
            "kind": "xemm",
            "maker_markets": ["va:BTC/USDT"],
            "taker_market": "vb:BTC/USDT",
            "min_profitability_bps": 1,
            "hedge_retry_delay_ms": 100,
            "hedge_max_slippage_bps": 30,
        },
        "mv": {
            "kind": "multi_venue_mm",
            "markets": ["vb:BTC/USDT", "vc:BTC/USDT"],
            "model": "fixed_spread",
            "bid_spread_bps": 0.5,
            "ask_spread_bps": 0.5,
            "levels": 1,
            "local_anchor_weight": 1.0,
            "min_requote_interval_ms": 100,
        },
    }
    return validate_config(data)


def run(seed: int, seconds: float) -> dict[str, int | float]:
    tmp = tempfile.mkdtemp()
    cfg = config(tmp, seed)

    async def main() -> None:
        clock = LoopClock(epoch_ns=int(cfg.bot.sim_start.timestamp() * 1e9))
        venues = {name: MockVenue(name, cast(MockVenueParams, cfg.venues[name]), clock) for name in VENUES}
        await Bot(cfg, Path(tmp), venues=dict(venues)).run(duration_s=seconds)
        for venue in venues.values():
            await venue.close()

    run_simulated(main)
    store = Store(cfg.bot.database_url, cfg.bot.instance_id)
    with store.engine.connect() as conn:

        def count(sql: str) -> int:
            return int(conn.execute(text(sql)).scalar() or 0)

        out: dict[str, int | float] = {
            "round_trips": count("select count(*) from xemm_round_trips"),
            "hedged": count("select count(*) from xemm_round_trips where status = 'hedged'"),
            "venue_stp_expired": count("select count(*) from orders where reason like 'self-trade%'"),
            "fills_with_ourselves": count(
                "select count(*) from (select venue, venue_trade_id from fills"
                " group by venue, venue_trade_id having count(*) > 1)"
            ),
        }
        delays_ms = sorted(
            (done - fill) / 1e6
            for fill, done in conn.execute(
                text("select fill_ts_ns, done_ts_ns from xemm_round_trips where status = 'hedged'")
            )
        )
    if delays_ms:  # what clearing our own quotes out of the way costs a hedge
        out["hedge_ms_p50"] = round(delays_ms[len(delays_ms) // 2])
        out["hedge_ms_max"] = round(delays_ms[-1])
    reasons = [json.loads(e.detail).get("reason") for e in store.events("alert")]
    out["hedge_alerts"] = sum(r == "xemm_hedge_failed" for r in reasons)
    return out


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    seeds = [int(s) for s in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1, 2, 3]
    rows = []
    for seed in seeds:
        started = time.perf_counter()
        row = run(seed, seconds)
        rows.append(row)
        print(f"seed {seed}: {row}  ({time.perf_counter() - started:.1f}s wall)", flush=True)
    for key in rows[0]:
        values = [r[key] for r in rows]
        print(f"{key:22s} mean {statistics.mean(values):7.2f}  min {min(values)}  max {max(values)}")


if __name__ == "__main__":
    main()
