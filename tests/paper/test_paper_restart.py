"""A paper account survives a SIGKILL: `mmbot run` on a paper venue over `mmbot mock-exchange`'s
public streams (its flow on: takers trade every few hundred ms), killed while it has fills and
open orders, then run again. The restarted bot's venue knows the orders that were open and the
balances the fills made: inventory from the store's fills equals the paper account's to the unit.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import tomli_w

from bot.kernel.store import Store
from tests.kit import child_env, inventory_from_store
from tests.reliability.procs import OPTIONS, FacadeProcess, bot_config, facade_config, start_bot

INITIAL = {"USDT": Decimal("100000"), "BTC": Decimal("1"), "ETH": Decimal("20")}


def paper_config(url: str, db: Path) -> dict[str, Any]:
    config = bot_config(url, instance_id="paper")
    config["bot"]["database_url"] = f"sqlite:///{db}"
    config["venues"]["fx"] = {
        "kind": "paper",
        "exchange": "binance",
        "urls": url,
        "options": OPTIONS,
        "maker_fee_bps": "1",
        "taker_fee_bps": "5",
        "rate_limit_ms": 1,
        "backoff_base_s": 0.05,
        "backoff_max_s": 0.5,
        "order_latency_ms": 5,
        "initial_balances": {k: str(v) for k, v in INITIAL.items()},
    }
    return config


def paper_rows(db: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The paper account row and its fills, as the bot last wrote them."""
    if not db.exists():
        return None, []
    with sqlite3.connect(db) as conn:
        try:
            rows = dict(conn.execute("SELECT name, value FROM control_state WHERE instance_id = 'paper'"))
        except sqlite3.OperationalError:  # the schema is not there yet
            return None, []
    account = json.loads(rows["paper:fx"]) if "paper:fx" in rows else None
    fills = json.loads(rows["paper:fx:fills"])["fills"] if "paper:fx:fills" in rows else []
    return account, fills


def totals(account: dict[str, Any]) -> dict[str, Decimal]:
    return {a: Decimal(free) + Decimal(locked) for a, (free, locked) in account["balances"].items()}


def test_balances_and_open_orders_survive_a_sigkill_and_restart(tmp_path: Path) -> None:
    facade = FacadeProcess(tmp_path, facade_config(seed=7, taker_rate_per_s=6.0))
    db = tmp_path / "bot.sqlite"
    config_path = tmp_path / "bot.toml"
    config_path.write_text(tomli_w.dumps(paper_config(facade.url, db)))
    log = tmp_path / "bot.log"
    try:
        proc = start_bot(config_path, tmp_path, log, env=child_env())
        deadline = time.monotonic() + 60
        while True:  # until the account has fills and orders open
            account, fills = paper_rows(db)
            if account is not None and fills and account["open"]:
                break
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed, _ = paper_rows(db)
        assert killed is not None
        open_at_kill = {o["cid"] for o in killed["open"]}

        second = start_bot(config_path, tmp_path, log, env=child_env(), duration_s=2)
        assert second.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        facade.stop()

    assert f"paper account restored: {len(open_at_kill)} open orders" in log.read_text()
    final, fills = paper_rows(db)
    assert final is not None
    # every order open at the kill was known to the restarted account: closed by it, or open still
    known = {o["cid"] for o in final["closed"]} | {o["cid"] for o in final["open"]}
    assert open_at_kill <= known
    store = Store(f"sqlite:///{db}", "paper")
    stored = [(f.symbol, f.venue_trade_id) for f in store.fills("fx")]
    assert len(stored) == len(set(stored)) == len(fills)
    assert set(stored) == {(f["symbol"], f["tid"]) for f in fills}
    expected = inventory_from_store(store, "fx", dict(INITIAL))
    paper = totals(final)
    assert {a: expected.get(a, Decimal(0)) for a in paper} == paper
