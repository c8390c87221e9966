"""`mmbot status` and `mmbot cancel-all` against real processes: truthful across runs, and never
acting behind a running bot's back.

Before (issue #16): status showed the position and PnL of the last run only (BTC -0.010 shown vs
+0.004 true after restarts); cancel-all on the paper config started fresh mock venues and marked
the running bot's orders closed in the store.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import tomli_w

from bot.core.domain import OrderState
from bot.kernel.store import Store
from tests.kit import REPO_ROOT, child_env
from tests.reliability.procs import (
    INITIAL_BALANCES,
    FacadeProcess,
    VenueView,
    bot_env,
    facade_config,
    orders_since_start,
    prepare_bot,
    start_bot,
    write_bot_toml,
)

TOKEN = "ops-token-for-the-test-0123"


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "bot.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def _wait(what: str, predicate: Any, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        tail = log.read_text()[-3000:]
        assert proc.poll() is None, f"bot exited ({proc.returncode}) waiting for {what}: {tail}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {tail}"
        time.sleep(0.3)


def test_status_counts_every_run_and_equals_the_venues_balance_change(tmp_path):
    facade = FacadeProcess(tmp_path, facade_config())
    try:
        view = VenueView(facade.url)
        config_path = write_bot_toml(tmp_path, facade.url)
        log = tmp_path / "bot.log"
        # run 1 trades, then dies (SIGKILL: its last fills are stored by run 2's reconciliation)
        bot = start_bot(config_path, tmp_path, log)
        run_2 = prepare_bot(config_path, tmp_path, log)  # its imports while run 1 trades
        _wait("fills of run 1", lambda: len(view.trades()) >= 4, bot, log)
        bot.send_signal(signal.SIGKILL)
        bot.wait()
        after_run_1 = len(view.trades())
        # run 2 (the restart) quotes (orders of its own) and trades more, then stops cleanly
        bot = run_2.start()
        _wait("run 2 quoting", lambda: orders_since_start(tmp_path, 1), bot, log)
        _wait("fills of run 2", lambda: len(view.trades()) >= after_run_1 + 4, bot, log)
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=30) == 0, log.read_text()[-3000:]
        status = _cli("status", "--config", str(config_path), "--json", env=bot_env(), cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        balances = view.balances()
        n_trades = len(view.trades())
    finally:
        facade.stop()
    markets = json.loads(status.stdout)["markets"]
    delta = {asset: balances[asset] - start for asset, start in INITIAL_BALANCES.items()}
    btc, eth = markets["fx:BTC/USDT"], markets["fx:ETH/USDT"]
    print(f"\n{n_trades} trades over 2 runs; venue change {delta}; status {btc}, {eth}")
    assert int(btc["fills"]) + int(eth["fills"]) == n_trades
    assert Decimal(btc["position_base"]) == delta["BTC"]
    assert Decimal(eth["position_base"]) == delta["ETH"]
    assert Decimal(btc["cash_quote"]) + Decimal(eth["cash_quote"]) == delta["USDT"]
    for m in (btc, eth):  # marked at the newest stored mid
        assert Decimal(m["mid"]) > 0
        expected = Decimal(m["cash_quote"]) + Decimal(m["position_base"]) * Decimal(m["mid"])
        assert Decimal(m["pnl_quote"]) == expected


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _store_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read with sqlite3 itself (independent of the Store class)."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: db.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in sorted(tables)}


def _ops_up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def test_cancel_all_asks_the_running_paper_bot_and_refuses_without_it(tmp_path):
    """The embedded paper config: with the bot running, cancel-all goes through its ops endpoint
    (token-protected); with no bot running, it refuses in one line and leaves the store alone."""
    config = tomllib.loads((REPO_ROOT / "bot" / "default_config.toml").read_text())
    port = _free_port()
    config["bot"].update(database_url=f"sqlite:///{tmp_path}/paper.sqlite", stop_timeout_s=2.0)
    config["bot"]["ops"].update(port=port)
    config_path = tmp_path / "paper.toml"
    config_path.write_text(tomli_w.dumps(config))
    env = child_env(MMBOT_OPS_TOKEN=TOKEN)
    log = tmp_path / "paper.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config_path)],
            cwd=tmp_path, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    store = Store(f"sqlite:///{tmp_path}/paper.sqlite")
    try:
        _wait("quotes", lambda: len(store.open_orders()) >= 4 and _ops_up(port), proc, log)
        starts = len(store.events("start"))
        quoted = {o.client_order_id for o in store.open_orders()}

        done = _cli("cancel-all", "--config", str(config_path), env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "cancelled by the running bot" in done.stdout
        # the running bot did it: every order it had open is closed in its store ...
        states = {cid: OrderState(row.state) for cid in quoted if (row := store.get_order(cid))}
        assert len(states) == len(quoted) and all(s.is_terminal for s in states.values()), states
        # ... and the command started no venue and reconciled nothing of its own
        assert len(store.events("start")) == starts and store.events("cancel_all") == []
        assert proc.poll() is None

        bad_env = child_env(MMBOT_OPS_TOKEN="not-the-token")
        wrong = _cli("cancel-all", "--config", str(config_path), env=bad_env, cwd=tmp_path)
        assert wrong.returncode == 1 and wrong.stdout == ""
        assert wrong.stderr.count("\n") == 1 and "refused the token" in wrong.stderr

        _wait("new quotes", lambda: len(store.open_orders()) >= 4, proc, log)
        proc.send_signal(signal.SIGKILL)  # the paper venues and their orders die with it
        proc.wait()
        rows = _store_rows(tmp_path / "paper.sqlite")
        open_rows = len(store.open_orders())
        refused = _cli("cancel-all", "--config", str(config_path), env=env, cwd=tmp_path)
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.count("\n") == 1 and "paper venues" in refused.stderr, refused.stderr
        assert _store_rows(tmp_path / "paper.sqlite") == rows  # not one row touched
        assert open_rows >= 4
    finally:
        store.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
