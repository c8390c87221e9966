"""A `kind = "uniswap_v3"` venue in a bot config: the bot connects the real pool into its context."""

import pytest

from amm.chain.pool import ChainPool
from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from tests.kit import small_config_dict

pytestmark = pytest.mark.chain


async def test_bot_connects_a_uniswap_v3_venue_and_closes_it(tmp_path, uniswap, monkeypatch, chain_snapshot):
    monkeypatch.setenv("MMBOT_CHAIN_KEY", uniswap.accounts[1].private_key)
    data = small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite", venues=("va",))
    data["bot"]["clock"] = "wall"
    data["bot"]["ops"] = {"enabled": False}
    params = uniswap.venue_params("MMBOT_CHAIN_KEY", deadline_s=3600)
    data["venues"]["uni"] = params.model_dump(mode="json")
    config = validate_config(data)
    assert "MMBOT_CHAIN_KEY" in str(config.venues["uni"]) and uniswap.accounts[1].private_key not in str(
        config
    )

    bot = Bot(config, tmp_path)
    await bot.start()
    try:
        pool = bot.runtime.context.pools["uni"]
        assert isinstance(pool, ChainPool)
        state = await pool.read_state()
        assert state.sqrt_price_x96 > 0 and state.tick == (await pool.reader.slot0()).tick
        assert set(bot.venues) == {"va"}  # a pool is not an order-book venue
    finally:
        await bot.shutdown()
    assert bot.sim_pools.chain == {}
