"""`mmbot status`: per-position PnL attribution from the stored LP, mark, gas and hedge rows."""

import pytest

from bot.kernel.lp_store import HedgeTradeRow, LpMarkRow, LpPositionRow, LpStore
from bot.kernel.store import Store
from bot.reports.lp_status import collect_lp_status, format_lp_status

S = 10**9


def position(token_id: int, opened_s: int) -> LpPositionRow:
    return LpPositionRow(
        strategy="lp", pool="uni", token_id=token_id, tick_lower=-197_100, tick_upper=-195_410,
        liquidity="1000", amount0_in="1", amount1_in="1", value_in_token1=30_000.0, opened_ns=opened_s * S,
    )  # fmt: skip


def mark(position_id: int, ts_s: int, lvr: float, expected: float, pending: float, swap: float) -> LpMarkRow:
    return LpMarkRow(
        position_id=position_id, ts_ns=ts_s * S, lvr_realized_token1=lvr, lvr_expected_token1=expected,
        pending_fees_token1=pending, swap_cost_token1=swap,
    )  # fmt: skip


GAS = [  # (ts_s, operation, cost): the first position's opening, a compound, the recentre, a compound
    (0, "swap", 2.0), (0, "mint", 7.0), (50, "collect", 1.0), (50, "increase_liquidity", 1.5),
    (100, "decrease_liquidity", 1.25), (100, "collect", 1.0), (100, "burn", 0.5),
    (100, "swap", 2.5), (100, "mint", 8.0), (150, "collect", 3.0),
]  # fmt: skip


def hedge(ts_s: int, cost: float) -> HedgeTradeRow:
    return HedgeTradeRow(
        strategy="hedge", market="va:ETH/USDT", ts_ns=ts_s * S, client_order_id=f"h{ts_s}", side="sell",
        price="3000", size="0.5", fee="0.3", is_maker=False, mid_at_decision=3000.0, cost_quote=cost,
    )  # fmt: skip


def test_status_attributes_fees_gas_lvr_and_hedge_cost_to_each_position(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/bot.sqlite")
    lp = LpStore(store)
    first = lp.open_position(position(7, opened_s=0))
    # The recentre at t=100 closes #7 and opens #8 at the same instant.
    for ts, op, cost in GAS:
        lp.record_gas("lp", "uni", ts * S, op, int(cost * 1e15), cost)
    lp.record_gas("other", "uni", 60 * S, "mint", 1, 99.0)  # another strategy's gas is not ours
    lp.record_fees("lp", "uni", 7, 50 * S, 10, 20, 12.0)
    lp.record_fees("lp", "uni", 7, 100 * S, 10, 20, 8.5)
    lp.mark_position(mark(first, 60, 1.0, 1.1, 3.0, 0.75))
    lp.close_position(first, 100 * S, 1, 1, "out of range")
    # The close's mark replaces the running one: fees are collected (0 pending), LVR is final.
    lp.mark_position(mark(first, 100, 4.0, 3.5, 0.0, 0.75))
    second = lp.open_position(position(8, opened_s=100))
    lp.mark_position(mark(second, 160, 0.5, 0.6, 2.25, 1.0))
    lp.record_hedge_trade(hedge(20, 0.6))
    lp.record_hedge_trade(hedge(100, 0.4))  # at the recentre instant: the new position's
    lp.record_hedge_trade(hedge(130, 0.2))

    status = collect_lp_status(store)
    by_id = {a["token_id"]: a for a in status["positions"]}
    assert set(by_id) == {7, 8} and len(lp.marks()) == 2
    a = by_id[7]
    assert not a["open"]
    assert a["fees_token1"] == pytest.approx(20.5)
    assert a["gas_token1"] == pytest.approx(2.0 + 7.0 + 1.0 + 1.5 + 1.25 + 1.0 + 0.5)
    assert (a["lvr_token1"], a["lvr_expected_token1"], a["swap_cost_token1"]) == (4.0, 3.5, 0.75)
    assert a["hedge_cost_token1"] == pytest.approx(0.6)
    assert a["net_token1"] == pytest.approx(20.5 - 4.0 - 14.25 - 0.75 - 0.6)
    b = by_id[8]
    assert b["open"]
    assert b["fees_token1"] == pytest.approx(2.25)  # nothing collected yet: the mark's pending fees
    assert b["gas_token1"] == pytest.approx(2.5 + 8.0 + 3.0)
    assert b["hedge_cost_token1"] == pytest.approx(0.6)
    assert b["net_token1"] == pytest.approx(2.25 - 0.5 - 13.5 - 1.0 - 0.6)
    text = "\n".join(format_lp_status(status))
    assert (
        "  uni #7 closed: fees 20.5000 − LVR 4.0000 (expected 3.5000) − gas 14.2500 − swap 0.7500 "
        "− hedge 0.6000 = net 0.9000"
    ) in text
    assert "  uni #8 open: fees 2.2500 − LVR 0.5000" in text


def test_a_position_without_a_mark_shows_lvr_as_not_stored(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/bot.sqlite")
    lp = LpStore(store)
    lp.open_position(position(3, opened_s=0))
    lp.record_gas("lp", "uni", 0, "mint", 1, 7.0)
    (a,) = collect_lp_status(store)["positions"]
    assert a["lvr_token1"] is None and a["net_token1"] == pytest.approx(-7.0)
    assert "uni #3 open: fees 0.0000 − LVR n/a − gas 7.0000" in "\n".join(
        format_lp_status(collect_lp_status(store))
    )
    assert "(without LVR)" in "\n".join(format_lp_status(collect_lp_status(store)))


def test_status_counts_the_hedge_carry_stored_for_each_position(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/bot.sqlite")
    lp = LpStore(store)
    first = lp.open_position(position(7, opened_s=0))
    lp.close_position(first, 100 * S, 1, 1, "out of range")
    second = lp.open_position(position(8, opened_s=100))
    lp.record_hedge_trade(hedge(20, 0.6))
    lp.set_hedge_carry("hedge", first, 60 * S, 0.1)
    lp.set_hedge_carry("hedge", first, 100 * S, 0.25)  # a running total: replaced, not added
    lp.set_hedge_carry("hedge", second, 160 * S, 0.05)
    lp.set_hedge_carry("hedge2", second, 160 * S, 0.02)  # a second hedger's adds to it
    assert lp.hedge_carry() == pytest.approx({first: 0.25, second: 0.07})
    status = collect_lp_status(store)
    by_id = {a["token_id"]: a for a in status["positions"]}
    assert by_id[7]["hedge_carry_token1"] == pytest.approx(0.25)
    assert by_id[7]["hedge_cost_token1"] == pytest.approx(0.6 + 0.25)
    assert by_id[8]["hedge_cost_token1"] == pytest.approx(0.07)
    assert "− hedge 0.8500 (carry 0.2500) = net" in "\n".join(format_lp_status(status))
    # Another bot's rows in the same database are not ours.
    assert LpStore(store.for_instance("other")).hedge_carry() == {}
