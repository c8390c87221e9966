"""Two bots on one store (#18 item 2): every read sees only the reader's own instance."""

from __future__ import annotations

from decimal import Decimal

from bot.core.domain import Balance, Fill, Market, Order, OrderRequest, OrderState, Side
from bot.kernel.lp_store import LpPositionRow, LpStore
from bot.kernel.store import Store
from bot.kernel.store_rows import PnlSnapshotRow
from strategies.xvenue.store import XvenueLedger

TS = 1796547691768956168
MARKET = Market("va", "BTC/USDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"))


def order(instance: str, seq: int) -> Order:
    request = OrderRequest(f"{instance}-{seq}", "va", "BTC/USDT", Side.BUY, 600_000 + seq, 2, True)
    return Order(request, OrderState.OPEN, created_ns=TS, updated_ns=TS)


def fill(instance: str, trade_id: str, lots: int) -> Fill:
    return Fill("va", "BTC/USDT", trade_id, "v1", f"{instance}-1", Side.BUY, 600_001, lots,
                Decimal("0.01"), "USDT", True, TS)  # fmt: skip


def stores(tmp_path) -> tuple[Store, Store]:
    url = f"sqlite:///{tmp_path}/shared.sqlite"
    return Store(url, "a1"), Store(url, "b2")


def test_orders_fills_and_baselines_are_per_instance(tmp_path):
    a, b = stores(tmp_path)
    for seq in (1, 2, 3):
        a.record_new_order(order("a1", seq), MARKET, seq)
    b.record_new_order(order("b2", 1), MARKET, 1)
    assert [o.client_order_id for o in a.open_orders("va")] == ["a1-1", "a1-2", "a1-3"]
    assert [o.client_order_id for o in b.open_orders("va")] == ["b2-1"]
    assert (a.max_order_seq(), b.max_order_seq()) == (3, 1)
    assert b.get_order("a1-1") is None and [e.state for e in b.order_events("a1-1")] == []
    # Two accounts on venues of the same name report trade ids of their own: both fills are kept,
    # and a duplicate is still a duplicate within one instance.
    assert a.record_fill(fill("a1", "t7", 3), MARKET) and b.record_fill(fill("b2", "t7", 5), MARKET)
    assert not b.record_fill(fill("b2", "t7", 5), MARKET)
    assert [f.size_lots for f in a.fills()] == [3] and [f.size_lots for f in b.fills()] == [5]
    assert (a.fill_keys_since("va", None), b.last_fill_ts_ns("va")) == ({("BTC/USDT", "t7")}, TS)
    a.snapshot_balances("va", [Balance("BTC", Decimal(1), Decimal(0))], TS, "start")
    b.snapshot_balances("va", [Balance("BTC", Decimal(7), Decimal(0))], TS - 5, "start")
    assert a.balance_snapshot("va", "first")["BTC"].free == Decimal(1)  # not b's earlier snapshot
    assert b.balance_snapshot("va", "latest")["BTC"].free == Decimal(7)
    snap = PnlSnapshotRow(market="va:BTC/USDT", ts_ns=TS, position_base="0.005", cash_quote="-300",
                          fees_quote="0", mid="60000", pnl_quote="0")  # fmt: skip
    b.snapshot_pnl([snap])
    assert a.latest_pnl() == {} and set(b.latest_pnl()) == {"va:BTC/USDT"}
    a.record_event("start", TS)
    assert (len(a.events("start")), b.events("start")) == (1, [])
    whole = Store(a.url)  # a reader of the whole database (tools) sees both, and who wrote what
    assert {(o.client_order_id, o.instance_id) for o in whole.open_orders()} == {
        ("a1-1", "a1"), ("a1-2", "a1"), ("a1-3", "a1"), ("b2-1", "b2"),
    }  # fmt: skip
    assert len(whole.fills()) == 2 and whole.instance_ids() == ["a1", "b2"]


def test_lp_positions_and_round_trips_are_per_instance(tmp_path):
    a, b = stores(tmp_path)
    position = dict(strategy="lp", pool="p", token_id=9, tick_lower=-60, tick_upper=60, liquidity="1",
                    amount0_in="1", amount1_in="1", value_in_token1=2.0, opened_ns=TS)  # fmt: skip
    LpStore(a).open_position(LpPositionRow(**position))
    assert [p.token_id for p in LpStore(a).positions("lp", open_only=True)] == [9]
    assert LpStore(b).positions("lp", open_only=True) == []  # b never adopts a's position
    round_trip = dict(strategy="xemm", maker_venue="va", maker_symbol="BTC/USDT", maker_trade_id="t7",
                      taker_market="vb:BTC/USDT", maker_side="buy", maker_price="1", size_base="1",
                      maker_fee="0", expected_hedge_price="1", fill_ts_ns=TS)  # fmt: skip
    assert XvenueLedger(a).open_round_trip(**round_trip) is not None
    assert XvenueLedger(b).open_round_trip(**round_trip) is not None  # b's own fill t7: hedged too
    assert XvenueLedger(a).open_round_trip(**round_trip) is None
    assert [r.instance_id for r in XvenueLedger(b).round_trips()] == ["b2"]
