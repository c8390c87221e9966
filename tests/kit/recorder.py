"""An event sink for venue tests: keeps every event a venue streams and waits for the one expected."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from bot.core.domain import Balance
from bot.core.events import BalanceUpdate, BookSnapshot, FillEvent, OrderUpdate, VenueEvent, VenueStatus

E = TypeVar("E")


class Recorder:
    """The sink given to `start_streams`: every event in arrival order, and waits on them."""

    def __init__(self) -> None:
        self.events: list[VenueEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: VenueEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def fills(self) -> list[FillEvent]:
        return self.of(FillEvent)

    @property
    def statuses(self) -> list[VenueStatus]:
        return self.of(VenueStatus)

    def updates(self, client_order_id: str) -> list[OrderUpdate]:
        return [e for e in self.of(OrderUpdate) if e.client_order_id == client_order_id]

    def last_book(self, symbol: str) -> BookSnapshot | None:
        books = [e for e in self.of(BookSnapshot) if e.symbol == symbol]
        return books[-1] if books else None

    def balances(self) -> dict[str, Balance]:
        """The latest streamed balance of each asset (updates may carry only what changed)."""
        out: dict[str, Balance] = {}
        for update in self.of(BalanceUpdate):
            out.update(update.balances)
        return out

    async def wait_for(self, predicate: Callable[[], Any], timeout_s: float = 5.0, what: str = "") -> Any:
        """The first truthy `predicate()` result, checked at each new event; fails after `timeout_s`."""

        async def poll() -> Any:
            while True:
                result = predicate()
                if result:
                    return result
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(poll(), timeout_s)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what or predicate}") from None
