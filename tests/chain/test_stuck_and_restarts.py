"""More of #21 on anvil with the real contracts, through the JSON-RPC proxy of test_tx_intents:
a stuck transaction that cannot be re-sent is cancelled at its nonce; a crash between a booking's
rows and its "booked" mark books it once; a hot reload with a mint pending; a mint the bot declared
dead that is re-broadcast and mined; a same-block back-run of the ratio swap. Each ends with the
store equal to the chain (positions and liquidity, fees, gas to the wei, swaps) and every
eth_sendRawTransaction preceded by an eth_call of the same calldata.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from web3 import Web3

from amm.chain.local_chain import UniswapDeployment
from amm.chain.tx_manager import TxNotMined
from bot.core.clock import LoopClock
from strategies.lp.tx_journal import StoreTxJournal
from tests.chain.conftest import LP_ACCOUNT, cheat
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
    manager_on,
    proxy,  # noqa: F401  (the fixture)
)

pytestmark = pytest.mark.chain


async def test_a_stuck_swap_that_would_revert_now_is_cancelled_at_its_nonce(
    connect_pool: Any, proxy: FaultProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
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
    assert json.loads(cancel.context) == {"cancels": swap.id} and int(cancel.max_fee_wei) <= pool.tx.max_fee_wei
    mined = rpc.eth.get_transaction(cancel.tx_hash)  # type: ignore[arg-type]
    assert (mined["to"], mined["from"], mined["value"], mined["nonce"]) == (address, address, 0, nonce)
    assert store.swaps() == [] and [g.operation for g in store.gas()] == ["cancel"]
    assert [a.action for a in store.actions("lp")] == ["swap_cancel", "swap_failed"]
    assert "would revert now" in store.actions("lp")[0].reason and "cancelled" in store.actions("lp")[1].reason
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


def sent_selectors(proxy: FaultProxy) -> list[str]:
    return [decode_raw(m["params"][0])[1][:10] for m in proxy.requests if m["method"] == "eth_sendRawTransaction"]


def count(proxy: FaultProxy, kind: str) -> int:
    return sent_selectors(proxy).count(SELECTOR[kind])


async def test_a_hot_reload_with_a_mint_pending_adopts_it_once(
    connect_pool: Any, proxy: FaultProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
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
    connect_pool: Any, proxy: FaultProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
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
