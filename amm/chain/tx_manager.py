"""Send transactions safely: simulate, price, number, journal, sign locally, broadcast, wait.

Every transaction is first run with eth_call: a revert raises `SimulationReverted` with the decoded
reason and nothing is signed or sent; a send that must start over (its nonce taken by another
transaction) is simulated again, never re-broadcast blind. Fees are EIP-1559 under a hard cap
(`FeeCapExceeded`, nothing sent). Nonces come from our own counter; when it may be wrong it is
resynced from the node, and a pending transaction at our next nonce that our journal does not
know (another process on the key) stops the send (`NonceOccupied`) instead of being replaced or
queued behind.

Each signed transaction is written to the journal (`amm.chain.tx_journal`) before it is broadcast,
so its outcome can always be settled from the chain (`settle_entry`): receipt by any of its hashes,
else its nonce consumed by another transaction or not, else still pending. A send whose answer is
lost or is an error ("already known", "nonce too low", "replacement transaction underpriced", a
gateway's error after it forwarded the transaction) is looked up by hash before it is called failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import aiohttp
from eth_typing import HexStr
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from amm.chain.nonces import NonceManager
from amm.chain.revert_reasons import decode_revert
from amm.chain.tx_errors import (
    GWEI,
    ChainTxError,
    FeeCapExceeded,
    NonceOccupied,
    NonceTaken,
    SimulationReverted,
    TxNotMined,
    TxNotSent,
    TxOutcomeUnknown,
    TxRevertedOnChain,
    TxStillPending,
)
from amm.chain.tx_journal import JournalEntry, MemoryTxJournal, TxIntent, TxJournal, TxKind
from amm.chain.wallet import Signer

__all__ = [
    "GWEI",
    "ChainTxError",
    "FeeCapExceeded",
    "FeeQuote",
    "NonceManager",
    "NonceOccupied",
    "NonceTaken",
    "SettleState",
    "SimulationReverted",
    "TxManager",
    "TxNotMined",
    "TxNotSent",
    "TxOutcome",
    "TxOutcomeUnknown",
    "TxRequest",
    "TxRevertedOnChain",
    "TxStillPending",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# "free": the node does not have it and its nonce is unused: not pending, not final either (a copy
# may still be broadcast); the next transaction at that nonce makes it final ("dropped").
SettleState = Literal["mined", "reverted", "dropped", "pending", "free"]


@dataclass(frozen=True, slots=True)
class TxRequest:
    to: str
    data: HexStr
    value: int = 0
    label: str = "tx"  # names the action ("mint", "swap") in errors and logs
    kind: TxKind = "tx"
    bounds: Mapping[str, Any] = field(default_factory=dict, compare=False)  # floors, limits sent
    context: Mapping[str, Any] = field(default_factory=dict, compare=False)  # for the follow-up


@dataclass(frozen=True, slots=True)
class TxOutcome:
    tx_hash: str
    nonce: int
    block_number: int
    gas_used: int
    effective_gas_price_wei: int
    logs: tuple[Any, ...]

    @property
    def gas_cost_wei(self) -> int:
        return self.gas_used * self.effective_gas_price_wei


@dataclass(frozen=True, slots=True)
class FeeQuote:
    max_fee_per_gas_wei: int
    max_priority_fee_per_gas_wei: int
    next_base_fee_wei: int


# What a lost or stalled RPC answer raises: the request may or may not have reached the node.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, aiohttp.ClientError)
# While waiting for a receipt a gateway's JSON-RPC error is as good as silence: keep asking.
UNREADABLE: tuple[type[BaseException], ...] = (*TRANSPORT_ERRORS, Web3RPCError)


class TxManager:
    def __init__(
        self,
        w3: AsyncWeb3,
        signer: Signer,
        *,
        chain_id: int,
        max_fee_wei: int,
        priority_fee_wei: int | None = None,
        gas_buffer_pct: int = 20,
        tx_timeout_s: float = 120.0,
        receipt_poll_s: float = 1.0,
    ) -> None:
        self.w3 = w3
        self.signer = signer
        self.chain_id = chain_id
        self.max_fee_wei = max_fee_wei
        self.priority_fee_wei = priority_fee_wei
        self.gas_buffer_pct = gas_buffer_pct
        self.tx_timeout_s = tx_timeout_s
        self.receipt_poll_s = receipt_poll_s
        self.journal: TxJournal = MemoryTxJournal()
        self.nonces = NonceManager(w3, signer.address, lambda: self.journal)

    @property
    def address(self) -> str:
        return self.signer.address

    def _call_params(self, request: TxRequest) -> dict[str, Any]:
        return {"from": self.address, "to": request.to, "data": request.data, "value": request.value}

    async def call(self, request: TxRequest, block: str | int = "latest") -> bytes:
        """eth_call from our address: the return data, or `SimulationReverted` with the reason."""
        try:
            return bytes(await self.w3.eth.call(self._call_params(request), block))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise SimulationReverted(request.label, decode_revert(exc.data)) from None  # type: ignore[arg-type]

    async def next_base_fee_and_tip(self) -> tuple[int, int]:
        if self.priority_fee_wei is not None:
            history = await self.w3.eth.fee_history(1, "latest")
            tip = self.priority_fee_wei
        else:
            history, tip = await asyncio.gather(
                self.w3.eth.fee_history(1, "latest"), self.w3.eth.max_priority_fee
            )
        return int(history["baseFeePerGas"][-1]), int(tip)  # the last base fee is the next block's

    async def gas_price_estimate(self) -> int:
        """What one unit of gas costs in the next block (base fee + tip), cap or not."""
        next_base, tip = await self.next_base_fee_and_tip()
        return next_base + tip

    async def fee_quote(self, label: str = "tx") -> FeeQuote:
        next_base, tip = await self.next_base_fee_and_tip()
        if next_base + tip > self.max_fee_wei:
            raise FeeCapExceeded(label, next_base + tip, self.max_fee_wei)
        # 2x base survives six full blocks of base-fee growth; never above the cap
        return FeeQuote(min(2 * next_base + tip, self.max_fee_wei), tip, next_base)

    async def send(self, request: TxRequest) -> TxOutcome:
        try:
            return await self._send_once(request)
        except NonceTaken as exc:
            log.warning("%s; simulating and sending again at a fresh nonce", exc)
            return await self._send_once(request)

    async def _send_once(self, request: TxRequest) -> TxOutcome:
        await self.call(request)
        estimate, fees = await asyncio.gather(self.estimate_gas(request), self.fee_quote(request.label))
        gas = estimate * (100 + self.gas_buffer_pct) // 100

        async def numbered(nonce: int) -> tuple[int, str]:
            return await self._sign_and_send(request, nonce, gas, fees)

        entry_id, tx_hash = await self.nonces.run(numbered, request.label)
        nonce = self.journal.entry(entry_id).intent.nonce
        log.info("%s: sent %s nonce %d gas %d", request.label, tx_hash, nonce, gas)
        receipt = await self._wait_receipt(request.label, tx_hash, nonce)
        return await self._ended(entry_id, request, tx_hash, nonce, receipt)

    async def _sign_and_send(
        self, request: TxRequest, nonce: int, gas: int, fees: FeeQuote
    ) -> tuple[int, str]:
        tx = self.tx_dict(request, nonce, gas, fees.max_fee_per_gas_wei, fees.max_priority_fee_per_gas_wei)
        raw = self.signer.sign_transaction(tx)
        tx_hash = HexBytes(keccak(raw)).to_0x_hex()  # known before the node answers
        entry_id = self.journal.signed(
            TxIntent(
                request.kind, request.label, self.address, nonce, tx_hash, request.to, request.data,
                request.value, fees.max_fee_per_gas_wei, fees.max_priority_fee_per_gas_wei,
                request.bounds, request.context,
            )
        )  # fmt: skip
        try:
            await self.w3.eth.send_raw_transaction(raw)
        except TRANSPORT_ERRORS as exc:
            await self._check_sent(request.label, tx_hash, nonce, exc)
        except Web3RPCError as exc:
            await self._after_rejection(entry_id, request.label, tx_hash, nonce, exc)
        return entry_id, tx_hash

    def tx_dict(self, request: TxRequest, nonce: int, gas: int, fee_wei: int, tip_wei: int) -> dict[str, Any]:
        """The unsigned EIP-1559 transaction (`fee_wei`: its max fee per gas)."""
        return {"type": 2, "chainId": self.chain_id, "nonce": nonce, "to": request.to, "data": request.data,
                "value": request.value, "gas": gas, "maxFeePerGas": fee_wei,
                "maxPriorityFeePerGas": tip_wei}  # fmt: skip

    async def _after_rejection(
        self, entry_id: int, label: str, tx_hash: str, nonce: int, exc: Web3RPCError
    ) -> None:
        """The node (or a gateway in front of it) answered an error: settled by hash first."""
        text = str(exc).lower()
        if "already known" in text:  # our very transaction is in the node's mempool
            log.warning("%s: %s is already known to the node", label, tx_hash)
            return
        if await self.node_has(label, tx_hash, nonce, exc):
            log.warning("%s: the node answered %s but has %s", label, exc, tx_hash)
            return
        if "nonce too low" in text:
            self.journal.ended(entry_id, "dropped", None, None, 0)
            raise NonceTaken(label, tx_hash, nonce) from None
        self.journal.ended(entry_id, "not_sent", None, None, 0)
        if "replacement transaction underpriced" in text:
            raise NonceOccupied(label, nonce) from None
        raise TxNotSent(label, tx_hash, nonce, f"{type(exc).__name__}: {exc}") from None

    async def node_has(self, label: str, tx_hash: str, nonce: int, exc: BaseException) -> bool:
        cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        try:
            await self.w3.eth.get_transaction(HexStr(tx_hash))
        except TransactionNotFound:
            return False
        except TRANSPORT_ERRORS:
            raise TxOutcomeUnknown(label, tx_hash, nonce, cause) from None
        return True

    async def _check_sent(self, label: str, tx_hash: str, nonce: int, exc: BaseException) -> None:
        """The send's answer was lost: the node has the transaction (go on) or it was not sent (the
        journal entry stays open: a copy may still arrive; settling it later tells)."""
        if not await self.node_has(label, tx_hash, nonce, exc):
            cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise TxNotSent(label, tx_hash, nonce, cause)
        log.warning("%s: the answer to sending %s was lost (%s); the node has it", label, tx_hash, exc)

    async def _ended(
        self, entry_id: int, request: TxRequest | None, tx_hash: str, nonce: int, receipt: Any
    ) -> TxOutcome:
        outcome = TxOutcome(
            tx_hash=tx_hash,
            nonce=nonce,
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            effective_gas_price_wei=receipt["effectiveGasPrice"],
            logs=tuple(receipt["logs"]),
        )
        mined = receipt["status"] == 1
        self.journal.ended(
            entry_id, "mined" if mined else "reverted", tx_hash, outcome.block_number, outcome.gas_cost_wei
        )
        if not mined:
            if request is None:
                reason = "reason unknown (settled by hash)"
            else:
                reason = await self._replay_reason(request, receipt["blockNumber"])
            label = "tx" if request is None else request.label
            raise TxRevertedOnChain(label, tx_hash, outcome.gas_cost_wei, reason)
        return outcome

    async def _receipt(self, tx_hash: str) -> Any:
        try:
            return await self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
        except TransactionNotFound:
            return None

    async def settle_entry(self, entry: JournalEntry) -> SettleState:
        """How a journal entry ended, from the chain: a receipt by any of its hashes (recorded),
        else its nonce consumed by another transaction ("dropped", recorded), else "pending" while
        the node holds it, else "free" (nothing recorded: it can still be broadcast)."""
        intent = entry.intent
        latest = await self.w3.eth.get_transaction_count(intent.sender, "latest")  # type: ignore[arg-type]
        for tx_hash in reversed(entry.hashes):  # read after the count: a receipt can only appear
            receipt = await self._receipt(tx_hash)
            if receipt is not None:
                mined = receipt["status"] == 1
                gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
                state: SettleState = "mined" if mined else "reverted"
                self.journal.ended(entry.id, state, tx_hash, receipt["blockNumber"], gas)  # type: ignore[arg-type]
                return state
        if latest > intent.nonce:
            self.journal.ended(entry.id, "dropped", None, None, 0)
            self.nonces.mark_stale()
            return "dropped"
        for tx_hash in entry.hashes:
            try:
                await self.w3.eth.get_transaction(HexStr(tx_hash))
                return "pending"
            except TransactionNotFound:
                continue
        self.nonces.mark_stale()
        return "free"

    async def receipt_outcome(self, entry: JournalEntry) -> TxOutcome:
        """The mined receipt of a settled entry, to decode its events."""
        intent = entry.intent
        r = await self.w3.eth.get_transaction_receipt(HexStr(intent.tx_hash))
        gas_price, logs = r["effectiveGasPrice"], tuple(r["logs"])
        return TxOutcome(intent.tx_hash, intent.nonce, r["blockNumber"], r["gasUsed"], gas_price, logs)

    async def estimate_gas(self, request: TxRequest) -> int:
        try:
            return await self.w3.eth.estimate_gas(self._call_params(request))  # type: ignore[arg-type]
        except ContractLogicError as exc:  # the state moved since the eth_call
            raise SimulationReverted(request.label, decode_revert(exc.data)) from None  # type: ignore[arg-type]

    async def _wait_receipt(self, label: str, tx_hash: str, nonce: int) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.tx_timeout_s
        while True:
            # Given up only on a look asked at or after the deadline: a pause of this process
            # during an earlier look (a full GC, a starved CPU) must not fail a transaction that
            # was mined in time.
            asked = loop.time()
            try:
                return await self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
            except TransactionNotFound:
                pass
            except UNREADABLE as exc:  # a stalled or failing RPC: keep asking
                log.warning("%s: receipt of %s not readable yet (%s)", label, tx_hash, type(exc).__name__)
            if asked >= deadline:
                break
            await asyncio.sleep(min(self.receipt_poll_s, max(0.0, deadline - loop.time())))
        self.nonces.mark_stale()
        try:
            await self.w3.eth.get_transaction(HexStr(tx_hash))
            dropped = False
        except TransactionNotFound:
            dropped = True
        except UNREADABLE:
            dropped = False  # cannot tell: `settle_entry` answers later
        raise TxNotMined(label, tx_hash, nonce, dropped, self.tx_timeout_s)

    async def _replay_reason(self, request: TxRequest, block_number: int) -> str:
        """Best effort: re-run the call on the state before its block (earlier txs in it are missed)."""
        try:
            await self.call(request, block_number - 1)
        except SimulationReverted as exc:
            return exc.reason
        except Exception as exc:  # the node may not keep that state
            return f"reason unknown ({type(exc).__name__})"
        return "reason unknown (the replay did not revert)"
