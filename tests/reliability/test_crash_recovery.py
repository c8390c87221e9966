"""Crash recovery: `mmbot run` (ccxt) against `mmbot mock-exchange`, SIGKILLed 20+ times at random moments.

After every restart and after the final clean stop the bot's store must agree with the venue:
no orphaned order of ours, every venue trade stored exactly once, and inventory (initial balances
plus stored fills) equal to the venue's balances to the last unit.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.kernel.store import Store
from tests.kit import inventory_from_store
from tests.reliability.procs import (
    INITIAL_BALANCES,
    KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    FacadeProcess,
    VenueView,
    bot_env,
    facade_config,
    orders_since_start,
    prepare_bot,
    wait_for,
    write_bot_toml,
)

PREFIX = "crash-"


def logged(log_path: Path, needle: str, times: int) -> Callable[[], bool]:
    """Whether `needle` is in the log `times` times yet (the bot got that far)."""
    return lambda: log_path.exists() and log_path.read_text().count(needle) >= times


def check_fills_and_inventory(store: Store, view: VenueView) -> int:
    """Every venue trade stored exactly once, and inventory from the store equals the venue's."""
    trades = view.trades()
    stored = store.fills("fx")
    stored_keys = [(f.symbol, f.venue_trade_id) for f in stored]
    assert len(stored_keys) == len(set(stored_keys)), "a fill was stored twice"
    venue_keys = {(t["symbol"], str(t["id"])) for t in trades}
    assert set(stored_keys) == venue_keys, (
        f"missing in store: {sorted(venue_keys - set(stored_keys))[:5]}, "
        f"not on venue: {sorted(set(stored_keys) - venue_keys)[:5]}"
    )
    by_key = {(t["symbol"], str(t["id"])): t for t in trades}
    for f in stored:
        t = by_key[(f.symbol, f.venue_trade_id)]
        venue_side = (t["side"], Decimal(t["info"]["price"]), Decimal(t["info"]["qty"]))
        assert (f.side, Decimal(f.price), Decimal(f.size)) == venue_side, f.venue_trade_id
    expected = inventory_from_store(store, "fx", dict(INITIAL_BALANCES))
    venue = view.balances()
    assert {a: expected.get(a, 0) for a in venue} == venue
    return len(stored)


async def _check_right_after_reconciliation(config_dict: dict, workdir: Path, view: VenueView) -> int:
    """Start the bot in-process up to (not including) quoting and compare the store with the venue."""
    config = validate_config(config_dict)
    bot = Bot(config, workdir)
    await bot.start()
    try:
        store_open = {r.client_order_id: r for r in bot.store.open_orders("fx")}
        venue_open = await asyncio.to_thread(view.open_orders, PREFIX)
        # Nothing was placed since start() (the engine is not running): the venue may only have
        # closed orders in between, never opened one the store does not know.
        assert set(venue_open) <= set(store_open), set(venue_open) - set(store_open)
        for cid in set(store_open) - set(venue_open):
            status = await asyncio.to_thread(view.order_status, store_open[cid].symbol, cid)
            assert status in ("closed", "canceled"), (cid, status)
        return len(venue_open)
    finally:
        await bot.shutdown()


@pytest.mark.slow
def test_sigkill_restarts_lose_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    rng = random.Random(int(os.environ.get("MMBOT_CRASH_SEED", "20260109")))
    facade = FacadeProcess(tmp_path, facade_config())
    try:
        view = VenueView(facade.url)
        config_path = write_bot_toml(tmp_path, facade.url)
        config_dict = tomllib.loads(config_path.read_text())
        log_path = tmp_path / "bot.log"
        kills = 0
        killed_with_orders_live = 0
        adopted_after_reconcile = 0
        started = time.monotonic()
        prepared = prepare_bot(config_path, tmp_path, log_path)
        while kills < int(os.environ.get("MMBOT_CRASH_KILLS", "20")):
            bot = prepared.start()
            wait_for("its start", logged(log_path, '"msg": "starting ', kills + 1), bot, log_path, 30)
            kill_at = time.monotonic() + rng.uniform(0.0, 3.0)  # connect, reconciliation or quoting
            # The next process imports while this one quotes, never while it connects and
            # reconciles: the kills spread over those phases as with a cold start.
            reconciled = logged(log_path, '"msg": "reconciled fx: ', kills + 1)
            while time.monotonic() < kill_at and not reconciled():
                time.sleep(0.02)
            prepared = prepare_bot(config_path, tmp_path, log_path)
            time.sleep(max(0.0, kill_at - time.monotonic()))
            assert bot.poll() is None, f"bot exited with {bot.returncode}: {log_path.read_text()[-3000:]}"
            bot.send_signal(signal.SIGKILL)
            bot.wait()
            kills += 1
            if view.open_orders(PREFIX):
                killed_with_orders_live += 1
            if kills % 7 == 0:
                adopted_after_reconcile += asyncio.run(
                    _check_right_after_reconciliation(config_dict, tmp_path, view)
                )
        # The last restart, then a clean stop (SIGTERM) once it quotes again.
        last_start = kills + kills // 7  # every start is stored, the in-process checks' too
        bot = prepared.start()
        wait_for("quotes of the last run", lambda: orders_since_start(tmp_path, last_start), bot, log_path)
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(timeout=30) == 0, log_path.read_text()[-3000:]
        elapsed = time.monotonic() - started

        log = log_path.read_text()
        assert "Traceback" not in log, log[log.index("Traceback") - 2000 :][:5000]
        last_stop = [json.loads(line) for line in log.splitlines() if '"stopped: ' in line][-1]
        assert last_stop["msg"].startswith("stopped: 0 open orders left"), last_stop
        assert view.open_orders(PREFIX) == {}
        store = Store(f"sqlite:///{tmp_path}/bot.sqlite")
        assert store.open_orders() == []
        assert all(v == 0 for v in view.locked().values())
        n_fills = check_fills_and_inventory(store, view)
        # The run exercised what it claims to: orphans at kill time, fills across restarts.
        assert killed_with_orders_live >= 10, killed_with_orders_live
        assert n_fills >= 20, n_fills
        # Secrets (the env vars' values) appear in no output of the whole run: logs, store, status.
        status = subprocess.run(
            [sys.executable, "-m", "bot.cli", "status", "--config", str(config_path), "--json"],
            capture_output=True, text=True, env=bot_env(), cwd=tmp_path, timeout=60,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        outputs = [
            log,
            status.stdout,
            status.stderr,
            *(p.read_bytes().decode("latin-1") for p in tmp_path.glob("bot.sqlite*")),
        ]
        assert not [o for o in outputs if KEY in o or SECRET in o]
        starts = len(store.events("start"))
        assert starts == kills + 1 + kills // 7
        print(
            f"\n{kills} kills ({killed_with_orders_live} with orders live), {n_fills} fills, "
            f"{adopted_after_reconcile} orders adopted at in-process checks, {elapsed:.0f}s"
        )
    finally:
        facade.stop()
