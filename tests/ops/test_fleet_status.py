"""`mmbot status --all` (#18 item 2): one line per bot on the store, each from its own rows, its
state from its instance lock (real filelock) and its last run's events."""

from __future__ import annotations

import json
from decimal import Decimal

import tomli_w

from bot.app.instance_lock import acquire_instance_lock, instance_running
from bot.cli import main
from bot.core.domain import Fill, Market, Side
from bot.kernel.control_store import OPERATOR_PAUSE, ControlStore
from bot.kernel.store import Store
from bot.kernel.store_rows import PnlSnapshotRow
from tests.kit import small_config_dict

TS = 1796547691768956168
MARKET = Market("va", "BTC/USDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"))


def buy(store: Store, trade_id: str, lots: int, price_ticks: int) -> None:
    fill = Fill(
        "va", "BTC/USDT", trade_id, "v", "x-1", Side.BUY, price_ticks, lots, Decimal(0), "USDT", True, TS
    )
    assert store.record_fill(fill, MARKET)


def test_status_all_shows_each_instance_with_its_own_state_position_and_pnl(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/fleet.sqlite"
    whole = Store(url)
    running, stopped, crashed = (whole.for_instance(i) for i in ("a1", "b2", "c3"))
    for store in (running, stopped, crashed):
        store.record_event("start", TS)
    stopped.record_event("stop", TS + 5)
    buy(running, "t1", 3, 600_000)  # 0.003 BTC at 60000
    buy(stopped, "t1", 5, 600_000)  # the same trade id on another account: its own fill
    mark = PnlSnapshotRow(market="va:BTC/USDT", ts_ns=TS, position_base="0.003", cash_quote="-180",
                          fees_quote="0", mid="61000", pnl_quote="3")  # fmt: skip
    running.snapshot_pnl([mark])
    ControlStore(running, "a1").beat(TS, 30.0, ["va:BTC/USDT"])
    ControlStore(running, "a1").put(OPERATOR_PAUSE, {"source": "operator", "reason": "x"}, TS)
    lock = acquire_instance_lock(url, "a1")  # a1's process is alive
    try:
        assert [instance_running(url, i) for i in ("a1", "b2", "c3")] == [True, False, False]
        config = tmp_path / "bot.toml"
        config.write_text(tomli_w.dumps(small_config_dict(url)))
        assert main(["status", "--all", "--json", "--config", str(config)]) == 0
        fleet = json.loads(capsys.readouterr().out)
        assert main(["status", "--all", "--config", str(config)]) == 0
        table = capsys.readouterr().out.splitlines()
    finally:
        lock.release()
    assert [(f["instance_id"], f["state"], f["open_orders"], f["position"]) for f in fleet] == [
        ("a1", "running, paused", 0, {"BTC": "0.003"}),
        ("b2", "stopped", 0, {"BTC": "0.005"}),
        ("c3", "crashed", 0, {}),
    ]
    assert Decimal(fleet[0]["pnl"]["USDT"]) == Decimal("0.003") * 61000 - 180  # marked at its own mid
    assert fleet[1]["pnl"] == {}  # no mid of its own: no PnL claimed
    age_s = fleet[0]["heartbeat_age_s"]
    assert age_s is not None and age_s > 0 and fleet[1]["heartbeat_age_s"] is None
    assert table[0].split() == ["instance", "state", "markets", "open", "position", "pnl", "heartbeat"]
    assert table[1].split()[:6] == ["a1", "running,", "paused", "va:BTC/USDT", "0", "BTC"]
    assert [line.split()[:2] for line in table[2:]] == [["b2", "stopped"], ["c3", "crashed"]]
