"""What `/health` answers: healthy only when nothing the operator should know about is wrong.

Unhealthy (503, with every reason) while a venue is disconnected, one of its books is not live (the
venue said so per market: BookStatus, a lost or stalled book) or older than `stale_book_s`, a
supervised task (a stream, a job, a strategy, the engine) is restarting or has
failed, a strategy holds a market paused, or the kill switch paused quoting. An operator's own
pause is reported (`paused`) but is not a fault. A strategy that runs on with part of its job
undone (`Degradations`: an LP position it could not adopt, its pool left unmanaged) makes the bot
"degraded" (503 too, every part named) when nothing worse is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from bot.core.clock import NS_PER_S
from bot.core.supervision import Supervisor
from bot.kernel.runtime import Runtime
from bot.ops.operator import Operator


@runtime_checkable
class Degradations(Protocol):
    """A strategy that keeps running with something left undone the operator must see to."""

    name: str

    def degradations(self) -> list[str]:
        """What is undone now, each naming what it concerns (empty: nothing)."""
        ...


def _venues(rt: Runtime, stale_book_s: float, reasons: list[str]) -> dict[str, Any]:
    engine = rt.engine
    now_ns = rt.clock.now_ns()
    venues: dict[str, Any] = {}
    for name in rt.venues:
        ages: dict[str, float | None] = {}
        not_live: list[str] = []
        for slot, m in enumerate(engine.state.markets):
            if m.venue != name or slot in engine.retired:  # a market a reload removed: unstreamed
                continue
            last = int(engine.state.last_book_ns[slot])
            ages[m.symbol] = None if last == 0 else round((now_ns - last) / NS_PER_S, 3)
            if not engine.book_live(slot):
                not_live.append(m.symbol)
        connected = engine.venue_connected(name)
        stale = [s for s, age in ages.items() if age is None or age > stale_book_s]
        fresh = not stale and not not_live
        venues[name] = {
            "connected": connected,
            "books_fresh": fresh,
            "book_age_s": ages,
            "books_not_live": not_live,
        }
        if not connected:
            reasons.append(f"venue {name} disconnected")
        reasons.extend(f"book {name}:{symbol} not live (lost or stalled)" for symbol in not_live)
        reasons.extend(f"book {name}:{symbol} older than {stale_book_s:g}s" for symbol in stale)
    return venues


def health_report(
    rt: Runtime,
    stale_book_s: float,
    supervisor: Supervisor | None = None,
    operator: Operator | None = None,
    strategies: Iterable[object] = (),
) -> tuple[bool, dict[str, Any]]:
    """(healthy, the JSON body): per venue connection and book ages, tasks, degradations, reasons."""
    reasons: list[str] = []
    venues = _venues(rt, stale_book_s, reasons)
    problems = supervisor.problems() if supervisor is not None else {}
    reasons.extend(f"task {name} {problem}" for name, problem in problems.items())
    if operator is not None:
        reasons.extend(
            f"market {p['market']} paused by strategy {p['strategy']}" for p in operator.paused_markets()
        )
    guard = rt.risk_guard
    if guard.paused_by == "kill_switch":
        reasons.append(f"quoting paused by the kill switch: {guard.pause_reason}")
    degraded = {
        s.name: parts for s in strategies if isinstance(s, Degradations) and (parts := s.degradations())
    }
    ok = not reasons and not degraded
    status = "ok" if ok else "unhealthy" if reasons else "degraded"
    reasons.extend(f"strategy {name} degraded: {part}" for name, parts in degraded.items() for part in parts)
    return ok, {
        "status": status,
        "reasons": reasons,
        "degraded": degraded,
        "paused": rt.engine.paused,
        "venues": venues,
        "tasks": problems,
    }
