"""The LP manager's transaction journal in the bot's store (`chain_tx_intents`): the chain pool
writes every intent there before sending, so a restart or a hot reload settles and books what the
previous instance left in flight. `context` is what the manager adds to the intents it sends now
(the range being opened, the swap's value at fair): the follow-up of a mined entry reads it back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from amm.chain.tx_journal import JournalEntry, Outcome, TxIntent
from bot.core.clock import Clock
from bot.kernel.tx_intent_store import TxIntentRow, TxIntentStore


class StoreTxJournal:
    def __init__(self, rows: TxIntentStore, clock: Clock) -> None:
        self.rows, self.clock = rows, clock
        self.context: dict[str, Any] = {}

    def signed(self, intent: TxIntent) -> int:
        now = self.clock.now_ns()
        return self.rows.add(
            TxIntentRow(
                strategy=self.rows.strategy,
                pool=self.rows.pool,
                kind=intent.kind,
                label=intent.label,
                sender=intent.sender,
                nonce=intent.nonce,
                tx_hash=intent.tx_hash,
                hashes=json.dumps([intent.tx_hash]),
                to_address=intent.to,
                calldata=intent.data,
                value_wei=str(intent.value),
                max_fee_wei=str(intent.max_fee_wei),
                tip_wei=str(intent.tip_wei),
                bounds=json.dumps(dict(intent.bounds)),
                context=json.dumps({**self.context, **intent.context}),
                created_ns=now,
                updated_ns=now,
            )
        )

    def replaced(self, entry_id: int, tx_hash: str, max_fee_wei: int, tip_wei: int) -> None:
        self.rows.add_hash(entry_id, self.clock.now_ns(), tx_hash, max_fee_wei, tip_wei)

    def ended(
        self, entry_id: int, outcome: Outcome, tx_hash: str | None, block_number: int | None, gas_wei: int
    ) -> None:
        fields: dict[str, Any] = {
            "outcome": outcome,
            "block_number": block_number,
            "gas_cost_wei": str(gas_wei),
        }
        if tx_hash is not None:
            fields["tx_hash"] = tx_hash
        self.rows.update(entry_id, self.clock.now_ns(), **fields)

    def entry(self, entry_id: int) -> JournalEntry:
        return to_entry(self.rows.get(entry_id))

    def unsettled(self) -> list[JournalEntry]:
        return [to_entry(r) for r in self.rows.unsettled()]

    def unbooked(self) -> list[JournalEntry]:
        return [to_entry(r) for r in self.rows.unbooked()]

    def booked(self, entry_id: int, result: Mapping[str, Any]) -> None:
        self.rows.update(entry_id, self.clock.now_ns(), booked=True, result=json.dumps(dict(result)))

    def context_of(self, entry_id: int) -> dict[str, Any]:
        return dict(json.loads(self.rows.get(entry_id).context))


def to_entry(row: TxIntentRow) -> JournalEntry:
    assert row.id is not None
    intent = TxIntent(
        row.kind,  # type: ignore[arg-type]
        row.label,
        row.sender,
        row.nonce,
        row.tx_hash,
        row.to_address,
        row.calldata,
        int(row.value_wei),
        int(row.max_fee_wei),
        int(row.tip_wei),
        json.loads(row.bounds),
        json.loads(row.context),
    )
    return JournalEntry(
        row.id,
        intent,
        tuple(json.loads(row.hashes)),
        row.outcome,  # type: ignore[arg-type]
        row.block_number,
        int(row.gas_cost_wei or 0),
        row.booked,
        row.updated_ns,  # an unsettled row changes only when a replacement is signed
    )
