"""What sending a transaction can end in, short of a clean receipt."""

from __future__ import annotations

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


class NonceTaken(ChainTxError):
    """ "nonce too low" and the node has no transaction of ours at that hash: another transaction
    took the nonce. Nothing of ours is pending there; the send starts over, simulation included."""

    def __init__(self, label: str, tx_hash: str, nonce: int) -> None:
        self.tx_hash = tx_hash
        self.nonce = nonce
        super().__init__(f"{label}: nonce {nonce} was taken by another transaction; {tx_hash} not sent")


class NonceOccupied(ChainTxError):
    """Another transaction (not in our journal: another process on the same key) waits in the
    mempool at our next nonce. Reported, never overwritten, and nothing is queued behind it."""

    def __init__(self, label: str, nonce: int) -> None:
        self.nonce = nonce
        super().__init__(
            f"{label}: a transaction we did not send is pending at nonce {nonce} "
            "(another process on this key?): nothing sent, nothing replaced"
        )
