"""Markets a strategy paused on its own (an XEMM hedge that failed), and the operator's resume.

A strategy that can pause single markets implements `MarketPauses`: it lists what it paused (with
whatever the operator should know first, such as the size left unhedged) and resumes one market on
request. The bot-wide pause of the risk guard is separate (`RiskGuard.resume`).

A per-market pause holds until the operator resumes it, whatever happens in between:
- it is stored (`control_state`, and a `market_pause` event) the moment it is taken: a strategy
  with a `PauseAnnouncer` says so at once, and `MarketPauseRecord.sync` also runs on a period;
- at start, and for every strategy a hot reload starts, the stored pauses are handed back to their
  strategy before it runs (`HeldMarketPauses.hold`), so it never quotes the market in between;
- a stored pause a running strategy does not show (a rebuilt instance, a strategy that lifted it
  on its own) is handed back to it again by `sync`; one whose strategy or market is gone from the
  config stays stored and listed until it is resumed;
- only the operator's resume (`MarketPauseRecord.resume`: POST /resume on the ops endpoint) lifts
  it: logged, stored as a `market_resume` event (notified like other events), removed from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
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


class PauseAnnouncer:
    """What a pausing strategy calls the moment it pauses a market: the bot stores it at once."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[], None]] = []

    def announce(self) -> None:
        for listener in self.listeners:
            try:
                listener()
            except Exception:  # storing must not stop the strategy's own pause
                log.exception("storing a market pause failed; the periodic sync retries")


@runtime_checkable
class AnnouncesPauses(Protocol):
    pause_announcer: PauseAnnouncer


def pausing_strategies(strategies: Iterable[object]) -> list[MarketPauses]:
    return [s for s in strategies if isinstance(s, MarketPauses)]


def paused_markets(strategies: Iterable[object]) -> list[dict[str, Any]]:
    """Every market a strategy holds paused: strategy, market, and the strategy's detail."""
    return [
        {"strategy": s.name, "market": key, **detail}
        for s in pausing_strategies(strategies)
        for key, detail in s.paused_markets().items()
    ]


def _name(strategy: str, market: str) -> str:
    return f"{strategy}|{market}"


class MarketPauseRecord:
    """The strategies' per-market pauses, kept in the control store until the operator resumes them."""

    def __init__(
        self, controls: ControlStore, clock: Clock, store: Store, strategies: Callable[[], Iterable[object]]
    ) -> None:
        """`strategies`: the running strategies, whenever asked (a reload swaps them)."""
        self.controls = controls
        self.clock = clock
        self.store = store
        self.strategies = strategies
        self._stored = controls.with_prefix(MARKET_PAUSE)  # "<strategy>|<market>" -> detail

    def restore(self, strategies: Iterable[object]) -> list[str]:
        """Hand each stored pause of `strategies` back (before they run) and hear their new pauses
        at once from now on; returns the market keys held."""
        held = []
        for s in pausing_strategies(strategies):
            if isinstance(s, AnnouncesPauses):
                s.pause_announcer.listeners.append(self.store_now)
            for name, detail in self._stored.items():
                strategy_name, market = name.split("|", 1)
                if strategy_name != s.name:
                    continue
                if isinstance(s, HeldMarketPauses) and s.hold(market, dict(detail)):
                    log.warning("%s stays paused by strategy %s until resumed: %s", market, s.name, detail)
                    held.append(market)
                else:
                    log.warning("%s paused by strategy %s: the strategy no longer trades it; the pause "
                                "stays stored until resumed", market, s.name)  # fmt: skip
        return held

    def store_now(self) -> None:
        """A strategy paused a market: store it before anything else happens."""
        self.sync(self.strategies())

    async def periodic_sync(self) -> None:
        """The scheduler's job: pauses of a strategy that does not announce them, stored late."""
        self.sync(self.strategies())

    def sync(self, strategies: Iterable[object]) -> None:
        """Store new or changed pauses (only what differs is written); a stored pause a running
        strategy does not show is handed back to it: only `resume` lifts a pause."""
        running = pausing_strategies(strategies)
        shown = {_name(p["strategy"], p["market"]): _detail(p) for p in paused_markets(running)}
        by_name = {s.name: s for s in running}
        for name, detail in self._stored.items():
            strategy_name, market = name.split("|", 1)
            s = by_name.get(strategy_name)
            if name not in shown and isinstance(s, HeldMarketPauses) and s.hold(market, dict(detail)):
                log.warning("%s: strategy %s quoted it again without a resume; paused again", market, s.name)
        for name, detail in shown.items():
            if self._stored.get(name) == detail:
                continue
            strategy_name, market = name.split("|", 1)
            self.controls.put(MARKET_PAUSE + name, detail, self.clock.now_ns())
            if name not in self._stored:
                self.store.record_event(
                    "market_pause", self.clock.now_ns(), strategy=strategy_name, market=market, **detail
                )
            self._stored[name] = detail

    def paused(self, strategies: Iterable[object]) -> list[dict[str, Any]]:
        """Every pause: those running strategies show, and stored ones no running strategy holds."""
        shown = paused_markets(strategies)
        names = {_name(p["strategy"], p["market"]) for p in shown}
        orphans = [
            {"strategy": name.split("|", 1)[0], "market": name.split("|", 1)[1], **detail,
             "note": "no running strategy holds it: its strategy or market left the config"}
            for name, detail in self._stored.items()
            if name not in names
        ]  # fmt: skip
        return shown + orphans

    def resume(self, strategies: Iterable[object], market: str | None) -> list[str]:
        """Resume `market` (None: every paused market): in each strategy that paused it, and in the
        store; each resume logged and stored as an event. Returns the market keys resumed."""
        running = list(strategies)
        self.sync(running)  # what the strategies show now is what the resume events say
        resumed = []
        by_name = {s.name: s for s in pausing_strategies(running)}
        for name, detail in list(self._stored.items()):
            strategy_name, key = name.split("|", 1)
            if market not in (None, key):
                continue
            s = by_name.get(strategy_name)
            if s is not None:
                s.resume(key)
            self.controls.remove(MARKET_PAUSE + name)
            del self._stored[name]
            resumed.append(key)
            log.warning("operator resumed %s of strategy %s (was: %s)", key, strategy_name, detail)
            self.store.record_event(
                "market_resume", self.clock.now_ns(), strategy=strategy_name, market=key, **detail
            )
        return resumed


def _detail(pause: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in pause.items() if k not in ("strategy", "market")}
