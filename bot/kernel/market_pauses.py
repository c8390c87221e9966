"""Markets a strategy paused on its own (an XEMM hedge that failed), and the operator's resume.

A strategy that can pause single markets implements `MarketPauses`: it lists what it paused (with
whatever the operator should know first, such as the size left unhedged) and resumes one market on
request. A resume is logged, stored as a `market_resume` event (notified like other events) and
shows in `/status`; the bot-wide pause of the risk guard is separate (`RiskGuard.resume`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from bot.core.clock import Clock
from bot.kernel.store import Store

log = logging.getLogger("mmbot.risk")


@runtime_checkable
class MarketPauses(Protocol):
    name: str

    def paused_markets(self) -> dict[str, dict[str, str]]:
        """Market key -> what the operator should know before resuming it."""
        ...

    def resume(self, market_key: str) -> bool:
        """Quote `market_key` again; False when it was not paused."""
        ...


def pausing_strategies(strategies: Iterable[object]) -> list[MarketPauses]:
    return [s for s in strategies if isinstance(s, MarketPauses)]


def paused_markets(strategies: Iterable[object]) -> list[dict[str, Any]]:
    """Every market a strategy holds paused: strategy, market, and the strategy's detail."""
    return [
        {"strategy": s.name, "market": key, **detail}
        for s in pausing_strategies(strategies)
        for key, detail in s.paused_markets().items()
    ]


def resume_markets(strategies: Iterable[object], market: str | None, store: Store, clock: Clock) -> list[str]:
    """Resume `market` (None: every paused market) in each strategy that paused it; returns the keys."""
    resumed = []
    for s in pausing_strategies(strategies):
        for key, detail in s.paused_markets().items():
            if market not in (None, key) or not s.resume(key):
                continue
            resumed.append(key)
            log.warning("operator resumed %s of strategy %s (was: %s)", key, s.name, detail)
            store.record_event("market_resume", clock.now_ns(), strategy=s.name, market=key, **detail)
    return resumed
