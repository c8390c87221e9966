"""Two bots on one PostgreSQL database (#18 items 2 and 3): same venue name, two accounts on one
facade (real ccxt), started together on an empty database, one of them killed and restarted while
the other trades.

Before: the second bot closed the first's live orders as "absent on the venue", dropped its own
fills whose trade ids matched the other's, crashed on start while the other had live orders, took
the other's balance snapshot as its flat inventory, and `status` merged both.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlmodel import Session, select

from bot.cli import main
from bot.kernel.store import Store
from bot.kernel.store_rows import OrderRow
from tests.db.conftest import PostgresServer
from tests.reliability.procs import (
    ACCOUNT_B_ENV,
    INITIAL_BALANCES,
    KEY,
    KEY_B,
    KEY_B_ENV,
    SECRET,
    SECRET_B,
    SECRET_B_ENV,
    FacadeProcess,
    VenueView,
    bot_config,
    bot_env,
    facade_config,
    start_bot,
)


def _wait(what: str, predicate: Any, bots: dict[str, subprocess.Popen[bytes]], logs: dict[str, Path]) -> None:
    deadline = time.monotonic() + 90
    while not predicate():
        for name, proc in bots.items():
            assert proc.poll() is None, f"{name} exited ({proc.returncode}): {logs[name].read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def whole_orders(store: Store) -> list[OrderRow]:
    with Session(store.engine) as session:
        return list(session.exec(select(OrderRow)))


def _status_all(config: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """`mmbot status --all --json` (in this process: a CLI child costs seconds of imports)."""
    assert main(["status", "--all", "--json", "--config", str(config)]) == 0
    return list(json.loads(capsys.readouterr().out))


def test_two_bots_same_venue_name_two_accounts_one_database(tmp_path, postgres: PostgresServer, capsys):
    url = postgres.url("psycopg", postgres.new_database())
    facade = FacadeProcess(tmp_path, facade_config(), second_account=True)
    env = bot_env(**ACCOUNT_B_ENV)
    configs, logs, bots = {}, {}, {}
    for name, keys in (("bot1", {}), ("bot2", {"api_key_env": KEY_B_ENV, "secret_env": SECRET_B_ENV})):
        config = bot_config(facade.url, name, **keys)  # venue "fx" in both
        config["bot"]["database_url"] = url
        configs[name], logs[name] = tmp_path / f"{name}.toml", tmp_path / f"{name}.log"
        configs[name].write_text(tomli_w.dumps(config))
    views = {"bot1": VenueView(facade.url, KEY, SECRET), "bot2": VenueView(facade.url, KEY_B, SECRET_B)}
    try:
        for name in ("bot1", "bot2"):  # together, on an empty database
            bots[name] = start_bot(configs[name], tmp_path, logs[name], env)
        _wait("fills on both accounts", lambda: all(len(v.trades()) >= 3 for v in views.values()), bots, logs)
        fleet = _status_all(configs["bot1"], capsys)
        # bot2 dies; bot1 keeps quoting; bot2 comes back and reconciles its own orders only
        bots["bot2"].send_signal(signal.SIGKILL)
        bots["bot2"].wait()
        crashed = _status_all(configs["bot1"], capsys)
        starts = len(Store(url, "bot2").events("reconcile"))
        bots["bot2"] = start_bot(configs["bot2"], tmp_path, logs["bot2"], env)
        _wait("bot2 reconciled", lambda: len(Store(url, "bot2").events("reconcile")) > starts, bots, logs)
        _wait("bot2 fills after restart", lambda: len(views["bot2"].trades()) >= 6, bots, logs)
        for name in ("bot1", "bot2"):
            bots[name].send_signal(signal.SIGTERM)
        for name in ("bot1", "bot2"):
            assert bots[name].wait(timeout=60) == 0, logs[name].read_text()[-3000:]
        venue_truth = {n: (v.trades(), v.balances()) for n, v in views.items()}
        stopped = _status_all(configs["bot2"], capsys)
    finally:
        for proc in bots.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        facade.stop()
    assert [(f["instance_id"], f["state"]) for f in fleet] == [("bot1", "running"), ("bot2", "running")]
    assert [(f["instance_id"], f["state"]) for f in crashed] == [("bot1", "running"), ("bot2", "crashed")]
    assert [(f["instance_id"], f["state"]) for f in stopped] == [("bot1", "stopped"), ("bot2", "stopped")]
    # bot2's restart reconciled its own orders only: none of bot1's was closed by a reconciliation
    # (the reasons reconciliation writes), and no bot holds a row of the other
    reconciled = {"absent on the venue at reconciliation", "not in the venue's open orders"}
    whole = Store(url)
    closed = [(o.instance_id, o.client_order_id) for o in whole_orders(whole) if o.reason in reconciled]
    assert [c for c in closed if c[0] == "bot1"] == []
    assert {o.instance_id for o in whole_orders(whole)} == {"bot1", "bot2"}
    assert all(o.client_order_id.startswith(f"{o.instance_id}-") for o in whole_orders(whole))
    for name, (trades, balances) in venue_truth.items():
        store = Store(url, name)
        stored = sorted((f.symbol, f.venue_trade_id, f.size) for f in store.fills())
        venue = sorted((t["symbol"], str(t["id"]), t["info"]["qty"]) for t in trades)
        assert [(s, i, Decimal(q)) for s, i, q in stored] == [(s, i, Decimal(q)) for s, i, q in venue]
        position = {m: Decimal(0) for m in ("BTC", "ETH")}
        for fill in store.fills():
            position[fill.symbol.split("/")[0]] += Decimal(fill.size) * (1 if fill.side == "buy" else -1)
        for asset, held in position.items():  # fees are in the quote asset on this venue
            assert held == balances[asset] - INITIAL_BALANCES[asset], (name, asset)
        print(f"\n{name}: {len(trades)} trades, position {position}", file=sys.__stdout__)
