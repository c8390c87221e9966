"""CEX↔AMM arbitrage on a mock venue and a simulated Uniswap v3 pool, on the simulated clock."""

from decimal import Decimal

from amm.sim.params import BackgroundRange, SimPoolParams
from amm.sim.pool import SimulatedPool
from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import FixedClock, LoopClock, run_simulated
from bot.kernel.store import Store
from connectors.mock.venue import MockVenue
from strategies.xvenue.store import XvenueLedger


class BotWithPool(Bot):
    """The bot with the test's simulated pool in its context instead of the configured one."""

    pool: SimulatedPool

    async def start(self) -> None:
        await super().start()
        self.runtime.context.pools["uni"] = self.pool


def _config(tmp_path, **arb):
    return validate_config(config_data(tmp_path, **arb))


def config_data(tmp_path, **arb):
    return {
        "bot": {
            "instance_id": "t1",
            "database_url": f"sqlite:///{tmp_path}/bot.sqlite",
            "clock": "simulated",
        },
        "venues": {
            "va": {
                "kind": "mock",
                "seed": 5,
                "initial_balances": {"USDT": "50000", "ETH": "10"},
                "markets": [
                    {
                        "symbol": "ETH/USDT",
                        "tick_size": "0.01",
                        "lot_size": "0.01",
                        "initial_price": "3000",
                        "taker_fee_bps": "5",
                        "volatility_annual": 0.05,
                        "book_level_size_lots": 50,
                    }
                ],
            },
            # the config names the pool the strategy trades; BotWithPool swaps in the test's pool
            "uni": {
                "kind": "sim_pool",
                "token0_symbol": "WETH",
                "token1_symbol": "USDT",
                "fair_venue": "va",
                "fair_symbol": "ETH/USDT",
                "noise": {"rate_per_s": 0},
                "arbitrage": {"enabled": False},
            },
        },
        "markets": [{"venue": "va", "symbol": "ETH/USDT", "order_size": "0.1", "max_position": "5"}],
        "strategies": {
            "arb": {
                "kind": "amm_arbitrage",
                "pool": "uni",
                "cex_market": "va:ETH/USDT",
                "max_trade_base": 4,
                "slippage_buffer_bps": 3,
                **arb,
            }
        },
        "risk": {"max_order_notional": "20000"},
    }


def _pool(price: float) -> SimulatedPool:
    return SimulatedPool.from_params(
        SimPoolParams(
            token0_symbol="WETH",
            token1_symbol="USDT",
            fee_pips=500,
            initial_price=price,
            background=(BackgroundRange(value_token1=3_000_000),),
            wallet_token0=5,
            wallet_token1=20_000,
            gas_price_gwei=1,
        ),
        FixedClock(0),  # swap-log times only (the bot's flow runs on its own clock)
    )


def _run(config, tmp_path, pool, duration_s=20):
    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venue = MockVenue("va", config.venues["va"], clock)
        bot = BotWithPool(config, tmp_path, venues={"va": venue})
        bot.pool = pool
        await bot.run(duration_s=duration_s)
        book = venue.exchange.depth("ETH/USDT", 1)
        await venue.close()
        return bot, book

    return run_simulated(main)


def test_gap_closes_and_realised_profit_matches_the_computed_one(tmp_path):
    config = _config(tmp_path)
    pool = _pool(3030.0)  # 1% over the CEX
    _, (_, asks) = _run(config, tmp_path, pool)
    store = Store(config.bot.database_url, config.bot.instance_id)
    trades = XvenueLedger(store).arb_trades("arb")
    assert len(trades) >= 1 and {t.status for t in trades} == {"done"}
    first = trades[0]
    assert first.direction == "sell_pool_buy_cex"
    assert first.pool_price_before > 3020
    # 100 bp of gap down to the costs: taker 5 bp + pool 5 bp + buffer 3 bp, plus what the next
    # lots would need to pay the gas (0.39 USDT) on a CEX ladder that deepens 2 bp per level
    ask = asks[0][0] * 0.01
    assert first.pool_price_after < 3010
    assert ask * (1 - 5e-4) < pool.price() < ask * (1 + 25e-4)
    for t in trades:
        expected, realised = float(t.expected_profit_quote), float(t.realised_profit_quote)
        assert realised > 0
        assert abs(realised - expected) <= float(t.cex_fees)
    # both legs are what the row says: CEX fills of our IOCs, pool swaps of the wallet
    cex_bought = sum(Decimal(f.size) for f in store.fills("va") if f.side == "buy")
    assert (
        cex_bought
        == sum(Decimal(t.cex_filled_base) for t in trades)
        == sum(Decimal(t.size_base) for t in trades)
    )
    sold_raw = sum(int(t.pool_amount_in) for t in trades)
    assert pool.wallet0 == 5 * 10**18 - sold_raw
    assert store.events("alert") == []


def test_no_action_when_the_gap_is_below_costs(tmp_path):
    config = _config(tmp_path)
    pool = _pool(3003.0)  # ~5 bp over the CEX ask: less than fees + buffer
    before = pool.core.sqrt_price_x96
    bot, _ = _run(config, tmp_path, pool)
    store = Store(config.bot.database_url, config.bot.instance_id)
    assert XvenueLedger(store).arb_trades() == []
    assert store.fills() == [] and bot.runtime.orders.counters.placed == 0
    assert pool.core.sqrt_price_x96 == before and pool.wallet0 == 5 * 10**18


def test_cex_to_pool_gap_closes_and_realised_profit_matches_the_computed_one(tmp_path):
    config = _config(tmp_path)
    pool = _pool(2970.0)  # 1% under the CEX: buy ETH from the pool, sell it on the CEX
    _, (bids, _) = _run(config, tmp_path, pool)
    store = Store(config.bot.database_url, config.bot.instance_id)
    trades = XvenueLedger(store).arb_trades("arb")
    assert len(trades) >= 1 and {t.status for t in trades} == {"done"}
    assert {t.direction for t in trades} == {"buy_pool_sell_cex"}
    assert trades[0].pool_price_before < 2980
    bid = bids[0][0] * 0.01
    assert trades[0].pool_price_after > 2990
    assert bid * (1 - 25e-4) < pool.price() < bid * (1 + 5e-4)
    for t in trades:
        expected, realised = float(t.expected_profit_quote), float(t.realised_profit_quote)
        assert realised > 0
        assert abs(realised - expected) <= float(t.cex_fees)
    cex_sold = sum(Decimal(f.size) for f in store.fills("va") if f.side == "sell")
    assert (
        cex_sold
        == sum(Decimal(t.cex_filled_base) for t in trades)
        == sum(Decimal(t.size_base) for t in trades)
    )
    assert store.fills("va") and all(f.side == "sell" for f in store.fills("va"))
    # the pool paid out at least what the CEX sold (dust above the lot grid stays in the wallet)
    bought_raw = sum(int(t.pool_amount_out) for t in trades)
    assert bought_raw >= int(cex_sold * 10**18)
    assert pool.wallet0 == 5 * 10**18 + bought_raw
    assert pool.wallet1 == 20_000 * 10**6 - sum(int(t.pool_amount_in) for t in trades)
    assert store.events("alert") == []


def test_no_action_when_the_cex_to_pool_gap_is_below_costs(tmp_path):
    config = _config(tmp_path)
    pool = _pool(2997.0)  # ~5 bp under the CEX bid: less than fees + buffer
    before = pool.core.sqrt_price_x96
    bot, _ = _run(config, tmp_path, pool)
    store = Store(config.bot.database_url, config.bot.instance_id)
    assert XvenueLedger(store).arb_trades() == []
    assert store.fills() == [] and bot.runtime.orders.counters.placed == 0
    assert pool.core.sqrt_price_x96 == before and pool.wallet1 == 20_000 * 10**6
