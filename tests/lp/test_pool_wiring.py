"""A sim_pool venue in the config becomes a SimulatedPool + flow in the running bot."""

import asyncio

import pytest

from amm.sim.pool import SimulatedPool
from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock, run_simulated
from bot.core.config_base import ConfigError
from connectors.mock.venue import MockVenue
from tests.lp.lp_kit import pool_config_dict


def test_bot_runs_the_pool_flow_following_the_mock_fair_price_and_stops_it(tmp_path):
    config = validate_config(pool_config_dict(f"sqlite:///{tmp_path}/bot.sqlite"))
    gaps: list[float] = []

    async def main():
        bot = Bot(config, tmp_path)
        task = asyncio.create_task(bot.run(duration_s=1200))
        await asyncio.sleep(60)
        pool = bot.runtime.context.pools["uni"]
        venue = bot.venues["va"]
        for _ in range(90):
            await asyncio.sleep(12)
            gaps.append(pool.price() / venue.fair_price("ETH/USDT") - 1)
        await task
        return bot, pool

    bot, pool = run_simulated(main)
    assert isinstance(pool, SimulatedPool)
    assert "uni" not in bot.venues  # a pool is not an order-book venue
    runtime = bot.sim_pools.runtimes["uni"]
    assert runtime.task is None and runtime.flow._stopped.is_set()
    assert 95 <= runtime.flow.stats.blocks <= 100  # one per 12 s block over 1200 s
    assert runtime.flow.stats.arbitrage_swaps > 20
    # The pool tracks the CEX's latent price: within the 5 bp fee band plus what one block moves it.
    assert max(abs(g) for g in gaps) < 0.003
    assert sum(abs(g) for g in gaps) / len(gaps) < 0.001


def test_config_names_the_bad_pool_field(tmp_path):
    data = pool_config_dict("sqlite:///:memory:", fair_venue="nope")
    with pytest.raises(ConfigError, match=r"venues.uni.fair_venue: 'nope' is not a mock venue"):
        validate_config(data)
    data = pool_config_dict("sqlite:///:memory:", fair_symbol="SOL/USDT")
    with pytest.raises(ConfigError, match=r"venues.uni.fair_symbol: 'SOL/USDT' is not a market of va"):
        validate_config(data)
    data = pool_config_dict("sqlite:///:memory:", fee_pips=400)
    with pytest.raises(ConfigError, match=r"venues.uni.fee_pips"):
        validate_config(data)
    data = pool_config_dict("sqlite:///:memory:")
    data["markets"].append({"venue": "uni", "symbol": "WETH/USDC", "order_size": "1", "max_position": "1"})
    with pytest.raises(ConfigError, match=r"markets\[1\].venue: 'uni' is a pool"):
        validate_config(data)


def test_injected_venues_still_get_their_pools(tmp_path):
    config = validate_config(pool_config_dict(f"sqlite:///{tmp_path}/bot.sqlite"))

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venues = {"va": MockVenue("va", config.venues["va"], clock)}
        bot = Bot(config, tmp_path, venues=venues)
        await bot.run(duration_s=60)
        await venues["va"].close()
        return bot

    bot = run_simulated(main)
    assert set(bot.runtime.context.pools) == {"uni"}
    assert bot.sim_pools.runtimes["uni"].flow.stats.blocks == 5


def test_an_lp_manager_on_a_chain_pool_needs_a_valid_fair_source():
    from tests.chain.test_chain_config import venue

    data = pool_config_dict("sqlite:///:memory:")
    data["venues"]["chain"] = venue()
    data["strategies"]["lp"] = {"kind": "lp_manager", "pools": ["chain"]}
    with pytest.raises(ConfigError, match=r"strategies.lp.pools: 'chain' has no fair_venue / fair_symbol"):
        validate_config(data)
    data["venues"]["chain"] = venue(fair_venue="va")
    with pytest.raises(ConfigError, match=r"fair_venue and fair_symbol: give both or neither"):
        validate_config(data)
    data["venues"]["chain"] = venue(fair_venue="uni", fair_symbol="ETH/USDT")
    with pytest.raises(ConfigError, match=r"venues.chain.fair_venue: 'uni' is not an order-book venue"):
        validate_config(data)
    data["venues"]["chain"] = venue(fair_venue="va", fair_symbol="BTC/USDT")  # not a market of va here
    with pytest.raises(
        ConfigError, match=r"venues.chain.fair_symbol: 'BTC/USDT' is neither in \[\[markets\]\]"
    ):
        validate_config(data)
    data["venues"]["chain"] = venue(fair_venue="va", fair_symbol="ETH/USDT")
    assert validate_config(data).venues["chain"].fair_symbol == "ETH/USDT"
