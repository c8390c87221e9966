"""LP manager + hedger in the running bot: the hedge removes most of the LP's price risk."""

import asyncio
import math

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from amm.attribution import exact_position_amounts
from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import run_simulated
from bot.core.config_base import ConfigError
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from bot.reports.status import collect_status, format_status
from tests.lp.lp_kit import lp_hedge_config_dict, pool_config_dict


async def lp_book_value(manager, mid: float) -> float:
    """Pool wallet + position + uncollected fees at the CEX mid, less the gas paid so far."""
    pool = manager.pool
    w0, w1 = await pool.wallet_balances()
    value = w0 / 1e18 * mid + w1 / 1e6
    if manager.position is not None:
        pos = await pool.position(manager.position.token_id)
        x, y = exact_position_amounts(
            pool.core.sqrt_price_x96, pos.tick_lower, pos.tick_upper, pos.liquidity, 18, 6
        )
        f0, f1 = await pool.pending_fees(pos.token_id)
        value += (x + f0 / 1e18) * mid + y + f1 / 1e6
    return value - manager.totals.gas_token1


def run_hedged(tmp_path, duration_s: float):
    config = validate_config(lp_hedge_config_dict(f"sqlite:///{tmp_path}/bot.sqlite"))
    samples: list[tuple[float, float, float, float]] = []  # LP value, hedge PnL, net delta, LP delta

    async def main():
        bot = Bot(config, tmp_path)
        task = asyncio.create_task(bot.run(duration_s=duration_s))
        await asyncio.sleep(600)  # the manager enters and the first hedges go through
        lp, hedger = bot.active_strategies
        slot = bot.runtime.context.state.slot("va", "ETH/USDT")
        while True:
            await asyncio.sleep(60)
            if task.done():
                break
            mid = float(bot.runtime.context.state.mid_price[slot])
            value = await lp_book_value(lp.managers["uni"], mid)
            net = await hedger.net_delta()
            samples.append((value, hedger.book.pnl(mid), net, hedger.last_lp_delta))
        await task
        return bot, lp, hedger

    bot, lp, hedger = run_simulated(main)
    return bot, lp, hedger, np.array(samples)


def test_hedged_lp_pnl_variance_is_far_below_unhedged_and_delta_stays_in_band(tmp_path):
    bot, lp, hedger, s = run_hedged(tmp_path, duration_s=2400)
    lp_value, hedge_pnl, net, lp_delta = s.T
    assert len(s) >= 28
    assert lp.managers["uni"].position is not None and lp_delta.min() > 3.0  # ~5 ETH of LP delta
    unhedged = np.var(np.diff(lp_value))
    hedged = np.var(np.diff(lp_value + hedge_pnl))
    assert hedged < 0.1 * unhedged, (hedged, unhedged)
    band = hedger.params.band
    inside = np.abs(net) <= band + 1e-9
    assert inside.mean() >= 0.9, net
    assert np.abs(net).max() < 3 * band
    # Hedge fills are tracked apart and stored; the CEX position is the hedge's own.
    store = LpStore(Store(f"sqlite:///{tmp_path}/bot.sqlite"))
    trades = store.hedge_trades("hedge")
    assert len(trades) == hedger.book.trades > 0
    assert sum(float(t.size) * (1 if t.side == "buy" else -1) for t in trades) == pytest.approx(
        hedger.book.position
    )
    assert hedger.book.position == pytest.approx(-lp_delta[-1], abs=2 * band)
    assert hedger.book.maker_trades > 0
    assert hedger.book.cost > 0 or hedger.book.maker_trades == hedger.book.trades
    # `mmbot status` shows the LP position and the hedge.
    status = collect_status(Store(f"sqlite:///{tmp_path}/bot.sqlite"))
    uni = status["lp"]["pools"]["uni"]
    assert [o["token_id"] for o in uni["open"]] == [lp.managers["uni"].position.token_id]
    assert uni["fees_token1"] == pytest.approx(lp.managers["uni"].totals.fees_token1)
    assert uni["gas_token1"] == pytest.approx(lp.managers["uni"].totals.gas_token1)
    assert status["lp"]["hedges"]["hedge"]["trades"] == hedger.book.trades
    text = format_status(status)
    assert "lp uni: #" in text and f"hedge hedge on va:ETH/USDT: {hedger.book.trades} trades" in text
    # /metrics: the pool's and the open position's books, read from the same accounts.
    metrics = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(bot.metrics.render().decode())
        for s in family.samples
    }
    manager = lp.managers["uni"]
    shares = hedger.costs.by_row_id
    assert sum(shares.values()) + hedger.costs.unowned_quote == pytest.approx(hedger.book.total_cost)
    accounts = manager.ledger.accounts.values()
    books = manager.ledger.attribution(sum(shares.get(a.row_id, 0.0) for a in accounts))
    pool_net = metrics["mmbot_lp_pool_token1", (("component", "net"), ("pool", "uni"), ("strategy", "lp"))]
    assert pool_net == pytest.approx(books.net_token1) and books.fees_token1 > 0
    open_account = manager.position.account
    position = ("position", str(open_account.token_id))
    labels = (("component", "hedge"), ("pool", "uni"), position, ("strategy", "lp"))
    assert metrics["mmbot_lp_position_token1", labels] == pytest.approx(shares[open_account.row_id])
    assert metrics["mmbot_hedge_cost_quote", (("part", "trading"), ("strategy", "hedge"))] == hedger.book.cost
    uni_lp = (("pool", "uni"), ("strategy", "lp"))
    meter = manager.meter
    assert metrics["mmbot_lp_sigma_annual", (("estimate", "long"), *uni_lp)] == meter.sigma_annual()
    short = meter.switch.short.sigma_annual(math.nan)
    assert metrics["mmbot_lp_sigma_annual", (("estimate", "short"), *uni_lp)] == short > 0
    assert metrics["mmbot_lp_vol_switches_total", uni_lp] == meter.switches
    assert (
        metrics["mmbot_lp_estimate_rel_error", (("estimate", "sigma"), *uni_lp)]
        == meter.sigma_rel_error()
        < 0.1
    )
    assert metrics["mmbot_lp_estimate_rel_error", (("estimate", "fee"), *uni_lp)] == meter.fee_rel_error() < 1
    # started with the bot and its new pool: nothing stored, no history to read
    origins = {k[1][0][1] for k, v in metrics.items() if k[0] == "mmbot_lp_estimates_origin" and v == 1}
    assert origins == {"measured"}


def test_a_hedge_market_cannot_also_be_quoted(tmp_path):
    data = lp_hedge_config_dict("sqlite:///:memory:")
    data["strategies"]["mm"] = pool_config_dict("sqlite:///:memory:")["strategies"]["mm"]
    with pytest.raises(ConfigError, match=r"strategies.hedge.market: 'va:ETH/USDT' is quoted by mm"):
        validate_config(data)
    data = lp_hedge_config_dict("sqlite:///:memory:")
    data["strategies"]["hedge"]["hedge_ratio"] = 1.5
    with pytest.raises(ConfigError, match=r"strategies.hedge.hedge_ratio"):
        validate_config(data)
    data = lp_hedge_config_dict("sqlite:///:memory:")
    data["strategies"]["lp"]["pools"] = ["va"]
    with pytest.raises(ConfigError, match=r"strategies.lp.pools: 'va' is not a sim_pool or uniswap_v3 venue"):
        validate_config(data)
