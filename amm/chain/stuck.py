"""Transactions of ours stuck in the mempool (#21 item 3): replaced, or cancelled, at their nonce.

A replacement (`bump`) re-sends the same intent, simulated again, with a fee raised by at least the
node's replacement step (+12.5 % on both the max fee and the tip) and never above `max_fee_gwei`.
When the intent cannot be re-sent (its simulation reverts now: a deadline passed, a price limit
crossed) it is cancelled instead (`cancel`): a zero-value transfer to ourselves at the same nonce,
simulated like every send and priced like a replacement, journaled as an intent of its own
("cancel") before it is broadcast. Whichever of the two the chain mines settles both entries:
the other's nonce is consumed ("dropped"). Nothing new is sent at a later nonce meanwhile.
"""

from __future__ import annotations

import logging

from eth_typing import HexStr
from eth_utils import keccak
from hexbytes import HexBytes
from web3.exceptions import Web3RPCError

from amm.chain.tx_errors import GWEI
from amm.chain.tx_journal import JournalEntry, TxIntent
from amm.chain.tx_manager import TRANSPORT_ERRORS, TxManager, TxRequest

log = logging.getLogger(__name__)


def _raised(wei: int) -> int:
    """`wei` up by the replacement step, rounded up (geth asks +10 %, some nodes more)."""
    return -(-wei * 9 // 8)


async def replacement_fees(tx: TxManager, entry: JournalEntry) -> tuple[int, int] | None:
    """(max fee, tip) in wei that replace the entry's latest transaction, or None when the cap
    leaves no room for the replacement step."""
    intent = entry.intent
    next_base, tip = await tx.next_base_fee_and_tip()
    new_tip = max(tip, _raised(intent.tip_wei))
    new_max = min(tx.max_fee_wei, max(2 * next_base + new_tip, _raised(intent.max_fee_wei)))
    if new_max < _raised(intent.max_fee_wei) or new_tip > new_max:
        log.warning("%s: %s stuck at nonce %d, no room under max_fee_gwei (%.3f gwei) to replace it",
                    intent.label, intent.tx_hash, intent.nonce, tx.max_fee_wei / GWEI)  # fmt: skip
        return None
    return new_max, new_tip


async def _broadcast(tx: TxManager, label: str, tx_hash: str, nonce: int, raw: bytes) -> bool:
    """Send a signed replacement; True once the node has it (an error answer is checked by hash)."""
    try:
        await tx.w3.eth.send_raw_transaction(raw)
    except TRANSPORT_ERRORS as exc:
        return await tx.node_has(label, tx_hash, nonce, exc)
    except Web3RPCError as exc:
        if "already known" in str(exc).lower() or await tx.node_has(label, tx_hash, nonce, exc):
            return True
        log.warning("%s: replacement %s at nonce %d refused: %s", label, tx_hash, nonce, exc)
        return False
    return True


async def bump(tx: TxManager, entry: JournalEntry) -> str | None:
    """Replace a pending entry by the same transaction, simulated again (`SimulationReverted`:
    nothing sent), at its nonce with a higher fee; the new hash, or None when the cap leaves no
    room or the node refuses the replacement."""
    intent = entry.intent
    request = TxRequest(intent.to, HexStr(intent.data), intent.value, intent.label, intent.kind)
    await tx.call(request)
    estimate = await tx.estimate_gas(request)
    fees = await replacement_fees(tx, entry)
    if fees is None:
        return None
    gas = estimate * (100 + tx.gas_buffer_pct) // 100
    raw = tx.signer.sign_transaction(tx.tx_dict(request, intent.nonce, gas, *fees))
    tx_hash = HexBytes(keccak(raw)).to_0x_hex()
    tx.journal.replaced(entry.id, tx_hash, *fees)
    if not await _broadcast(tx, intent.label, tx_hash, intent.nonce, raw):
        return None
    log.warning("%s: stuck %s replaced by %s (nonce %d, max fee %.3f gwei)",
                intent.label, intent.tx_hash, tx_hash, intent.nonce, fees[0] / GWEI)  # fmt: skip
    return tx_hash


async def cancel(tx: TxManager, entry: JournalEntry) -> str | None:
    """Cancel a pending entry: a zero-value transfer to ourselves at its nonce with a replacement's
    fee, journaled (kind "cancel", context `cancels` = the entry's id) before it is broadcast; its
    hash, or None when the cap leaves no room or the node refuses it (its journal entry then ends
    "not_sent")."""
    intent = entry.intent
    label = f"cancel {intent.label}"
    context = {"cancels": entry.id}
    request = TxRequest(tx.address, HexStr("0x"), 0, label, "cancel", context=context)
    await tx.call(request)  # every send is simulated first, this one too
    estimate = await tx.estimate_gas(request)
    fees = await replacement_fees(tx, entry)
    if fees is None:
        return None
    raw = tx.signer.sign_transaction(tx.tx_dict(request, intent.nonce, estimate, *fees))
    tx_hash = HexBytes(keccak(raw)).to_0x_hex()
    cancel_id = tx.journal.signed(
        TxIntent("cancel", label, tx.address, intent.nonce, tx_hash, tx.address, "0x", 0, *fees, {}, context)
    )
    if not await _broadcast(tx, label, tx_hash, intent.nonce, raw):
        tx.journal.ended(cancel_id, "not_sent", None, None, 0)
        return None
    log.warning("%s: stuck %s cancelled by %s (nonce %d, max fee %.3f gwei)",
                intent.label, intent.tx_hash, tx_hash, intent.nonce, fees[0] / GWEI)  # fmt: skip
    return tx_hash
