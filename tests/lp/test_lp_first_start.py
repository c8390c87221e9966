"""A first start reads history (`strategies.lp.first_start`): an LP manager added to a running
bot seeds σ̂ from the mock venue's 1-minute closes and the fee flow from the simulated pool's
swaps; one started with the bot (no history yet) measures from scratch. Whole bot, simulated clock."""

import asyncio
import copy
import logging
import re

import tomli_w

from amm.sim.pool import SimulatedPool
from benchmarks.lp.market import pool_params
from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import FixedClock, run_simulated
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from connectors.mock.venue import MockVenue
from strategies.lp.first_start import seed_from_history
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import PoolLpManager
from tests.kit.mock_market import mock_venue_params
from tests.lp.lp_kit import pool_config_dict
from tests.ops.kit import run_with_script, store_path

LP = {"kind": "lp_manager", "pools": ["uni"]}
SEEDED = re.compile(
    r"lp/uni: estimates seeded from history: (\d+) closes, (\d+) pool prices, fee flow over ([\d.]+) h"
)


def test_an_lp_manager_added_to_a_running_bot_starts_from_the_history(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="mmbot.lp")
    path = tmp_path / "bot.toml"
    data = pool_config_dict(store_path(tmp_path))
    data["bot"]["config_poll_interval_s"] = 2
    path.write_text(tomli_w.dumps(data))

    async def script(bot):
        await asyncio.sleep(7_210)  # two hours of the CEX and the pool without an LP manager
        venue, pool = bot.venues["va"], bot.sim_pools.pools["uni"]
        closes = await venue.price_history("ETH/USDT", 0)
        swaps = await pool.swap_history(0)
        with_lp = copy.deepcopy(data)
        with_lp["strategies"]["lp"] = LP
        path.write_text(tomli_w.dumps(with_lp))
        await asyncio.sleep(20)
        lp = next(s for s in bot.active_strategies if s.name == "lp")
        return closes, swaps, lp, lp.rounds

    async def main():
        bot = Bot(validate_config(data), tmp_path, config_path=path)
        return await run_with_script(bot, 7_240, script)

    closes, swaps, lp, rounds = run_simulated(main)
    assert len(closes) >= 118 and len(swaps) > 300  # a close a minute, the pool's noise swaps
    (seeded,) = [m for r in caplog.records if (m := SEEDED.search(r.getMessage()))]
    n_closes, n_pool, fee_h = int(seeded[1]), int(seeded[2]), float(seeded[3])
    assert n_closes == len(closes)  # the reload came within the same minute as the read above
    first_swap_close = next(i for i, t in enumerate(closes.ts_ns) if t >= swaps.ts_ns[0])
    assert n_pool == n_closes - first_swap_close  # pool prices from the first close after a swap
    assert fee_h == round((closes.ts_ns[-1] - closes.ts_ns[0]) / 3.6e12, 1)  # the pool's log spans it all
    assert lp.managers["uni"].estimates_origin == "seeded"  # shown on /metrics (mmbot_lp_estimates_origin)
    meter = lp.managers["uni"].meter
    # every close but the first is a return, then one a round
    assert meter.vol.samples == n_closes - 1 + rounds
    assert meter.fee_flow_token1_per_s > 0 and meter.fee_rel_error() < 0.2
    assert meter.sigma_rel_error() < 0.1  # known within 10 % already: the entry gate need not wait


def test_an_lp_manager_started_with_the_bot_has_no_history_to_read(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="mmbot.lp")
    data = pool_config_dict(store_path(tmp_path))
    data["strategies"]["lp"] = LP

    async def main():
        bot = Bot(validate_config(data), tmp_path)
        await bot.run(duration_s=120)
        return bot

    bot = run_simulated(main)
    lp = next(s for s in bot.active_strategies if s.name == "lp")
    messages = [r.getMessage() for r in caplog.records]
    assert "lp/uni: 0 candles of ETH/USDT: too few for σ̂, measured live" in messages
    assert "lp/uni: the pool's history spans under two intervals: its fee rate is measured live" in messages
    assert not any(SEEDED.search(m) for m in messages)
    assert lp.managers["uni"].meter.vol.samples == lp.rounds - 1  # its own rounds only
    assert lp.managers["uni"].estimates_origin == "measured"


async def test_a_venue_that_cannot_serve_its_candles_leaves_sigma_to_be_measured_live(caplog):
    caplog.set_level(logging.INFO, logger="mmbot.lp")
    clock = FixedClock(10**18)
    pool = SimulatedPool.from_params(pool_params(500), clock)
    params = LpManagerParams(kind="lp_manager", pools=["uni"])
    manager = PoolLpManager("lp", "uni", pool, lambda: 3000.0, params, clock, LpStore(Store("sqlite://")))
    venue = MockVenue("va", mock_venue_params("va", "0.1", 1), clock)  # never connected
    assert await seed_from_history(manager, venue, "ETH/USDT") is None
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith("lp/uni: no candles of ETH/USDT (")
    assert "not connected" in warning.getMessage() and warning.getMessage().endswith("σ̂ is measured live")
    assert manager.meter.vol.samples == 0
    assert await seed_from_history(manager, object(), "ETH/USDT") is None  # a venue without the capability
    messages = [r.getMessage() for r in caplog.records]
    assert "lp/uni: the fair venue serves no candles: σ̂ is measured live" in messages
    # the pool was built just now: no span of swaps to read a fee rate from either
    assert (
        messages[-1] == "lp/uni: the pool's history spans under two intervals: its fee rate is measured live"
    )


async def test_a_fault_in_a_history_read_is_logged_with_its_traceback_and_the_start_goes_on(
    caplog, monkeypatch
):
    caplog.set_level(logging.INFO, logger="mmbot.lp")
    clock = FixedClock(10**18)
    pool = SimulatedPool.from_params(pool_params(500), clock)
    params = LpManagerParams(kind="lp_manager", pools=["uni"])
    manager = PoolLpManager("lp", "uni", pool, lambda: 3000.0, params, clock, LpStore(Store("sqlite://")))
    venue = MockVenue("va", mock_venue_params("va", "0.1", 1), clock)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in a candle parser")

    monkeypatch.setattr(venue, "price_history", broken)
    monkeypatch.setattr(pool, "swap_history", broken)
    assert await seed_from_history(manager, venue, "ETH/USDT") is None
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "lp/uni: reading the candles of ETH/USDT failed: σ̂ is measured live",
        "lp/uni: reading the swap history failed: its fee rate is measured live",
    ]
    assert all(r.exc_info and "a bug in a candle parser" in str(r.exc_info[1]) for r in errors)
    assert manager.estimates_origin == "measured"
