"""Transactions whose outcome the bot could not see (#21): every case ends with store == chain.

A JSON-RPC proxy between the LP manager and anvil forwards a transaction and then answers an error
(a gateway error, "already known", "nonce too low"), or answers HTTP 500 to every receipt and
lookup of one transaction until the manager gave up on it. Afterwards the stored positions and
liquidity, fees, gas and swaps are compared with the chain's events and receipts, and every
eth_sendRawTransaction is checked to follow an eth_call of the same calldata.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from eth_utils import keccak
from hexbytes import HexBytes
from web3 import Web3

from amm.chain.artifacts import load_abi
from amm.chain.local_chain import UniswapDeployment
from amm.chain.pool import ChainPool
from amm.chain.tx_manager import TxNotMined
from amm.math.conversions import sqrt_price_x96_to_price
from bot.core.clock import LoopClock
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from bot.reports.lp_status import owns_gas
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import PoolLpManager
from tests.chain.conftest import LP_ACCOUNT, cheat
from tests.chain.test_chain_faults import (
    RpcProxy,
    assert_every_sent_tx_was_simulated,
    decode_raw,
    hold,
    npm_positions,
    pre_approve,
    unsettled_kinds,
)
from tests.chain.test_lp_manager_on_chain import lp_gas_paid, npm_events

pytestmark = pytest.mark.chain
GWEI = 10**9

SELECTOR = {  # Uniswap v3 periphery functions the LP manager calls
    "decrease": "0x0c49ccbe",
    "collect": "0xfc6f7865",
    "burn": "0x42966c68",
    "swap": "0x414bf389",
    "mint": "0x88316456",
}


def is_call(kind: str) -> Callable[[list[Any]], bool]:
    return lambda params: decode_raw(params[0])[1].startswith(SELECTOR[kind])


class FaultProxy(RpcProxy):
    """Also: forward a matching send and answer an error instead of its hash (`error_after_send`);
    answer HTTP 500 to every receipt and lookup of a matching send while `blind` (`blind_to`)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self._send_errors: list[tuple[Callable[[list[Any]], bool], str]] = []
        self._blind_match: Callable[[list[Any]], bool] | None = None
        self.blind_hashes: set[str] = set()
        self.blind = False

    def error_after_send(self, match: Callable[[list[Any]], bool], message: str) -> None:
        self._send_errors.append((match, message))

    def blind_to(self, match: Callable[[list[Any]], bool]) -> None:
        self._blind_match, self.blind = match, True

    async def _handle(self, request: web.Request) -> web.Response:
        message = json.loads(await request.read())
        method, params = message["method"], message["params"]
        if method == "eth_sendRawTransaction":
            if self._blind_match is not None and self._blind_match(params):
                self.blind_hashes.add(HexBytes(keccak(HexBytes(params[0]))).to_0x_hex())
            fault = next((f for f in self._send_errors if f[0](params)), None)
            if fault is not None:
                self._send_errors.remove(fault)
                await super()._handle(request)  # the node takes it
                error = {"code": -32000, "message": fault[1]}
                return web.json_response({"jsonrpc": "2.0", "id": message["id"], "error": error})
        lookups = ("eth_getTransactionReceipt", "eth_getTransactionByHash")
        if self.blind and method in lookups and params[0] in self.blind_hashes:
            self.requests.append(message)
            return web.Response(status=500, text="bad gateway")
        return await super()._handle(request)


@pytest.fixture
async def proxy(uniswap: UniswapDeployment) -> Any:
    node = FaultProxy(uniswap.rpc_url)
    await node.start()
    yield node
    await node.stop()


async def manager_on(
    pool: ChainPool, db: str, *, swap: bool = False
) -> tuple[PoolLpManager, LpStore, Callable[[], float]]:
    store = LpStore(Store(db))
    state = await pool.read_state()
    price = sqrt_price_x96_to_price(state.sqrt_price_x96, pool.token0.decimals, pool.token1.decimals)
    params = LpManagerParams(
        kind="lp_manager",
        pools=["uni"],
        capital_token1=5_000,
        min_swap_token1=1.0 if swap else 1e12,  # 1e12: no ratio swap, the mint stands alone
    )
    manager = PoolLpManager("lp", "uni", pool, lambda: price, params, LoopClock(), store)
    return manager, store, lambda: price


async def background_liquidity(connect_pool: Any) -> None:
    other = await connect_pool(2)
    await other.mint(-887220, 887220, 10 * 10**18, 20_000 * 10**6, 0, 0)


async def trade_both_ways(connect_pool: Any) -> None:
    trader = await connect_pool(2)
    sold = await trader.swap_exact_input(True, 10**18, 0)
    await trader.swap_exact_input(False, sold.amount_out, 0)


def assert_books_match_chain(
    manager: PoolLpManager, store: LpStore, rpc: Web3, u: UniswapDeployment, first_block: int
) -> None:
    """Positions and liquidity, fees, gas and swaps: exactly what the chain's events and receipts say."""
    owner = manager.pool.tx.address  # type: ignore[attr-defined]
    live = {tid: liq for tid, liq in npm_positions(rpc, u, owner) if liq > 0}
    assert {r.token_id: int(r.liquidity) for r in store.positions("lp", open_only=True)} == live
    assert ({manager.position.token_id: manager.position.liquidity_raw} if manager.position else {}) == live
    # Fees: what each position's collects paid out, less the principal its decrease released.
    collects = npm_events(rpc, u, "Collect", first_block)
    decreases = npm_events(rpc, u, "DecreaseLiquidity", first_block)
    for token_id in set(collects) | {f.token_id for f in store.fees()}:
        fees = [(int(f.amount0), int(f.amount1)) for f in store.fees() if f.token_id == token_id]
        paid = [sum(e["args"][k] for e in collects.get(token_id, [])) for k in ("amount0", "amount1")]
        released = [sum(e["args"][k] for e in decreases.get(token_id, [])) for k in ("amount0", "amount1")]
        assert [sum(f[0] for f in fees), sum(f[1] for f in fees)] == [
            paid[0] - released[0],
            paid[1] - released[1],
        ]
    for row in store.positions("lp"):
        if row.closed_ns is not None and row.token_id in decreases:
            (event,) = decreases[row.token_id]
            assert (int(row.amount0_out), int(row.amount1_out)) == (
                event["args"]["amount0"],
                event["args"]["amount1"],
            )
    # Gas: every transaction the account sent, to the wei, each booked once.
    _, paid_wei = lp_gas_paid(rpc, owner, first_block, rpc.eth.block_number)
    assert sum(int(g.gas_wei) for g in store.gas()) == paid_wei
    # Swaps: one row per Swap event paid to us.
    pool = rpc.eth.contract(address=u.pool, abi=load_abi("UniswapV3Pool"))  # type: ignore[call-overload]
    ours = [
        e["args"]
        for e in pool.events.Swap().get_logs(from_block=first_block)
        if e["args"]["recipient"] == owner
    ]
    assert [(s.zero_for_one, int(s.amount_in), int(s.amount_out)) for s in store.swaps()] == [
        (a["amount0"] > 0, max(a["amount0"], a["amount1"]), -min(a["amount0"], a["amount1"])) for a in ours
    ]
    assert manager.lifecycle.pending == 0
    assert manager.lifecycle.chain is not None and manager.lifecycle.chain.journal.unbooked() == []
    assert_accounts_match_rows(manager, store)


def assert_accounts_match_rows(manager: PoolLpManager, store: LpStore) -> None:
    """Each position this process opened: its account (`strategies.lp.accounts`, filled as the
    journal's entries were booked) is what was stored for it, fees to the unit and gas to the wei by
    the status's ownership rule, and its opening's swap cost."""
    rows = {r.id: r for r in store.positions("lp")}
    for account in manager.ledger.accounts.values():
        row = rows[account.row_id]
        fees = [(int(f.amount0), int(f.amount1)) for f in store.fees() if f.token_id == row.token_id]
        assert (account.fees0_raw, account.fees1_raw) == (sum(f[0] for f in fees), sum(f[1] for f in fees))
        assert account.gas_wei == sum(int(g.gas_wei) for g in store.gas() if owns_gas(row, g))
        opening_swaps = [s.cost_token1 for s in store.swaps() if s.ts_ns == row.opened_ns]
        assert account.swap_cost_token1 == pytest.approx(sum(opening_swaps), abs=1e-12)


@pytest.mark.parametrize("blinded", ["decrease", "collect", "burn"])
async def test_a_close_step_mined_but_unreadable_is_settled_and_booked_once(
    blinded: str, connect_pool: Any, proxy: FaultProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    await background_liquidity(connect_pool)
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url, tx_timeout_s=0.6, receipt_poll_s=0.1)
    first_block = rpc.eth.block_number + 1
    manager, store, fair = await manager_on(pool, f"sqlite:///{tmp_path}/lp.sqlite")
    await manager.lifecycle.open(0.05, fair(), LoopClock().now_ns())
    assert manager.position is not None
    token_id = manager.position.token_id
    await trade_both_ways(connect_pool)  # fees for the position: principal must not pass for them
    proxy.blind_to(is_call(blinded))

    with pytest.raises(TxNotMined, match=blinded.replace("decrease", "decrease_liquidity")):
        await manager.lifecycle.close(fair(), LoopClock().now_ns(), "test")
    proxy.blind = False
    assert unsettled_kinds(manager) == [blinded]  # mined on chain, its outcome not seen yet

    await manager.step(policy=hold)  # settles it from the chain, books it, finishes the close

    assert manager.position is None and token_id not in [
        t for t, _ in npm_positions(rpc, uniswap, pool.tx.address)
    ]
    (row,) = store.positions("lp")
    assert row.closed_ns is not None
    assert sum(int(f.amount0) for f in store.fees()) > 0  # real fees, and only those
    assert_books_match_chain(manager, store, rpc, uniswap, first_block)
    sends = [m for m in proxy.requests if m["method"] == "eth_sendRawTransaction"]
    assert [decode_raw(m["params"][0])[1][:10] for m in sends].count(SELECTOR[blinded]) == 1  # never re-sent
    assert_every_sent_tx_was_simulated(proxy, pool.tx.address)


async def test_a_ratio_swap_mined_but_unreadable_is_booked_and_not_repeated(
    connect_pool: Any, proxy: FaultProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    await background_liquidity(connect_pool)
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url, tx_timeout_s=0.6, receipt_poll_s=0.1)
    await pre_approve(pool)
    first_block = rpc.eth.block_number + 1
    manager, store, fair = await manager_on(pool, f"sqlite:///{tmp_path}/lp.sqlite", swap=True)
    proxy.blind_to(is_call("swap"))

    with pytest.raises(TxNotMined, match="swap"):
        await manager.lifecycle.open(0.02, fair(), LoopClock().now_ns())  # a narrow range: a swap first
    proxy.blind = False
    assert store.swaps() == [] and unsettled_kinds(manager) == ["swap"]

    await manager.step(policy=hold)

    assert len(store.swaps()) == 1 and store.gas()[-1].operation == "swap"
    assert_books_match_chain(manager, store, rpc, uniswap, first_block)
    assert_every_sent_tx_was_simulated(proxy, pool.tx.address)


@pytest.mark.parametrize("answer", ["gateway timeout after forwarding", "already known", "nonce too low"])
async def test_an_error_answer_for_a_mint_the_node_took_is_settled_by_hash(
    answer: str, connect_pool: Any, proxy: FaultProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    """The node took (and anvil mined) the mint; the answer said otherwise: one position, tracked."""
    await background_liquidity(connect_pool)
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url)
    await pre_approve(pool)
    first_block = rpc.eth.block_number + 1
    manager, store, fair = await manager_on(pool, f"sqlite:///{tmp_path}/lp.sqlite")
    proxy.error_after_send(is_call("mint"), answer)

    await manager.lifecycle.open(0.05, fair(), LoopClock().now_ns())

    assert len(npm_positions(rpc, uniswap, pool.tx.address)) == 1  # minted once, not twice
    assert manager.position is not None
    assert_books_match_chain(manager, store, rpc, uniswap, first_block)
    assert assert_every_sent_tx_was_simulated(proxy, pool.tx.address) == 3  # two approvals, one mint


@pytest.mark.parametrize("answer", ["already known", "nonce too low"])
async def test_an_error_answer_for_our_own_mined_swap_is_not_a_second_swap(
    answer: str, connect_pool: Any, proxy: FaultProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    await background_liquidity(connect_pool)
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url)
    await pre_approve(pool)
    first_block = rpc.eth.block_number + 1
    manager, store, fair = await manager_on(pool, f"sqlite:///{tmp_path}/lp.sqlite", swap=True)
    proxy.error_after_send(is_call("swap"), answer)

    await manager.lifecycle.open(0.02, fair(), LoopClock().now_ns())

    assert len(store.swaps()) == 1 and manager.position is not None  # one swap, then the mint
    (swap,) = store.swaps()  # booked once, from its receipt, to the new position's account
    assert manager.position.swap_cost_token1 == swap.cost_token1 and swap.cost_token1 != 0.0
    assert_books_match_chain(manager, store, rpc, uniswap, first_block)
    sends = [decode_raw(m["params"][0]) for m in proxy.requests if m["method"] == "eth_sendRawTransaction"]
    assert [data[:10] for _, data in sends].count(SELECTOR["swap"]) == 1
    assert_every_sent_tx_was_simulated(proxy, pool.tx.address)


async def test_a_restart_while_the_mint_is_pending_adopts_it_from_the_journal(
    connect_pool: Any, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    await background_liquidity(connect_pool)
    db = f"sqlite:///{tmp_path}/lp.sqlite"
    pool = await connect_pool(LP_ACCOUNT, tx_timeout_s=0.5, receipt_poll_s=0.1)
    await pre_approve(pool)
    first_block = rpc.eth.block_number + 1
    before, store, fair = await manager_on(pool, db)
    cheat(rpc, "evm_setAutomine", False)
    await before.lifecycle.open(0.05, fair(), LoopClock().now_ns())  # not mined in time: pending
    assert before.position is None and unsettled_kinds(before) == ["mint"]

    # A new process: a new connection, a new manager on the same store; the first only in the store.
    pool = await connect_pool(LP_ACCOUNT, tx_timeout_s=0.5, receipt_poll_s=0.1)
    after, store, fair = await manager_on(pool, db)
    assert await after.step(policy=hold) is None  # still pending: nothing decided, nothing sent
    cheat(rpc, "evm_mine")
    cheat(rpc, "evm_setAutomine", True)
    decision = await after.step(policy=hold)

    assert decision is not None and after.position is not None
    mint_gas = sum(int(g.gas_wei) for g in store.gas() if g.operation == "mint")
    assert after.position.account.gas_wei == mint_gas > 0  # booked by the new process, to its account
    assert_books_match_chain(after, store, rpc, uniswap, first_block)
    (row,) = store.positions("lp")
    assert (row.tick_lower, row.tick_upper) == (
        after.position.choice.tick_lower,
        after.position.choice.tick_upper,
    )


async def test_a_restart_after_an_unread_burn_closes_the_row_and_books_the_burn(
    connect_pool: Any, proxy: FaultProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    """The stored position is burnt on chain (positions() reverts "Invalid token ID"): adopting
    it must not kill the strategy; the row closes with what the journal says the decrease released."""
    await background_liquidity(connect_pool)
    db = f"sqlite:///{tmp_path}/lp.sqlite"
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url, tx_timeout_s=0.6, receipt_poll_s=0.1)
    first_block = rpc.eth.block_number + 1
    before, store, fair = await manager_on(pool, db)
    await before.lifecycle.open(0.05, fair(), LoopClock().now_ns())
    await trade_both_ways(connect_pool)
    proxy.blind_to(is_call("burn"))
    with pytest.raises(TxNotMined, match="burn"):
        await before.lifecycle.close(fair(), LoopClock().now_ns(), "test")
    proxy.blind = False

    after, store, fair = await manager_on(await connect_pool(LP_ACCOUNT), db)
    (row,) = store.positions("lp", open_only=True)
    await after.lifecycle.adopt(row)
    await after.step(policy=hold)

    assert after.position is None and store.positions("lp", open_only=True) == []
    assert [g.operation for g in store.gas()].count("burn") == 1
    assert_books_match_chain(after, store, rpc, uniswap, first_block)


async def test_a_stuck_swap_under_a_base_fee_spike_is_replaced_and_mined_once(
    connect_pool: Any, proxy: FaultProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    await background_liquidity(connect_pool)
    pool = await connect_pool(
        LP_ACCOUNT, rpc_url=proxy.url, tx_timeout_s=0.5, receipt_poll_s=0.1, replace_after_s=0.01
    )
    await pre_approve(pool)
    for token in (pool.token0, pool.token1):  # the router's approvals too: the swap is the one tx
        await pool._ensure_allowance(token, pool.router.address, 10**30)
    first_block = rpc.eth.block_number + 1
    manager, store, fair = await manager_on(pool, f"sqlite:///{tmp_path}/lp.sqlite", swap=True)
    cheat(rpc, "evm_setAutomine", False)
    with pytest.raises(TxNotMined, match="swap"):
        await manager.lifecycle.open(0.02, fair(), LoopClock().now_ns())
    (stuck,) = manager.lifecycle.chain.journal.unsettled()  # type: ignore[union-attr]
    assert stuck.intent.max_fee_wei < 10 * GWEI
    # The spike: the next block's base fee is above our swap's max fee, it cannot be included.
    # (anvil evicts such a transaction when it builds a block, so no block is mined until replaced)
    cheat(rpc, "anvil_setNextBlockBaseFeePerGas", hex(10 * GWEI))

    assert await manager.step(policy=hold) is None  # pending past replace_after_s: replaced, no new send
    cheat(rpc, "evm_mine")
    cheat(rpc, "evm_setAutomine", True)
    await manager.step(policy=hold)

    (entry,) = [e for e in manager.lifecycle.chain.journal.rows.rows() if e.kind == "swap"]  # type: ignore[union-attr]
    hashes = json.loads(entry.hashes)
    assert len(hashes) == 2 and entry.outcome == "mined" and entry.tx_hash == hashes[1]
    assert int(entry.max_fee_wei) > 10 * GWEI  # the replacement paid through the spike, under the cap
    sends = [decode_raw(m["params"][0]) for m in proxy.requests if m["method"] == "eth_sendRawTransaction"]
    assert [data[:10] for _, data in sends].count(SELECTOR["swap"]) == 2  # the stuck one and its replacement
    assert_books_match_chain(manager, store, rpc, uniswap, first_block)
    assert_every_sent_tx_was_simulated(proxy, pool.tx.address)
