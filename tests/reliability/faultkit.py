"""Run the whole Bot (wall clock, real ccxt) against an in-process facade while a script injects faults.

`run_bot_under(script)` starts the bot, runs `script(bot, facade)` alongside it, stops the bot
cleanly, and returns what the checks need. `assert_nothing_lost` is the invariant every fault must
keep: no open order of ours left anywhere, every venue trade stored exactly once, inventory exact.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.kernel.store import Store
from connectors.mock.facade import FacadeHandle, serve_facade
from connectors.mock.params import FaultParams, MockVenueParams
from connectors.mock.venue import DEFAULT_ACCOUNT
from tests.kit import inventory_from_store
from tests.reliability.procs import INITIAL_BALANCES, KEY, KEY_B, SECRET, SECRET_B, bot_config, facade_config

ACCOUNT_B = "b"
"""Engine account id of KEY_B on start_facade(second_account=True)."""

Script = Callable[[Bot, FacadeHandle], Awaitable[Any]]


async def start_facade(
    faults: FaultParams | None = None, *, second_account: bool = False, **market_overrides: Any
) -> FacadeHandle:
    """The busy venue of facade_config(); `second_account`: also account ACCOUNT_B behind KEY_B."""
    table = facade_config()["venues"]["fx"]
    for market in table["markets"]:
        market.update(market_overrides)
    params = MockVenueParams.model_validate(table)
    extra = {ACCOUNT_B: (KEY_B, SECRET_B)} if second_account else None
    return await serve_facade("127.0.0.1", 0, params, KEY, SECRET, faults=faults, extra_accounts=extra)


def make_bot(facade: FacadeHandle, workdir: Path, **venue_overrides: Any) -> Bot:
    data = bot_config(facade.url, **{"reconcile_interval_s": 1.0, **venue_overrides})
    data["bot"]["database_url"] = f"sqlite:///{workdir}/bot.sqlite"
    data["bot"]["log_format"] = "text"
    return Bot(validate_config(data), workdir)


async def run_bot_under(bot: Bot, facade: FacadeHandle, script: Script, settle_s: float = 0.5) -> Any:
    """Run the bot until `script` returns (then `settle_s` more), stop it cleanly, return the result."""
    stop = asyncio.Event()
    run = asyncio.create_task(bot.run(stop=stop))
    try:
        while not bot.started or not bot.runtime.orders.counters.placed:
            if run.done():
                run.result()
                raise AssertionError("the bot stopped before quoting")
            await asyncio.sleep(0.05)
        result = await script(bot, facade)
        await asyncio.sleep(settle_s)
    finally:
        stop.set()
        await asyncio.wait_for(run, 30)
    return result


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every ERROR record: an unhandled exception anywhere (asyncio's included) shows up here."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


def assert_nothing_lost(
    workdir: Path, facade: FacadeHandle, prefix: str = "crash-", account_id: str = DEFAULT_ACCOUNT
) -> int:
    """Store == venue account `account_id` after a clean stop; returns the number of fills."""
    exchange = facade.exchange
    ours_open = [u for u in exchange.open_orders(account_id) if u.client_order_id.startswith(prefix)]
    assert ours_open == []
    store = Store(f"sqlite:///{workdir}/bot.sqlite")
    try:
        assert store.open_orders() == []
        stored = [(f.symbol, f.venue_trade_id, f.size_lots) for f in store.fills("fx")]
        venue = [(f.symbol, f.venue_trade_id, f.size_lots) for f in exchange.fills(account_id)]
        assert len(stored) == len(set(stored)), "a fill was stored twice"
        assert sorted(stored) == sorted(venue), (set(venue) - set(stored), set(stored) - set(venue))
        expected = inventory_from_store(store, "fx", dict(INITIAL_BALANCES))
        balances = {a: b.total for a, b in exchange.balances(account_id).items()}
        assert {a: expected.get(a, Decimal(0)) for a in balances} == balances
        return len(stored)
    finally:
        store.close()
