"""Markets a strategy paused on its own (an XEMM hedge that failed), and the operator's resume.

A strategy that can pause single markets implements `MarketPauses`: it lists what it paused (with
whatever the operator should know first, such as the size left unhedged) and resumes one market on
request. A resume is logged, stored as a `market_resume` event (notified like other events) and
shows in `/status`; the bot-wide pause of the risk guard is separate (`RiskGuard.resume`).

Per-market pauses survive restarts: `MarketPauseRecord` keeps the stored pauses equal to the
strategies' (`sync`, after every operator resume and on a short period: a strategy pauses on its
own) and, at start, hands each stored pause back to its strategy when it can take it
(`HeldMarketPauses.hold`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from bot.core.clock import Clock
from bot.kernel.control_store import MARKET_PAUSE, ControlStore
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


@runtime_checkable
class HeldMarketPauses(MarketPauses, Protocol):
    """A pausing strategy that can be handed a pause it held before a restart."""

    def hold(self, market_key: str, detail: dict[str, str]) -> bool:
        """Pause `market_key` again with `detail` as `paused_markets` gave it; False when the
        strategy no longer trades that market."""
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


class MarketPauseRecord:
    """The strategies' per-market pauses, kept in the control store across restarts."""

    def __init__(self, controls: ControlStore, clock: Clock) -> None:
        self.controls = controls
        self.clock = clock
        self._stored = controls.with_prefix(MARKET_PAUSE)  # "<strategy>|<market>" -> detail

    def restore(self, strategies: Iterable[object]) -> list[str]:
        """Hand each stored pause back to its strategy (before it runs); returns the market keys.
        A pause whose strategy or market is gone from the config is dropped with a warning."""
        by_name = {s.name: s for s in pausing_strategies(strategies)}
        held = []
        for name, detail in list(self._stored.items()):
            strategy_name, market = name.split("|", 1)
            strategy = by_name.get(strategy_name)
            if isinstance(strategy, HeldMarketPauses) and strategy.hold(market, dict(detail)):
                log.warning("%s stays paused by strategy %s from before the restart: %s",
                            market, strategy_name, detail)  # fmt: skip
                held.append(market)
                continue
            log.warning("dropped the stored pause of %s by strategy %s: it is gone or cannot hold it",
                        market, strategy_name)  # fmt: skip
            self.controls.remove(MARKET_PAUSE + name)
            del self._stored[name]
        return held

    def sync(self, strategies: Iterable[object]) -> None:
        """Store new or changed pauses and remove resumed ones (only what differs is written)."""
        now = {f"{p['strategy']}|{p['market']}": _detail(p) for p in paused_markets(strategies)}
        for name in self._stored.keys() - now.keys():
            self.controls.remove(MARKET_PAUSE + name)
        for name, detail in now.items():
            if self._stored.get(name) != detail:
                self.controls.put(MARKET_PAUSE + name, detail, self.clock.now_ns())
        self._stored = now


def _detail(pause: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in pause.items() if k not in ("strategy", "market")}
