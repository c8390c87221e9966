"""`mmbot cancel-all` with no bot running, and which venues such a command may touch."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app.config import AppConfig
from bot.app.lifecycle import Bot
from bot.core.clock import run_simulated
from connectors.registry import is_live, is_pool


def live_venues(config: AppConfig) -> list[str]:
    """Venues trading on a real exchange (their orders exist whether or not a bot runs)."""
    return [name for name, params in config.venues.items() if is_live(params)]


def paper_venues(config: AppConfig) -> list[str]:
    """Order-book venues simulated inside the bot (mock, replay): their orders die with it."""
    return [name for name, p in config.venues.items() if not is_pool(p) and not is_live(p)]


def cancel_all_offline(config: AppConfig, config_dir: Path) -> int:
    """`mmbot cancel-all` with no bot running: on the live venues only.

    A paper venue built here would be a fresh, empty simulation: reconciling the store against it
    would close the orders a running bot has there. Its markets are left out (the config is not
    revalidated: strategies naming them do not matter to a cancel).
    """
    live = set(live_venues(config))
    only_live = config.model_copy(
        update={
            "venues": {n: p for n, p in config.venues.items() if n in live},
            "markets": [m for m in config.markets if m.venue in live],
        }
    )

    async def main() -> int:
        return await Bot(only_live, config_dir).cancel_all_offline()

    return run_simulated(main) if config.bot.clock == "simulated" else asyncio.run(main())
