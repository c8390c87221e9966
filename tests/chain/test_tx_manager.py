"""Transaction safety on a real chain: reverts caught before sending, fee cap, nonce recovery."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from eth_account import Account
from web3 import Web3

from amm.chain.local_chain import UniswapDeployment
from amm.chain.pool import ChainPool
from amm.chain.tx_manager import FeeCapExceeded, SimulationReverted, TxNotMined
from bot.core.clock import FixedClock
from tests.chain.conftest import cheat
from tests.chain.test_chain_faults import RpcProxy

pytestmark = pytest.mark.chain

GWEI = 10**9


def around(tick: int, spacing: int, half_width: int) -> tuple[int, int]:
    base = tick // spacing * spacing
    return base - half_width * spacing, base + (half_width + 1) * spacing


async def seed_liquidity(pool: ChainPool) -> None:
    state = await pool.read_state()
    await pool.mint(*around(state.tick, 60, 30), 10 * 10**18, 20_000 * 10**6, 0, 0)


def chain_nonce(rpc: Web3, address: str) -> int:
    return rpc.eth.get_transaction_count(address, "pending")  # type: ignore[arg-type]


async def wait_for(predicate: Any, timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_swap_below_minimum_is_refused_without_sending(
    lp_pool: ChainPool, trader_pool: ChainPool, rpc: Web3
) -> None:
    await seed_liquidity(lp_pool)
    await trader_pool.swap_exact_input(True, 10**15, 0)  # approvals out of the way
    address = trader_pool.tx.address
    nonce, block = chain_nonce(rpc, address), rpc.eth.block_number
    quote = await trader_pool.quote_exact_input(True, 10**17)

    with pytest.raises(SimulationReverted, match="swap: would revert: Too little received") as info:
        await trader_pool.swap_exact_input(True, 10**17, quote.amount_out + 1)

    assert info.value.reason.startswith("Too little received")
    assert (chain_nonce(rpc, address), rpc.eth.block_number) == (nonce, block)  # nothing sent or mined
    assert trader_pool.tx.nonces.next_nonce == nonce  # the counter did not move
    swap = await trader_pool.swap_exact_input(True, 10**17, quote.amount_out)
    assert swap.amount_out == quote.amount_out
    assert chain_nonce(rpc, address) == nonce + 1


async def test_mint_slippage_too_tight_names_the_reason(lp_pool: ChainPool, rpc: Web3) -> None:
    state = await lp_pool.read_state()
    lower, upper = around(state.tick, 60, 5)
    await lp_pool.mint(lower, upper, 10**16, 10**6, 0, 0)  # approvals out of the way
    nonce = chain_nonce(rpc, lp_pool.tx.address)

    # desired amounts are never both used at an in-range price, so requiring both must fail
    with pytest.raises(SimulationReverted, match="Price slippage check"):
        await lp_pool.mint(lower, upper, 10**18, 10**10, 10**18, 10**10)

    assert chain_nonce(rpc, lp_pool.tx.address) == nonce
    minted = await lp_pool.mint(lower, upper, 10**18, 10**10, 0, 0)
    assert rpc.eth.get_transaction(minted_tx_hash(rpc, lp_pool))["nonce"] == nonce
    assert minted.liquidity > 0


def minted_tx_hash(rpc: Web3, pool: ChainPool) -> Any:
    block = rpc.eth.get_block("latest", full_transactions=True)
    (tx,) = [t for t in block["transactions"] if t["from"] == pool.tx.address]
    return tx["hash"]


async def test_deadline_comes_from_the_injected_clock(connect_pool: Any) -> None:
    pool = await connect_pool(2)
    pool.clock = FixedClock(now_ns=0)  # 1970: every deadline is long past
    with pytest.raises(SimulationReverted, match="Transaction too old"):
        await pool.mint(-887220, 887220, 10**18, 10**9, 0, 0)


async def test_terse_core_codes_are_explained(lp_pool: ChainPool, connect_pool: Any, rpc: Web3) -> None:
    await seed_liquidity(lp_pool)
    empty = Account.create()  # has ETH for gas, no tokens
    cheat(rpc, "anvil_setBalance", empty.address, hex(10**18))
    pool = await connect_pool(empty.key.to_0x_hex())
    with pytest.raises(
        SimulationReverted, match=r"swap: would revert: STF \(a token transfer from the wallet"
    ):
        await pool.swap_exact_input(True, 10**15, 0)


async def test_gas_above_the_cap_is_refused(lp_pool: ChainPool, connect_pool: Any, rpc: Web3) -> None:
    await seed_liquidity(lp_pool)
    trader = await connect_pool(2, max_fee_gwei=Decimal(100))
    first = await trader.swap_exact_input(True, 10**15, 0)
    sent = rpc.eth.get_transaction(minted_tx_hash(rpc, trader))
    assert sent["maxFeePerGas"] <= 100 * GWEI  # the cap bounds what a tx may pay, too
    assert first.gas_cost_wei > 0

    cheat(rpc, "anvil_setNextBlockBaseFeePerGas", hex(500 * GWEI))
    cheat(rpc, "evm_mine")
    nonce = chain_nonce(rpc, trader.tx.address)
    with pytest.raises(FeeCapExceeded, match=r"swap: base fee \+ tip is 4\d\d\.\d+ gwei, above max_fee_gwei"):
        await trader.swap_exact_input(True, 10**15, 0)
    assert chain_nonce(rpc, trader.tx.address) == nonce
    assert trader.tx.nonces.next_nonce == nonce


async def test_dropped_transaction_is_reported_and_its_nonce_reused(
    lp_pool: ChainPool, connect_pool: Any, rpc: Web3
) -> None:
    await seed_liquidity(lp_pool)
    trader = await connect_pool(2, tx_timeout_s=1.0)
    await trader.swap_exact_input(True, 10**15, 0)
    address = trader.tx.address
    nonce = chain_nonce(rpc, address)

    cheat(rpc, "evm_setAutomine", False)
    swap = asyncio.create_task(trader.swap_exact_input(True, 10**15, 0))
    await wait_for(lambda: chain_nonce(rpc, address) == nonce + 1)  # in the mempool
    cheat(rpc, "anvil_dropAllTransactions")
    cheat(rpc, "evm_setAutomine", True)
    with pytest.raises(TxNotMined, match="dropped by the node") as info:
        await swap
    assert info.value.nonce == nonce and info.value.dropped

    await trader.swap_exact_input(True, 10**15, 0)
    assert chain_nonce(rpc, address) == nonce + 1  # the dropped nonce was reused, no gap


class LateReceiptAnswer(RpcProxy):
    """Once armed: forwards the next receipt look at once, runs `meanwhile` (the block that mines
    the transaction), then withholds the node's answer for `hold_s` (a pause of our process, a
    slow node) before giving it."""

    def __init__(self, upstream: str, hold_s: float) -> None:
        super().__init__(upstream)
        self.hold_s = hold_s
        self.meanwhile: Callable[[], None] | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        method, hook = (await request.json())["method"], self.meanwhile
        if method != "eth_getTransactionReceipt" or hook is None:
            return await super()._handle(request)
        self.meanwhile = None
        answer = await super()._handle(request)  # not mined yet when the node answered
        hook()
        await asyncio.sleep(self.hold_s)
        return answer


async def test_a_look_answered_after_the_deadline_is_not_the_last_word(
    lp_pool: ChainPool, connect_pool: Any, rpc: Web3, uniswap: UniswapDeployment
) -> None:
    """The only receipt look asked within tx_timeout_s is answered after it ("not mined"); the
    block came in time: one more look, not a transaction declared not mined."""
    await seed_liquidity(lp_pool)
    proxy = LateReceiptAnswer(uniswap.rpc_url, hold_s=0.5)
    await proxy.start()
    try:
        trader = await connect_pool(2, rpc_url=proxy.url, tx_timeout_s=0.2, receipt_poll_s=0.05)
        await trader.swap_exact_input(True, 10**15, 0)  # approvals out of the way
        proxy.meanwhile = lambda: cheat(rpc, "evm_mine")
        cheat(rpc, "evm_setAutomine", False)
        swap = await trader.swap_exact_input(True, 10**15, 0)
    finally:
        await proxy.stop()

    assert proxy.meanwhile is None and swap.amount_in == 10**15
    looks = [m for m in proxy.requests if m["method"] == "eth_getTransactionReceipt"]
    assert looks[-1]["params"] == looks[-2]["params"]  # the late "not mined", then the receipt


async def test_nonce_gap_is_filled_after_a_lost_transaction(
    lp_pool: ChainPool, connect_pool: Any, rpc: Web3
) -> None:
    await seed_liquidity(lp_pool)
    trader = await connect_pool(2, tx_timeout_s=1.0)
    await trader.swap_exact_input(True, 10**15, 0)
    address = trader.tx.address
    nonce = chain_nonce(rpc, address)

    async def accepted_then_lost(n: int) -> int:  # an RPC that said OK but never propagated it
        return n

    assert await trader.tx.nonces.run(accepted_then_lost) == nonce
    with pytest.raises(TxNotMined, match="still pending") as info:  # queued behind the gap
        await trader.swap_exact_input(True, 10**15, 0)
    assert info.value.nonce == nonce + 1 and not info.value.dropped

    filler = await trader.swap_exact_input(True, 10**15, 0)  # resynced: takes the gap's nonce

    assert filler.amount_in == 10**15
    assert rpc.eth.get_transaction_count(address, "latest") == nonce + 2  # type: ignore[arg-type]
    assert rpc.eth.get_transaction(info.value.tx_hash)["nonce"] == nonce + 1
    assert rpc.eth.get_transaction_receipt(info.value.tx_hash)["status"] == 1  # the stuck one went through


async def test_another_sender_on_the_same_key_is_survived(
    lp_pool: ChainPool, trader_pool: ChainPool, uniswap: UniswapDeployment, rpc: Web3
) -> None:
    await seed_liquidity(lp_pool)
    await trader_pool.swap_exact_input(True, 10**15, 0)  # our counter is now warm
    address = trader_pool.tx.address
    nonce = chain_nonce(rpc, address)
    # a second process with the same key takes our next nonce behind our back
    rpc.eth.send_transaction({"from": address, "to": uniswap.accounts[5].address, "value": 1})
    assert trader_pool.tx.nonces.next_nonce == nonce

    swap = await trader_pool.swap_exact_input(True, 10**15, 0)

    assert swap.amount_in == 10**15
    assert chain_nonce(rpc, address) == nonce + 2


async def test_private_key_never_shows(
    trader_pool: ChainPool, uniswap: UniswapDeployment, caplog: pytest.LogCaptureFixture
) -> None:
    key = uniswap.accounts[2].private_key
    caplog.set_level(logging.DEBUG)
    await trader_pool.mint(-887220, 887220, 10**16, 20 * 10**6, 0, 0)
    texts = [repr(trader_pool), repr(trader_pool.tx.signer), str(trader_pool.tx.signer), caplog.text]
    assert all(key[2:] not in t and key not in t for t in texts)
    assert trader_pool.tx.address in repr(trader_pool.tx.signer)
    assert "MMBOT_TEST_KEY_2" in repr(trader_pool.tx.signer)
