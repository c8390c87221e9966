"""The arbitrage sizes both legs within the CEX leg's risk limits and balance before the first
leg: a pool swap never goes out only to be unwound because the CEX refused its leg (simulated
clock, mock venue, simulated pool). Before this check each case below was 3 trades of 1.87 ETH
whose CEX leg was refused, each pool swap unwound at a loss of 6.4 USDT, then the market paused."""

import asyncio
import json
from decimal import Decimal

import pytest

from bot.app.config import validate_config
from bot.kernel.store import Store
from strategies.xvenue.store import XvenueLedger
from tests.xvenue.test_amm_arbitrage import _pool, _run, config_data


def limited(tmp_path, change):
    data = config_data(tmp_path)
    change(data)
    return validate_config(data)


def position_1_eth(data):
    data["markets"][0]["max_position"] = "1"


def total_notional_2000(data):
    data["risk"]["max_total_position_notional"] = "2000"


def usdt_1500(data):
    data["venues"]["va"]["initial_balances"]["USDT"] = "1500"


def eth_half(data):
    data["venues"]["va"]["initial_balances"]["ETH"] = "0.5"


@pytest.mark.parametrize(
    ("change", "pool_price", "largest_base"),
    [
        (position_1_eth, 3030.0, Decimal("1")),  # buy ETH on the CEX: at most 1 ETH long
        (total_notional_2000, 3030.0, Decimal("0.66")),  # 0.66 × ~3 000 under 2 000 USDT gross
        (usdt_1500, 3030.0, Decimal("0.49")),  # 1 500 USDT pays for 0.49 ETH (taker fee locked)
        (eth_half, 2970.0, Decimal("0.5")),  # sell ETH on the CEX: 0.5 ETH free
    ],
    ids=["max_position", "max_total_position_notional", "free_quote", "free_base"],
)
def test_a_cex_leg_over_a_limit_shrinks_the_trade_instead_of_unwinding_the_pool_swap(
    tmp_path, change, pool_price, largest_base
):
    config = limited(tmp_path, change)
    pool = _pool(pool_price)  # 1 % off the CEX: the plan with no limit in the way is 1.87 ETH
    bot, _ = _run(config, tmp_path, pool, duration_s=10)
    store = Store(config.bot.database_url, config.bot.instance_id)
    trades = XvenueLedger(store).arb_trades("arb")
    assert trades, "no trade: the limit left nothing to arbitrage"
    assert {t.status for t in trades} == {"done"}  # no unwind, no pool swap left alone
    assert Decimal(trades[0].size_base) == largest_base
    assert bot.runtime.orders.counters.risk_refused == 0  # the CEX leg was never sent to be refused
    assert store.events("alert") == []
    # every pool swap has its CEX fill: the CEX moved exactly what the trades say
    cex = sum(Decimal(f.size) for f in store.fills("va"))
    assert cex == sum(Decimal(t.size_base) for t in trades) == sum(Decimal(t.cex_filled_base) for t in trades)


def test_a_cex_leg_that_fits_at_no_size_skips_the_trade(tmp_path):
    def no_usdt(data):
        data["venues"]["va"]["initial_balances"]["USDT"] = "20"  # under one lot (0.01 ETH ≈ 30 USDT)

    config = limited(tmp_path, no_usdt)
    pool = _pool(3030.0)
    before = pool.core.sqrt_price_x96
    bot, _ = _run(config, tmp_path, pool, duration_s=10)
    store = Store(config.bot.database_url, config.bot.instance_id)
    assert XvenueLedger(store).arb_trades() == [] and store.fills() == []
    assert pool.core.sqrt_price_x96 == before and pool.wallet0 == 5 * 10**18  # the pool untouched
    assert [json.loads(e.detail) for e in store.events("alert")] == []
    assert bot.runtime.orders.counters.risk_refused == 0 and bot.active_strategies[0].paused_markets() == {}


def test_a_plan_that_no_longer_fits_when_sent_sends_neither_leg(tmp_path):
    """The position moved between the plan and the send: execute sends nothing."""
    from bot.core.clock import LoopClock, run_simulated
    from connectors.mock.venue import MockVenue
    from tests.ops.kit import run_with_script
    from tests.xvenue.test_amm_arbitrage import BotWithPool

    config = limited(tmp_path, position_1_eth)
    pool = _pool(3030.0)

    async def script(bot):
        arb = bot.active_strategies[0]
        ledger = XvenueLedger(bot.store)
        while not ledger.arb_trades():  # the first trade takes the position to its 1 ETH limit
            await asyncio.sleep(0.01)
        price = await arb.pricer.pool_price()
        plan = await arb.pricer.plan_for(True, 50, price)  # a stale plan: 0.5 ETH more
        wallet, placed = pool.wallet0, bot.runtime.orders.counters.placed
        row = await arb.execute(plan)
        return row, arb.skipped_by_risk, pool.wallet0 - wallet, bot.runtime.orders.counters.placed - placed

    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venue = MockVenue("va", config.venues["va"], clock)
        bot = BotWithPool(config, tmp_path, venues={"va": venue})
        bot.pool = pool
        out = await run_with_script(bot, 5, script)
        await venue.close()
        return out

    assert run_simulated(main) == (None, 1, 0, 0)  # no row, no swap, no CEX order
