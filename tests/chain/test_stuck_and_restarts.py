"""More of #21 on anvil with the real contracts, through the JSON-RPC proxy of test_tx_intents:
a stuck transaction that cannot be re-sent is cancelled at its nonce; a crash between a booking's
rows and its "booked" mark books it once; a hot reload with a mint pending; a mint the bot declared
dead that is re-broadcast and mined; a same-block back-run of the ratio swap. Each ends with the
store equal to the chain (positions and liquidity, fees, gas to the wei, swaps) and every
eth_sendRawTransaction preceded by an eth_call of the same calldata.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from web3 import Web3

from amm.chain.artifacts import load_abi
from amm.chain.local_chain import UniswapDeployment
from amm.chain.tx_manager import TxNotMined
from amm.math.conversions import price_to_sqrt_price_x96, sqrt_price_x96_to_price
from bot.core.clock import LoopClock
from strategies.lp.tx_journal import StoreTxJournal
from tests.chain.conftest import LP_ACCOUNT, TRADER_ACCOUNT, cheat
from tests.chain.test_chain_faults import (
    assert_every_sent_tx_was_simulated,
    decode_raw,
    hold,
    npm_positions,
    pre_approve,
    unsettled_kinds,
)
from tests.chain.test_tx_intents import (
    SELECTOR,
    FaultProxy,
    assert_books_match_chain,
    background_liquidity,
    is_call,
    manager_on,
)

pytestmark = pytest.mark.chain


class BackRunProxy(FaultProxy):
    """Also runs `after_swap` once, right after forwarding our swap and before answering it."""

    after_swap: Callable[[], None] | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        answer = await super()._handle(request)
        message = json.loads(await request.read())
        hook = self.after_swap
        if (
            hook is not None
            and message["method"] == "eth_sendRawTransaction"
            and is_call("swap")(message["params"])
        ):
            self.after_swap = None
            hook()
        return answer


@pytest.fixture
async def proxy(uniswap: UniswapDeployment) -> Any:
    node = BackRunProxy(uniswap.rpc_url)
    await node.start()
    yield node
    await node.stop()


async def test_a_stuck_swap_that_would_revert_now_is_cancelled_at_its_nonce(
    connect_pool: Any, proxy: BackRunProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    await background_liquidity(connect_pool)
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url, tx_timeout_s=0.5, receipt_poll_s=0.1,
                              replace_after_s=0.01, cancel_after_s=0.01, deadline_s=60)  # fmt: skip
    await pre_approve(pool)
    for token in (pool.token0, pool.token1):  # the router's approvals too: the swap is the one tx
        await pool._ensure_allowance(token, pool.router.address, 10**30)
    first_block = rpc.eth.block_number + 1
    address = pool.tx.address
    nonce = rpc.eth.get_transaction_count(address)  # type: ignore[arg-type]
    manager, store, fair = await manager_on(pool, f"sqlite:///{tmp_path}/lp.sqlite", swap=True)
    gas_limit = rpc.eth.get_block("latest")["gasLimit"]
    cheat(rpc, "evm_setAutomine", False)
    try:
        with pytest.raises(TxNotMined, match="swap"):
            await manager.lifecycle.open(0.02, fair(), LoopClock().now_ns())
        # Blocks go on without it (too little room in them) past its deadline: re-sent, it would
        # revert ("Transaction too old"), so it is not bumped but cancelled.
        cheat(rpc, "evm_setBlockGasLimit", hex(100_000))
        cheat(rpc, "evm_increaseTime", 120)
        cheat(rpc, "evm_mine")
        assert unsettled_kinds(manager) == ["swap"]

        assert await manager.step(policy=hold) is None  # cancelled; nothing new sent behind it
        assert unsettled_kinds(manager) == ["swap", "cancel"]
        cheat(rpc, "evm_mine")
    finally:
        cheat(rpc, "evm_setBlockGasLimit", hex(gas_limit))
        cheat(rpc, "evm_setAutomine", True)
    decision = await manager.step(policy=hold)

    assert decision is not None  # settled: the pool is free to act again
    rows = {r.kind: r for r in manager.lifecycle.chain.journal.rows.rows()}  # type: ignore[union-attr]
    swap, cancel = rows["swap"], rows["cancel"]
    assert (swap.outcome, cancel.outcome, swap.nonce, cancel.nonce) == ("dropped", "mined", nonce, nonce)
    assert json.loads(cancel.context) == {"cancels": swap.id}
    assert int(swap.max_fee_wei) < int(cancel.max_fee_wei) <= pool.tx.max_fee_wei  # a replacement's fee
    mined = rpc.eth.get_transaction(cancel.tx_hash)  # type: ignore[arg-type]
    assert (mined["to"], mined["from"], mined["value"], mined["nonce"]) == (address, address, 0, nonce)
    assert store.swaps() == [] and [g.operation for g in store.gas()] == ["cancel"]
    cancelling, failed = store.actions("lp")
    assert (cancelling.action, failed.action) == ("swap_cancel", "swap_failed")
    assert "would revert now" in cancelling.reason and "cancelled" in failed.reason
    assert_books_match_chain(manager, store, rpc, uniswap, first_block)
    assert_every_sent_tx_was_simulated(proxy, address)  # the cancel too
    assert sent_selectors(proxy)[-2:] == [SELECTOR["swap"], "0x"]  # after the approvals: no bump


class Crash(BaseException):
    """The process dies here (nothing after it runs; what was not committed is lost)."""


async def test_a_crash_between_a_booking_and_its_mark_books_it_once(
    connect_pool: Any, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await background_liquidity(connect_pool)
    db = f"sqlite:///{tmp_path}/lp.sqlite"
    pool = await connect_pool(LP_ACCOUNT)
    await pre_approve(pool)
    first_block = rpc.eth.block_number + 1
    before, store, fair = await manager_on(pool, db)

    def crash(*_: Any) -> None:
        raise Crash

    monkeypatch.setattr(StoreTxJournal, "booked", crash)  # after the mint's rows, before its mark
    with pytest.raises(Crash):
        await before.lifecycle.open(0.05, fair(), LoopClock().now_ns())
    monkeypatch.undo()
    assert len(npm_positions(rpc, uniswap, pool.tx.address)) == 1  # minted on chain
    assert store.positions("lp") == [] and store.gas() == []  # none of the booking's rows stayed

    after, store, fair = await manager_on(await connect_pool(LP_ACCOUNT), db)  # the restart
    await after.step(policy=hold)

    assert len(store.positions("lp")) == 1 and [g.operation for g in store.gas()] == ["mint"]
    assert after.position is not None
    assert_books_match_chain(after, store, rpc, uniswap, first_block)


def sent_selectors(proxy: BackRunProxy) -> list[str]:
    return [
        decode_raw(m["params"][0])[1][:10] for m in proxy.requests if m["method"] == "eth_sendRawTransaction"
    ]


def count(proxy: BackRunProxy, kind: str) -> int:
    return sent_selectors(proxy).count(SELECTOR[kind])


async def test_a_hot_reload_with_a_mint_pending_adopts_it_once(
    connect_pool: Any, proxy: BackRunProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    """A reload keeps the venue's pool (its connection and nonce counter) and builds a new manager
    on the same store: the old one's pending mint is settled and booked by the new one."""
    await background_liquidity(connect_pool)
    db = f"sqlite:///{tmp_path}/lp.sqlite"
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url, tx_timeout_s=0.5, receipt_poll_s=0.1)
    await pre_approve(pool)
    first_block = rpc.eth.block_number + 1
    before, store, fair = await manager_on(pool, db)
    cheat(rpc, "evm_setAutomine", False)
    await before.lifecycle.open(0.05, fair(), LoopClock().now_ns())  # not mined in time: pending
    assert before.position is None and unsettled_kinds(before) == ["mint"]

    after, store, fair = await manager_on(pool, db)  # the reloaded strategy, the same pool object
    assert await after.step(policy=hold) is None  # still pending: nothing decided, nothing sent
    cheat(rpc, "evm_mine")
    cheat(rpc, "evm_setAutomine", True)
    assert await after.step(policy=hold) is not None

    assert after.position is not None and len(npm_positions(rpc, uniswap, pool.tx.address)) == 1
    assert_books_match_chain(after, store, rpc, uniswap, first_block)
    assert count(proxy, "mint") == 1
    assert_every_sent_tx_was_simulated(proxy, pool.tx.address)


async def test_a_mint_declared_dead_then_re_broadcast_and_mined_is_adopted_not_repeated(
    connect_pool: Any, proxy: BackRunProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    await background_liquidity(connect_pool)
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url, tx_timeout_s=0.5, receipt_poll_s=0.1)
    await pre_approve(pool)
    first_block = rpc.eth.block_number + 1
    manager, store, fair = await manager_on(pool, f"sqlite:///{tmp_path}/lp.sqlite")
    cheat(rpc, "evm_setAutomine", False)
    await manager.lifecycle.open(0.05, fair(), LoopClock().now_ns())  # not mined in time
    raw = [m["params"][0] for m in proxy.requests if m["method"] == "eth_sendRawTransaction"][-1]
    assert decode_raw(raw)[1].startswith(SELECTOR["mint"])
    cheat(rpc, "anvil_dropAllTransactions")  # the node forgets it: its nonce is free again

    assert await manager.step(policy=hold) is not None  # declared dead: the pool may act again
    assert [a.action for a in store.actions("lp")] == ["mint_unconfirmed", "mint_failed"]
    assert "its nonce is free" in store.actions("lp")[-1].reason and store.positions("lp") == []
    rpc.eth.send_raw_transaction(raw)  # a peer that kept it broadcasts it again
    cheat(rpc, "evm_mine")
    cheat(rpc, "evm_setAutomine", True)
    await manager.step(policy=hold)

    (row,) = manager.lifecycle.chain.journal.rows.rows()  # type: ignore[union-attr]
    assert (row.kind, row.outcome, row.booked) == ("mint", "mined", True)
    assert manager.position is not None and len(npm_positions(rpc, uniswap, pool.tx.address)) == 1
    assert_books_match_chain(manager, store, rpc, uniswap, first_block)
    assert count(proxy, "mint") == 1  # the bot never minted again
    assert_every_sent_tx_was_simulated(proxy, pool.tx.address)


async def test_a_same_block_back_run_of_the_ratio_swap_makes_the_mint_refuse(
    connect_pool: Any, proxy: BackRunProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    """A searcher sees our ratio swap (selling tWETH) and pushes the price 2 % further down right
    behind it, in the same block. The mint's floors come from the fair, not from the block: the
    mint is refused by its simulation (nothing sent), the swap is booked, store == chain."""
    await background_liquidity(connect_pool)
    searcher = await connect_pool(TRADER_ACCOUNT)
    await searcher._ensure_allowance(searcher.token0, searcher.router.address, 10**30)
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url)
    await pre_approve(pool)
    for token in (pool.token0, pool.token1):
        await pool._ensure_allowance(token, pool.router.address, 10**30)
    first_block = rpc.eth.block_number + 1
    manager, store, fair = await manager_on(pool, f"sqlite:///{tmp_path}/lp.sqlite", swap=True)
    router = rpc.eth.contract(address=uniswap.swap_router, abi=load_abi("SwapRouter"))  # type: ignore[call-overload]
    account = uniswap.accounts[TRADER_ACCOUNT]
    limit = price_to_sqrt_price_x96(fair() * 0.98, pool.token0.decimals, pool.token1.decimals)
    back_run: list[str] = []

    def push_behind_our_swap() -> None:
        # Paying less than ours, tip and max fee: block builders order by what a transaction pays.
        base_fee = rpc.eth.get_block("latest")["baseFeePerGas"]
        args = (pool.token0.address, pool.token1.address, uniswap.fee_pips, account.address, 2**40,
                10**27, 0, limit)  # fmt: skip
        nonce = rpc.eth.get_transaction_count(account.address, "pending")
        fees = {"maxFeePerGas": base_fee * 5 // 4, "maxPriorityFeePerGas": 0}
        tx = router.functions.exactInputSingle(args).build_transaction(
            {"from": account.address, "nonce": nonce, "gas": 500_000, **fees}  # type: ignore[typeddict-item]
        )
        signed = rpc.eth.account.sign_transaction(tx, account.private_key)
        back_run.append(rpc.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex())
        cheat(rpc, "evm_mine")  # one block: our swap (higher tip) first, the push behind it
        cheat(rpc, "evm_setAutomine", True)

    proxy.after_swap = push_behind_our_swap
    cheat(rpc, "evm_setAutomine", False)
    try:
        await manager.lifecycle.open(0.05, fair(), LoopClock().now_ns())
    finally:
        cheat(rpc, "evm_setAutomine", True)

    (swap_row,) = [r for r in manager.lifecycle.chain.journal.rows.rows() if r.kind == "swap"]  # type: ignore[union-attr]
    ours, theirs = (rpc.eth.get_transaction_receipt(h) for h in (swap_row.tx_hash, back_run[0]))  # type: ignore[arg-type]
    assert ours["blockNumber"] == theirs["blockNumber"]
    assert ours["transactionIndex"] < theirs["transactionIndex"]  # right behind ours
    assert sqrt_price_x96_to_price((await pool.read_state()).sqrt_price_x96, 18, 6) < fair() * 0.985
    (refusal,) = store.actions("lp")
    assert refusal.action == "open_refused" and "Price slippage check" in refusal.reason, refusal.reason
    assert manager.position is None and store.positions("lp") == [] and len(store.swaps()) == 1
    assert count(proxy, "mint") == 0 and count(proxy, "swap") == 1
    (swap,) = store.swaps()  # cut short by its price limit: its cost is what it swapped, at fair
    assert swap.cost_token1 == pytest.approx(int(swap.amount_in) / 1e18 * fair() - int(swap.amount_out) / 1e6)
    assert_books_match_chain(manager, store, rpc, uniswap, first_block)
    assert_every_sent_tx_was_simulated(proxy, pool.tx.address)
