"""Nonces handed out one at a time, resynced from the node when they may be wrong; a pending
transaction at our next nonce that our journal does not know (another process on the key) is
reported (`NonceOccupied`), never replaced nor queued behind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from web3 import AsyncWeb3

from amm.chain.tx_errors import NonceOccupied
from amm.chain.tx_journal import TxJournal

T = TypeVar("T")


class NonceManager:
    """Hands out nonces one at a time; `run` holds the lock from numbering until the node accepted."""

    def __init__(self, w3: AsyncWeb3, address: str, journal: Callable[[], TxJournal]) -> None:
        self._w3 = w3
        self._address = address
        self._journal = journal
        self._next: int | None = None
        self._lock = asyncio.Lock()

    async def _sync(self, label: str) -> int:
        latest, pending = await asyncio.gather(
            self._w3.eth.get_transaction_count(self._address, "latest"),  # type: ignore[arg-type]
            self._w3.eth.get_transaction_count(self._address, "pending"),  # type: ignore[arg-type]
        )
        ours = {e.intent.nonce for e in self._journal().unsettled() if e.intent.sender == self._address}
        foreign = [n for n in range(latest, pending) if n not in ours]
        if foreign:
            raise NonceOccupied(label, foreign[0])
        self._next = pending
        return pending

    def mark_stale(self) -> None:
        """The counter may be ahead of the chain (lost tx) or behind it (another sender)."""
        self._next = None

    @property
    def next_nonce(self) -> int | None:
        return self._next

    async def run(self, send: Callable[[int], Awaitable[T]], label: str = "tx") -> T:
        async with self._lock:
            nonce = self._next if self._next is not None else await self._sync(label)
            try:
                result = await send(nonce)
            except BaseException:
                self._next = None
                raise
            self._next = nonce + 1
            return result
