"""Every transaction is a durable intent: written to a journal before it is sent (#21 item 1).

The TxManager records each signed transaction (kind, nonce, hash, calldata, fees, bounds and the
caller's follow-up context) before broadcasting it, adds the hash of every replacement at the same
nonce, and records how it ended once the chain says so. After a failure or a restart the
unsettled entries are settled from the chain (`TxManager.settle_entry`) before anything is re-sent,
and the caller books the mined ones (`booked`). `MemoryTxJournal` serves a pool nobody persists
(tests, tools); the LP manager attaches one backed by the bot's store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

# "cancel": a zero-value transfer to ourselves replacing a stuck transaction at its nonce
TxKind = Literal["mint", "increase", "decrease", "collect", "burn", "swap", "approve", "cancel", "tx"]
# None: not known yet; "dropped": its nonce was taken by another transaction (can never be mined);
# "not_sent": the node never had it and its nonce was free again when we moved on.
Outcome = Literal["mined", "reverted", "dropped", "not_sent"]


@dataclass(frozen=True, slots=True)
class TxIntent:
    """What is about to be broadcast (stored first)."""

    kind: TxKind
    label: str
    sender: str
    nonce: int
    tx_hash: str
    to: str
    data: str
    value: int
    max_fee_wei: int
    tip_wei: int
    bounds: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A stored intent and what is known of it."""

    id: int
    intent: TxIntent
    hashes: tuple[str, ...]  # the first signed, then every replacement
    outcome: Outcome | None = None
    block_number: int | None = None
    gas_cost_wei: int = 0
    booked: bool = False
    sent_ns: int = 0  # when signed, or last replaced (0: unknown)


class TxJournal(Protocol):
    def signed(self, intent: TxIntent) -> int:
        """Store the intent before it is sent; its id."""
        ...

    def replaced(self, entry_id: int, tx_hash: str, max_fee_wei: int, tip_wei: int) -> None:
        """A replacement (same intent, same nonce, higher fee) was signed."""
        ...

    def ended(
        self, entry_id: int, outcome: Outcome, tx_hash: str | None, block_number: int | None, gas_wei: int
    ) -> None: ...

    def entry(self, entry_id: int) -> JournalEntry: ...

    def unsettled(self) -> list[JournalEntry]:
        """Outcome unknown, oldest first."""
        ...

    def unbooked(self) -> list[JournalEntry]:
        """Mined or reverted and not booked yet, oldest first."""
        ...

    def booked(self, entry_id: int, result: Mapping[str, Any]) -> None: ...


class MemoryTxJournal:
    """The journal of a pool nobody persists: it lives as long as the process."""

    def __init__(self) -> None:
        self._entries: dict[int, JournalEntry] = {}

    def signed(self, intent: TxIntent) -> int:
        entry_id = len(self._entries) + 1
        self._entries[entry_id] = JournalEntry(entry_id, intent, (intent.tx_hash,))
        return entry_id

    def replaced(self, entry_id: int, tx_hash: str, max_fee_wei: int, tip_wei: int) -> None:
        e = self._entries[entry_id]
        intent = replace(e.intent, tx_hash=tx_hash, max_fee_wei=max_fee_wei, tip_wei=tip_wei)
        self._entries[entry_id] = replace(e, intent=intent, hashes=(*e.hashes, tx_hash))

    def ended(
        self, entry_id: int, outcome: Outcome, tx_hash: str | None, block_number: int | None, gas_wei: int
    ) -> None:
        e = self._entries[entry_id]
        intent = e.intent if tx_hash is None else replace(e.intent, tx_hash=tx_hash)
        self._entries[entry_id] = replace(
            e, intent=intent, outcome=outcome, block_number=block_number, gas_cost_wei=gas_wei
        )

    def entry(self, entry_id: int) -> JournalEntry:
        return self._entries[entry_id]

    def unsettled(self) -> list[JournalEntry]:
        return [e for e in self._entries.values() if e.outcome is None]

    def unbooked(self) -> list[JournalEntry]:
        return [e for e in self._entries.values() if e.outcome in ("mined", "reverted") and not e.booked]

    def booked(self, entry_id: int, result: Mapping[str, Any]) -> None:
        self._entries[entry_id] = replace(self._entries[entry_id], booked=True)
