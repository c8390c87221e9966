"""The chain pool's transactions as the LP manager books them (#21 items 1 and 5).

Every transaction the chain pool sends is journaled first (`StoreTxJournal`). Before each round
the unsettled entries are settled from the chain (receipt by hash, else nonce consumed or not,
else pending); while one is still pending nothing is decided or sent (nothing queues behind it).
Every mined or reverted entry is then booked exactly once by the lifecycle's `apply` (its gas
row, and the position, fee or swap rows of its kind) from its receipt, whatever the bot saw when
it was sent: the normal path books the same way right after each pool call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from amm.chain.tx_errors import SimulationReverted
from amm.chain.tx_journal import JournalEntry, Outcome
from amm.ports import EntryResult, JournalsTransactions
from bot.core.clock import Clock
from bot.kernel.tx_intent_store import TxIntentStore
from strategies.lp.ledger import PoolLedger
from strategies.lp.tx_journal import StoreTxJournal

log = logging.getLogger("mmbot.lp")

# (kind, outcome, decoded result, gas in wei, the entry's context) -> the result to keep with it
Apply = Callable[[str, Outcome, EntryResult, int, Mapping[str, Any]], dict[str, Any]]


class ChainBook:
    """One chain pool's journal, settled from the chain and booked through `apply`."""

    def __init__(self, pool: JournalsTransactions, ledger: PoolLedger, clock: Clock) -> None:
        self.pool, self.ledger = pool, ledger
        self.work = ledger.store.work  # the LP rows' and the journal's: a booking commits as one
        rows = TxIntentStore(ledger.store.store, ledger.strategy, ledger.pool_name, self.work)
        self.journal = StoreTxJournal(rows, clock)
        pool.use_journal(self.journal)
        self._reported_free: set[int] = set()

    async def settle(self, now_ns: int) -> list[JournalEntry]:
        """Settle every open entry from the chain; the ones still pending (empty: free to act)."""
        pending = []
        unsettled = self.journal.unsettled()
        cancels = {e.intent.context.get("cancels") for e in unsettled if e.intent.kind == "cancel"}
        for entry in unsettled:
            state = await self.pool.settle_entry(entry)
            gone = "cancelled by a zero-value transfer at its nonce" if entry.id in cancels else None
            if state == "pending":
                pending.append(entry)
                if entry.id not in cancels:  # else the cancel is what gets replaced
                    await self._unstick(entry, now_ns)
            elif state == "dropped":
                log.warning("%s: %s %s never mined: its nonce went to another transaction",
                            self.ledger.pool_name, entry.intent.label, entry.intent.tx_hash)  # fmt: skip
                if entry.id not in self._reported_free:
                    self._failed(entry, now_ns, gone or "dropped: its nonce went to another transaction")
            elif state == "free" and entry.id not in self._reported_free:
                # Not final: a copy may still be broadcast and mined (settled then); the next
                # transaction takes its nonce, which makes it final.
                self._reported_free.add(entry.id)
                self._failed(entry, now_ns, gone or "dropped: the node no longer has it; its nonce is free")
        return pending

    async def _unstick(self, entry: JournalEntry, now_ns: int) -> None:
        """Pending longer than `replace_after_s`: replaced at its nonce with a higher fee (the
        node keeps one of the two; either settles the entry). One that cannot be replaced (it
        would revert now, or the fee cap leaves no room) is cancelled once pending longer than
        `cancel_after_s` (`amm.chain.stuck`). Nothing new is queued behind it meanwhile."""
        age_s = (now_ns - entry.sent_ns) / 1e9
        if age_s < self.pool.replace_after_s:
            return
        intent = entry.intent
        try:
            if await self.pool.bump_entry(entry) is not None:
                return
            why = "no replacement under max_fee_gwei (or the node refused it)"
        except SimulationReverted as exc:
            why = f"it would revert now ({exc.reason})"
        if intent.kind == "cancel" or age_s < self.pool.cancel_after_s:
            log.warning("%s: stuck %s not replaced: %s", self.ledger.pool_name, intent.tx_hash, why)
            return
        cancel_hash = await self.pool.cancel_entry(entry)
        if cancel_hash is not None:
            reason = f"{intent.tx_hash} pending {age_s:.0f} s, not re-sent: {why}; cancel {cancel_hash}"
            self.ledger.action(now_ns, f"{intent.kind}_cancel", reason, False, {"nonce": float(intent.nonce)})

    def _failed(self, entry: JournalEntry, now_ns: int, reason: str) -> None:
        self.ledger.action(
            now_ns, f"{entry.intent.kind}_failed", f"{entry.intent.tx_hash}: {reason}", False, {}
        )

    async def book(self, apply: Apply) -> int:
        """Book every mined or reverted entry not booked yet, oldest first; how many. An entry's
        rows (gas, position, fees, swap) and its `booked` mark are one store transaction: a crash
        in between leaves neither, and the entry is booked once after the restart."""
        entries = self.journal.unbooked()
        for entry in entries:
            result = await self.pool.entry_result(entry)
            assert entry.outcome in ("mined", "reverted")
            intent = entry.intent
            with self.work.atomic():
                kept = apply(intent.kind, entry.outcome, result, entry.gas_cost_wei, intent.context)
                self.journal.booked(entry.id, kept)
        return len(entries)

    def last_decrease(self, token_id: int) -> tuple[int, int] | None:
        """What the latest booked decrease of `token_id` released (a close resumed after a restart)."""
        result = self.journal.rows.last_result("decrease", token_id)
        return None if result is None else (int(result["amount0"]), int(result["amount1"]))
