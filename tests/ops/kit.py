"""Helpers for the ops tests: a bot on injected mock venues, scripted market moves."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.app.config import AppConfig
from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock
from bot.core.ids import client_order_prefix
from connectors.mock.venue import MockVenue


def crash_fair_price(venue: MockVenue, symbol: str, factor: float) -> None:
    """Scale the simulated fair price path by `factor` from now on (a scripted crash or spike)."""
    assert venue.flow is not None
    path = venue.flow._by_symbol[symbol].path  # the test reaches into the flow on purpose
    path._log[:] = [x + math.log(factor) for x in path._log]


async def our_open_orders(bot: Bot) -> int:
    prefix = client_order_prefix(bot.config.bot.instance_id)
    n = 0
    for venue in bot.venues.values():
        n += sum(1 for u in await venue.fetch_open_orders() if u.client_order_id.startswith(prefix))
    return n


def mock_venues(config: AppConfig) -> dict[str, MockVenue]:
    clock = LoopClock(epoch_ns=int(config.bot.sim_start.timestamp() * 1e9))
    return {name: MockVenue(name, params, clock) for name, params in config.venues.items()}


async def run_with_script(
    bot: Bot, duration_s: float, script: Callable[[Bot], Awaitable[Any]], **run_kw: Any
) -> Any:
    """Run the bot for `duration_s` while `script(bot)` runs beside it; returns the script's result."""
    run = asyncio.create_task(bot.run(duration_s=duration_s, **run_kw))
    while not bot.started:
        await asyncio.sleep(0.01)
    try:
        return await script(bot)
    finally:
        await run


def store_path(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/bot.sqlite"
