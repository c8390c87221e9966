"""A failed arbitrage leg leaves no position: the other leg is unwound, or the market pauses.

The failures are real: another arbitrageur's swap lands just before ours and the simulated pool
refuses our swap through its own minimum-output check; the mock venue refuses immediate orders.
"""

import json
from decimal import Decimal

from sqlalchemy import create_engine

from amm.math.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from bot.core.clock import LoopClock, run_simulated
from bot.kernel.store import Store
from strategies.xvenue.store import ArbTradeRow, XvenueLedger
from tests.xvenue.test_amm_arbitrage import BotWithPool, _config, _pool
from tests.xvenue.test_xemm import FlakyTakerVenue


class FrontRunPool:
    """Mixes into the simulated pool: before our n-th swap (0-based), someone else swaps first."""

    front_runs: dict[int, tuple[bool, float | int]]  # n -> (zero_for_one, ×our amount | raw amount)
    our_swaps = 0

    async def swap_exact_input(self, zero_for_one, amount_in, amount_out_min):
        n = self.our_swaps
        self.our_swaps += 1
        if n in self.front_runs:
            direction, amount = self.front_runs[n]
            raw = int(amount * amount_in) if isinstance(amount, float) else amount
            limit = MIN_SQRT_RATIO + 1 if direction else MAX_SQRT_RATIO - 1
            self.external_swap(direction, raw, limit)
        return await super().swap_exact_input(zero_for_one, amount_in, amount_out_min)


def front_run_pool(price, front_runs):
    pool = _pool(price)
    pool.__class__ = type("FrontRunSimPool", (FrontRunPool, type(pool)), {})
    pool.front_runs = front_runs
    return pool


def run(config, tmp_path, pool, duration_s=20, reject_ioc=0.0, script=None):
    async def main():
        clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
        venue = FlakyTakerVenue("va", config.venues["va"], clock)
        venue.reject_ioc = reject_ioc
        bot = BotWithPool(config, tmp_path, venues={"va": venue})
        bot.pool = pool
        await bot.run(duration_s=duration_s)
        await venue.close()
        return bot

    return run_simulated(main)


def _cex_net(store):
    fills = store.fills("va")
    bought = sum(Decimal(f.size) for f in fills if f.side == "buy")
    sold = sum(Decimal(f.size) for f in fills if f.side == "sell")
    cash = sum(
        (
            Decimal(f.price) * Decimal(f.size) * (1 if f.side == "sell" else -1) - Decimal(f.fee)
            for f in fills
        ),
        Decimal(0),
    )
    return bought, sold, cash


def test_a_reverted_pool_swap_has_its_cex_leg_traded_back(tmp_path):
    config = _config(tmp_path)
    # 1% over the CEX; another arbitrageur sells as much ETH into the pool just before us
    pool = front_run_pool(3030.0, {0: (True, 1.0)})
    bot = run(config, tmp_path, pool)
    store = Store(config.bot.database_url, config.bot.instance_id)
    first = XvenueLedger(store).arb_trades("arb")[0]
    assert first.status == "unwound" and "Too little received" in first.failure
    assert first.direction == "sell_pool_buy_cex"
    assert first.cex_filled_base == first.size_base == first.unwind_base and first.unhedged_base == "0"
    # the pool refused before anything moved: our wallet is whole, and on the CEX we are flat again
    assert (pool.wallet0, pool.wallet1) == (5 * 10**18, 20_000 * 10**6)
    bought, sold, cash = _cex_net(store)
    assert bought == sold == Decimal(first.size_base)
    # the realised loss is the CEX round trip: spread and both taker fees, recomputed from the fills
    assert abs(float(first.realised_profit_quote) - float(cash)) < 1e-6 and cash < 0
    assert first.unhedged_ms <= 2 * config.strategies["arb"].max_unhedged_ms
    alerts = [json.loads(e.detail) for e in store.events("alert")]
    assert [(a["reason"], a["status"], a["paused"]) for a in alerts] == [("arb_leg_failed", "unwound", False)]
    assert bot.active_strategies[0].paused_markets() == {}


def test_a_refused_cex_leg_has_its_pool_swap_reversed_and_repeats_pause_the_market(tmp_path):
    config = _config(tmp_path)
    pool = _pool(3030.0)
    bot = run(config, tmp_path, pool, reject_ioc=float("inf"))
    store = Store(config.bot.database_url, config.bot.instance_id)
    trades = XvenueLedger(store).arb_trades("arb")
    # max_consecutive_leg_failures = 3: three unwound trades, then the market is paused
    assert [t.status for t in trades] == ["unwound"] * 3
    assert store.fills() == []
    for t in trades:
        assert t.failure == f"CEX leg filled 0.00 of {t.size_base}" and t.unwind_base == t.size_base
        assert t.unhedged_base == "0" and float(t.realised_profit_quote) < 0
    # every swap was reversed: at least the ETH sold came back, paid for by the fees and impact
    assert pool.wallet0 >= 5 * 10**18 and pool.wallet1 < 20_000 * 10**6
    assert abs(pool.price() / 3030.0 - 1) < 1e-3
    arb = bot.active_strategies[0]
    assert arb.paused_markets() == {
        "va:ETH/USDT": {"unhedged_base": "0", "pool": "uni", "reason": "3 failed trades in a row"}
    }
    alerts = [json.loads(e.detail) for e in store.events("alert")]
    assert [a["paused"] for a in alerts] == [False, False, True]


def test_a_leg_that_cannot_be_unwound_pauses_the_market_with_the_position_named(tmp_path):
    config = _config(tmp_path)
    # the CEX refuses; someone buys 30 000 USDT of ETH from the pool just before our buy-back,
    # 4% over the price we sold at: past unwind_max_slippage_bps (30)
    pool = front_run_pool(3030.0, {1: (False, 30_000 * 10**6)})
    bot = run(config, tmp_path, pool, reject_ioc=float("inf"))
    store = Store(config.bot.database_url, config.bot.instance_id)
    trades = XvenueLedger(store).arb_trades("arb")
    assert [t.status for t in trades] == ["unhedged"]
    t = trades[0]
    assert t.unwind_base == "0" and t.unhedged_base == f"-{t.size_base}"
    assert "pool unwind failed: buying back" in t.failure and "the limit is" in t.failure
    assert pool.wallet0 == 5 * 10**18 - int(t.pool_amount_in)  # the ETH sold is still sold
    arb = bot.active_strategies[0]
    assert arb.paused_markets()["va:ETH/USDT"]["unhedged_base"] == f"-{t.size_base}"
    alert = json.loads(store.events("alert")[0].detail)
    assert (alert["status"], alert["paused"], alert["unhedged_base"]) == ("unhedged", True, f"-{t.size_base}")


def test_a_store_made_before_the_unwind_columns_gets_them(tmp_path):
    # The table as a store from before the new columns has it (no Alembic revision yet): opening
    # the store migrates it.
    engine = create_engine(f"sqlite:///{tmp_path}/old.sqlite")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE arb_trades (id INTEGER PRIMARY KEY, strategy VARCHAR NOT NULL,"
            " ts_ns INTEGER NOT NULL, direction VARCHAR NOT NULL, size_base VARCHAR NOT NULL,"
            " expected_profit_quote VARCHAR NOT NULL,"
            " realised_profit_quote VARCHAR, pool_amount_in VARCHAR NOT NULL,"
            " pool_amount_out VARCHAR NOT NULL,"
            " gas_quote VARCHAR NOT NULL, cex_filled_base VARCHAR NOT NULL, cex_notional VARCHAR NOT NULL,"
            " cex_fees VARCHAR NOT NULL, pool_price_before FLOAT NOT NULL, pool_price_after FLOAT,"
            " cex_mid FLOAT NOT NULL, status VARCHAR NOT NULL)"
        )
        conn.exec_driver_sql(
            "INSERT INTO arb_trades VALUES (1, 'arb', 5, 'sell_pool_buy_cex', '1', '2', NULL, '3', '4', '0',"
            " '1', '3000', '1.5', 3030.0, NULL, 3000.0, 'done')"
        )
    engine.dispose()
    ledger = XvenueLedger(Store(f"sqlite:///{tmp_path}/old.sqlite"))
    row = ArbTradeRow(**{**ledger.arb_trades()[0].model_dump(), "id": None, "status": "unhedged"})
    row.unhedged_base = "-1"
    ledger.record_arb(row)
    old, new = ledger.arb_trades()
    assert (old.unhedged_base, old.failure, new.unhedged_base, new.status) == ("0", None, "-1", "unhedged")
