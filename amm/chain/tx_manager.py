"""Send transactions safely: simulate, price, number, sign locally, broadcast, wait.

Every transaction is first run with eth_call: a revert raises `SimulationReverted` with the decoded
reason and nothing is signed or sent. Fees are EIP-1559 under a hard cap (`FeeCapExceeded`, nothing
sent). Nonces come from our own counter, so several transactions can be in flight without two ever
sharing a nonce; when the counter may be wrong (a send failed, a transaction was dropped or never
mined) it is resynced from `eth_getTransactionCount(address, "pending")`, which also fills a gap.
The hash is computed before sending, so a send whose answer is lost (a stalled RPC) is looked up by
hash: the node has it (wait as usual), or not (`TxNotSent`), or cannot say (`TxOutcomeUnknown`);
`settle(tx_hash)` tells later how such a transaction ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from eth_typing import HexStr
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from amm.chain.revert_reasons import decode_revert
from amm.chain.wallet import Signer

log = logging.getLogger(__name__)
T = TypeVar("T")
GWEI = 10**9


class ChainTxError(RuntimeError):
    """A transaction was not executed as asked."""


class SimulationReverted(ChainTxError):
    """eth_call reverted: nothing was signed or sent."""

    def __init__(self, label: str, reason: str) -> None:
        self.label = label
        self.reason = reason
        super().__init__(f"{label}: would revert: {reason}; nothing was sent")


class FeeCapExceeded(ChainTxError):
    def __init__(self, label: str, needed_wei: int, cap_wei: int) -> None:
        self.needed_wei = needed_wei
        self.cap_wei = cap_wei
        super().__init__(
            f"{label}: base fee + tip is {needed_wei / GWEI:.3f} gwei, above max_fee_gwei "
            f"{cap_wei / GWEI:.3f}; nothing was sent"
        )


class TxNotMined(ChainTxError):
    """No receipt within tx_timeout_s. The nonce counter resyncs before the next send."""

    def __init__(self, label: str, tx_hash: str, nonce: int, dropped: bool, timeout_s: float) -> None:
        self.tx_hash = tx_hash
        self.nonce = nonce
        self.dropped = dropped
        state = "dropped by the node" if dropped else "still pending"
        super().__init__(f"{label}: tx {tx_hash} (nonce {nonce}) not mined within {timeout_s}s, {state}")


class TxNotSent(ChainTxError):
    """The RPC failed while sending and the node does not have the transaction: nothing is pending.
    The nonce counter resyncs, so the next send reuses the nonce (no gap)."""

    def __init__(self, label: str, tx_hash: str, nonce: int, cause: str) -> None:
        self.tx_hash = tx_hash
        self.nonce = nonce
        super().__init__(f"{label}: tx {tx_hash} (nonce {nonce}) not sent: {cause}")


class TxOutcomeUnknown(ChainTxError):
    """The RPC failed while sending and cannot tell whether the node has the transaction: it may
    still be mined. `TxManager.settle(tx_hash)` answers later."""

    def __init__(self, label: str, tx_hash: str, nonce: int, cause: str) -> None:
        self.tx_hash = tx_hash
        self.nonce = nonce
        super().__init__(f"{label}: tx {tx_hash} (nonce {nonce}) may have been sent: {cause}")


class TxStillPending(ChainTxError):
    """`settle`: the node still holds the transaction, unmined."""


class TxRevertedOnChain(ChainTxError):
    """Passed simulation but reverted when mined (the state changed in between). Gas was spent."""

    def __init__(self, label: str, tx_hash: str, gas_cost_wei: int, reason: str) -> None:
        self.label = label
        self.tx_hash = tx_hash
        self.gas_cost_wei = gas_cost_wei
        self.reason = reason
        super().__init__(f"{label}: tx {tx_hash} reverted on chain: {reason} (gas spent {gas_cost_wei} wei)")


@dataclass(frozen=True, slots=True)
class TxRequest:
    to: str
    data: HexStr
    value: int = 0
    label: str = "tx"  # names the action ("mint", "swap") in errors and logs


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


def _is_nonce_conflict(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("nonce too low", "already known", "replacement transaction underpriced"))


class NonceManager:
    """Hands out nonces one at a time; `run` holds the lock from numbering until the node accepted."""

    def __init__(self, w3: AsyncWeb3, address: str) -> None:
        self._w3 = w3
        self._address = address
        self._next: int | None = None
        self._lock = asyncio.Lock()

    async def _sync(self) -> int:
        self._next = await self._w3.eth.get_transaction_count(self._address, "pending")  # type: ignore[arg-type]
        return self._next

    def mark_stale(self) -> None:
        """The counter may be ahead of the chain (lost tx) or behind it (another sender)."""
        self._next = None

    @property
    def next_nonce(self) -> int | None:
        return self._next

    async def run(self, send: Callable[[int], Awaitable[T]]) -> T:
        async with self._lock:
            nonce = self._next if self._next is not None else await self._sync()
            try:
                result = await send(nonce)
            except Web3RPCError as exc:
                if not _is_nonce_conflict(exc):
                    self._next = None
                    raise
                # someone else used our nonce (another process with the same key): take the next free one
                log.warning("nonce %d rejected (%s); resyncing from the pending count", nonce, exc)
                nonce = await self._sync()
                try:
                    result = await send(nonce)
                except Exception:
                    self._next = None
                    raise
            except BaseException:
                self._next = None
                raise
            self._next = nonce + 1
            return result


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
        self.nonces = NonceManager(w3, signer.address)

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

    async def _next_base_fee_and_tip(self) -> tuple[int, int]:
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
        next_base, tip = await self._next_base_fee_and_tip()
        return next_base + tip

    async def fee_quote(self, label: str = "tx") -> FeeQuote:
        next_base, tip = await self._next_base_fee_and_tip()
        if next_base + tip > self.max_fee_wei:
            raise FeeCapExceeded(label, next_base + tip, self.max_fee_wei)
        # 2x base survives six full blocks of base-fee growth; never above the cap
        return FeeQuote(min(2 * next_base + tip, self.max_fee_wei), tip, next_base)

    async def send(self, request: TxRequest) -> TxOutcome:
        await self.call(request)
        estimate, fees = await asyncio.gather(self._estimate_gas(request), self.fee_quote(request.label))
        gas = estimate * (100 + self.gas_buffer_pct) // 100

        async def sign_and_send(nonce: int) -> tuple[str, int]:
            tx = {
                "type": 2,
                "chainId": self.chain_id,
                "nonce": nonce,
                "to": request.to,
                "data": request.data,
                "value": request.value,
                "gas": gas,
                "maxFeePerGas": fees.max_fee_per_gas_wei,
                "maxPriorityFeePerGas": fees.max_priority_fee_per_gas_wei,
            }
            raw = self.signer.sign_transaction(tx)
            tx_hash = HexBytes(keccak(raw)).to_0x_hex()  # known before the node answers
            try:
                await self.w3.eth.send_raw_transaction(raw)
            except TRANSPORT_ERRORS as exc:
                await self._check_sent(request.label, tx_hash, nonce, exc)
            return tx_hash, nonce

        tx_hash, nonce = await self.nonces.run(sign_and_send)
        log.info("%s: sent %s nonce %d gas %d", request.label, tx_hash, nonce, gas)
        receipt = await self._wait_receipt(request.label, tx_hash, nonce)
        return await self._outcome(request, tx_hash, nonce, receipt)

    async def _outcome(self, request: TxRequest | None, tx_hash: str, nonce: int, receipt: Any) -> TxOutcome:
        outcome = TxOutcome(
            tx_hash=tx_hash,
            nonce=nonce,
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            effective_gas_price_wei=receipt["effectiveGasPrice"],
            logs=tuple(receipt["logs"]),
        )
        if receipt["status"] != 1:
            if request is None:
                reason = "reason unknown (settled by hash)"
            else:
                reason = await self._replay_reason(request, receipt["blockNumber"])
            label = "tx" if request is None else request.label
            raise TxRevertedOnChain(label, tx_hash, outcome.gas_cost_wei, reason)
        return outcome

    async def _check_sent(self, label: str, tx_hash: str, nonce: int, exc: BaseException) -> None:
        """The send's answer was lost: the node has the transaction (go on) or it was not sent."""
        cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        try:
            await self.w3.eth.get_transaction(HexStr(tx_hash))
        except TransactionNotFound:
            raise TxNotSent(label, tx_hash, nonce, cause) from None
        except TRANSPORT_ERRORS:
            raise TxOutcomeUnknown(label, tx_hash, nonce, cause) from None
        log.warning("%s: the answer to sending %s was lost (%s); the node has it", label, tx_hash, cause)

    async def settle(self, tx_hash: str, nonce: int) -> TxOutcome | None:
        """How a transaction whose send or wait failed ended: its outcome once mined, None when the
        node does not have it and its nonce is free again or taken by another transaction (it can
        never be mined); `TxStillPending` while it waits in the mempool."""
        try:
            receipt = await self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
        except TransactionNotFound:
            receipt = None
        if receipt is not None:
            return await self._outcome(None, tx_hash, nonce, receipt)
        try:
            await self.w3.eth.get_transaction(HexStr(tx_hash))
        except TransactionNotFound:
            self.nonces.mark_stale()
            return None
        raise TxStillPending(f"tx {tx_hash} (nonce {nonce}) is still pending")

    async def _estimate_gas(self, request: TxRequest) -> int:
        try:
            return await self.w3.eth.estimate_gas(self._call_params(request))  # type: ignore[arg-type]
        except ContractLogicError as exc:  # the state moved since the eth_call
            raise SimulationReverted(request.label, decode_revert(exc.data)) from None  # type: ignore[arg-type]

    async def _wait_receipt(self, label: str, tx_hash: str, nonce: int) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.tx_timeout_s
        while True:
            try:
                return await self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
            except TransactionNotFound:
                pass
            except TRANSPORT_ERRORS as exc:  # a stalled RPC: the transaction is out there, keep asking
                log.warning("%s: receipt of %s not readable yet (%s)", label, tx_hash, type(exc).__name__)
            if loop.time() >= deadline:
                break
            await asyncio.sleep(min(self.receipt_poll_s, max(0.0, deadline - loop.time())))
        self.nonces.mark_stale()
        try:
            await self.w3.eth.get_transaction(HexStr(tx_hash))
            dropped = False
        except TransactionNotFound:
            dropped = True
        except TRANSPORT_ERRORS:
            dropped = False  # cannot tell: `settle` answers later
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
