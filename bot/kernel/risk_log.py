"""How risk refusals are logged: at WARNING with the limit named, without flooding the log.

A quoting strategy whose side sits at a limit is refused at every requote: the first refusal of a
streak (per market, side and limit) is a WARNING, the repeats are DEBUG until an order of that
side passes or another limit refuses it. A refusal of an order that closes a position (a hedge,
an unwind) is always a WARNING: it leaves that position open.
"""

from __future__ import annotations

import logging
from collections import Counter

from bot.core.domain import Side
from bot.kernel.new_order import NewOrder
from bot.kernel.risk import Refusal

log = logging.getLogger("mmbot.risk")


class RefusalLog:
    def __init__(self) -> None:
        self.by_limit: Counter[str] = Counter()  # refusals per limit since start
        self._streaks: dict[tuple[str, Side], str] = {}  # (market key, side) -> limit refusing it

    def note(self, market_key: str, new: NewOrder, refusal: Refusal) -> None:
        self.by_limit[refusal.limit] += 1
        key = (market_key, new.side)
        repeat = self._streaks.get(key) == refusal.limit and not new.reduces_exposure
        self._streaks[key] = refusal.limit
        what = "closing order" if new.reduces_exposure else "order"
        level = logging.DEBUG if repeat else logging.WARNING
        log.log(
            level,
            "risk refused %s %s %s %s lots @ %s ticks by %s: %s",
            what, market_key, new.side.value, new.size_lots, new.price_ticks, refusal.limit, refusal.message,
        )  # fmt: skip

    def admitted(self, market_key: str, side: Side) -> None:
        self._streaks.pop((market_key, side), None)
