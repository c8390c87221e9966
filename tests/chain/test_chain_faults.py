"""Chain faults on anvil, through a JSON-RPC proxy on 127.0.0.1 that records and can lose requests.

Covered elsewhere (tests/chain/test_tx_manager.py): a reverting transaction refused by simulation
with its decoded reason and the nonce untouched, a gas price above the cap refused unsent, a dropped
transaction whose nonce is reused, a nonce gap filled. Here: an RPC answer lost while sending (after
the node took the transaction, or the request never reaching it), a mint not mined in time (later
mined, or dropped), with the LP manager over the chain pool ending in a known state each time. Every
transaction the node received is checked against the proxy's log: it was simulated (eth_call with
the same target and calldata from our address) just before.

The proxy loses a request by closing its connection unanswered, which the client sees at once as a
transport error; a request that times out is the same error class to the code under test (the
first test shows it). The pools keep their default RPC timeout: a short one, to make a stalled
request fail fast, would be a deadline for every other request of the test too, and the proxy
runs in the test's own process, so any pause of it (a full garbage collection of a pytest worker
that collected the whole suite takes a quarter of a second of CPU) failed an unrelated request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import aiohttp
import pytest
from aiohttp import web
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
from web3 import Web3

from amm.chain.artifacts import load_abi
from amm.chain.local_chain import UniswapDeployment
from amm.chain.pool import ChainPool
from amm.chain.rpc import connect_rpc
from amm.chain.tx_manager import TRANSPORT_ERRORS, TxNotSent
from amm.math.conversions import sqrt_price_x96_to_price
from bot.core.clock import LoopClock
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import PoolLpManager
from strategies.lp.rules import Action, Decision
from tests.chain.conftest import LP_ACCOUNT, cheat

pytestmark = pytest.mark.chain

Lost = Literal["before", "after"]


class RpcProxy:
    """Forwards JSON-RPC to anvil, records every request; `lose` loses one request's answer."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: list[dict[str, Any]] = []
        self._losses: list[tuple[str, Lost, Callable[[list[Any]], bool]]] = []
        self.lost = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    def lose(self, method: str, when: Lost, match: Callable[[list[Any]], bool] = lambda _: True) -> None:
        """Close the next matching request's connection unanswered: `when` = "before" (never
        forwarded) or "after" (forwarded, the node's answer withheld). Several wait their turn each."""
        self._losses.append((method, when, match))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._session = aiohttp.ClientSession()
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        message = await request.json()
        self.requests.append(message)
        loss = next((s for s in self._losses if s[0] == message["method"] and s[2](message["params"])), None)
        if loss is not None:
            self._losses.remove(loss)
            self.lost += 1
        payload = b""
        if loss is None or loss[1] == "after":
            assert self._session is not None
            headers = {"Content-Type": "application/json"}
            async with self._session.post(self.upstream, data=body, headers=headers) as answer:
                payload = await answer.read()
        if loss is not None:
            assert request.transport is not None
            request.transport.close()  # no answer: the client reads a dropped connection
        return web.Response(body=payload, content_type="application/json")


@pytest.fixture
async def proxy(uniswap: UniswapDeployment) -> AsyncIterator[RpcProxy]:
    node = RpcProxy(uniswap.rpc_url)
    await node.start()
    yield node
    await node.stop()


def decode_raw(raw: str) -> tuple[str, str]:
    """(to, calldata) of a signed EIP-1559 transaction, both lower-case 0x hex."""
    tx = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    return HexBytes(tx["to"]).to_0x_hex().lower(), HexBytes(tx["data"]).to_0x_hex()


def tx_to(raw: str) -> str:
    return decode_raw(raw)[0]


def assert_every_sent_tx_was_simulated(proxy: RpcProxy, sender: str) -> int:
    """Each eth_sendRawTransaction follows an eth_call of the same target and calldata from us."""
    calls_before: list[tuple[str, str]] = []
    sent = 0
    for message in proxy.requests:
        if message["method"] == "eth_call":
            params = message["params"][0]
            if params.get("from", "").lower() == sender.lower():
                calls_before.append((params["to"].lower(), HexBytes(params["data"]).to_0x_hex()))
        elif message["method"] == "eth_sendRawTransaction":
            key = decode_raw(message["params"][0])
            assert key in calls_before, f"sent without simulation: {key[0]} {key[1][:10]}"
            calls_before.remove(key)
            sent += 1
    return sent


def npm_positions(rpc: Web3, uniswap: UniswapDeployment, owner: str) -> list[tuple[int, int]]:
    """(token id, liquidity) of every position NFT the owner holds, read straight from the chain."""
    npm = rpc.eth.contract(address=uniswap.position_manager, abi=load_abi("NonfungiblePositionManager"))  # type: ignore[call-overload]
    out = []
    for i in range(npm.functions.balanceOf(owner).call()):
        token_id = npm.functions.tokenOfOwnerByIndex(owner, i).call()
        out.append((token_id, npm.functions.positions(token_id).call()[7]))
    return out


async def lp_manager(
    pool: ChainPool, tmp_path: Any, **params: Any
) -> tuple[PoolLpManager, LpStore, Callable[[], float]]:
    store = LpStore(Store(f"sqlite:///{tmp_path}/lp.sqlite"))
    state = await pool.read_state()
    fair = sqrt_price_x96_to_price(state.sqrt_price_x96, pool.token0.decimals, pool.token1.decimals)
    lp_params = LpManagerParams(
        kind="lp_manager",
        pools=["uni"],
        capital_token1=5_000,
        min_swap_token1=1e12,  # no ratio swap: the mint is the one transaction under test
        **params,
    )
    manager = PoolLpManager("lp", "uni", pool, lambda: fair, lp_params, LoopClock(), store)
    return manager, store, lambda: fair


def unsettled_kinds(manager: PoolLpManager) -> list[str]:
    assert manager.lifecycle.chain is not None
    return [e.intent.kind for e in manager.lifecycle.chain.journal.unsettled()]


def hold(_view: Any, _rules: Any) -> Decision:
    return Decision(Action.HOLD, "test: measure only", executed_gate=False)


async def assert_store_matches_chain(
    manager: PoolLpManager, store: LpStore, rpc: Web3, uniswap: UniswapDeployment
) -> None:
    """Known state: the open rows are exactly the wallet's live positions, liquidity included."""
    owner = manager.pool.tx.address  # type: ignore[attr-defined]
    on_chain = {tid: liq for tid, liq in npm_positions(rpc, uniswap, owner) if liq > 0}
    stored = {row.token_id: int(row.liquidity) for row in store.positions("lp", open_only=True)}
    assert stored == on_chain
    live = manager.position
    assert ({live.token_id: live.liquidity_raw} if live is not None else {}) == on_chain
    assert manager.lifecycle.pending == 0 and manager.lifecycle.chain is not None
    assert manager.lifecycle.chain.journal.unbooked() == []  # every mined transaction booked


async def pre_approve(pool: ChainPool) -> None:
    """Token approvals out of the way (they are transactions of their own)."""
    await pool._approve_both(10**30, 10**30)


async def test_an_answer_that_never_comes_is_read_as_an_answer_lost() -> None:
    """A request not answered within rpc_timeout_s fails with an error the transaction manager
    reads as an answer lost (TRANSPORT_ERRORS), as it reads the proxy's dropped connections below."""
    release = asyncio.Event()

    async def never(_request: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/", never)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    w3 = connect_rpc(f"http://127.0.0.1:{port}", timeout_s=0.2)
    try:
        with pytest.raises(TRANSPORT_ERRORS) as lost:
            await w3.eth.chain_id
        assert isinstance(lost.value, TimeoutError)
    finally:
        release.set()
        await w3.provider.disconnect()
        await runner.cleanup()


async def test_answer_lost_after_the_node_took_the_mint(
    connect_pool: Any, proxy: RpcProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url)
    manager, store, fair = await lp_manager(pool, tmp_path)
    address = pool.tx.address
    nonce = rpc.eth.get_transaction_count(address, "pending")  # type: ignore[arg-type]
    proxy.lose("eth_sendRawTransaction", "after", lambda p: tx_to(p[0]) == uniswap.position_manager.lower())

    await manager.lifecycle.open(0.05, fair(), LoopClock().now_ns())

    assert proxy.lost == 1  # the mint's answer was lost: found by its hash, then mined
    assert manager.position is not None and manager.position.liquidity_raw > 0
    await assert_store_matches_chain(manager, store, rpc, uniswap)
    sent = assert_every_sent_tx_was_simulated(proxy, address)
    assert rpc.eth.get_transaction_count(address, "latest") == nonce + sent  # type: ignore[arg-type]
    assert pool.tx.nonces.next_nonce == nonce + sent  # the counter kept up, no resync needed


async def test_send_that_never_reached_the_node_is_reported_and_its_nonce_reused(
    connect_pool: Any, proxy: RpcProxy, rpc: Web3
) -> None:
    trader = await connect_pool(2, rpc_url=proxy.url)
    lp = await connect_pool(LP_ACCOUNT)
    state = await lp.read_state()
    base = state.tick // 60 * 60
    await lp.mint(base - 1800, base + 1860, 10 * 10**18, 20_000 * 10**6, 0, 0)
    await trader.swap_exact_input(True, 10**15, 0)  # approvals out of the way
    address = trader.tx.address
    nonce = rpc.eth.get_transaction_count(address, "pending")  # type: ignore[arg-type]
    proxy.lose("eth_sendRawTransaction", "before")

    with pytest.raises(TxNotSent, match=rf"swap: tx 0x[0-9a-f]{{64}} \(nonce {nonce}\) not sent"):
        await trader.swap_exact_input(True, 10**15, 0)

    assert rpc.eth.get_transaction_count(address, "pending") == nonce  # type: ignore[arg-type]
    assert trader.tx.nonces.next_nonce is None  # resynced before the next send
    swap = await trader.swap_exact_input(True, 10**15, 0)
    assert swap.amount_in == 10**15
    assert rpc.eth.get_transaction_count(address, "latest") == nonce + 1  # type: ignore[arg-type]
    # approval, swap, the lost swap (which reached only the proxy: the nonce count above shows
    # anvil mined one swap after it), the retry: every one simulated first
    assert assert_every_sent_tx_was_simulated(proxy, address) == 4


@pytest.mark.parametrize("ending", ["mined", "dropped"])
async def test_mint_not_mined_in_time_is_settled_before_anything_else(
    ending: str,
    connect_pool: Any,
    proxy: RpcProxy,
    rpc: Web3,
    uniswap: UniswapDeployment,
    tmp_path: Any,
) -> None:
    other = await connect_pool(2)  # someone else's liquidity, so the manager's quotes work throughout
    await other.mint(-887220, 887220, 10 * 10**18, 20_000 * 10**6, 0, 0)
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url, tx_timeout_s=1.0)
    await pre_approve(pool)
    manager, store, fair = await lp_manager(pool, tmp_path)
    address = pool.tx.address
    before = npm_positions(rpc, uniswap, address)

    cheat(rpc, "evm_setAutomine", False)
    await manager.lifecycle.open(0.05, fair(), LoopClock().now_ns())  # TxNotMined after 1 s: still pending
    assert unsettled_kinds(manager) == ["mint"] and manager.position is None
    assert store.positions("lp") == []
    assert await manager.step(policy=hold) is None  # pending: nothing is decided or sent
    assert [a.action for a in store.actions("lp")] == ["mint_unconfirmed"]

    if ending == "mined":
        cheat(rpc, "evm_mine")
    else:
        cheat(rpc, "anvil_dropAllTransactions")
    cheat(rpc, "evm_setAutomine", True)
    decision = await manager.step(policy=hold)

    assert decision is not None and decision.action is Action.HOLD
    await assert_store_matches_chain(manager, store, rpc, uniswap)
    after = npm_positions(rpc, uniswap, address)
    if ending == "mined":
        assert len(after) == len(before) + 1 and manager.position is not None
        assert manager.position.token_id == after[-1][0]
    else:  # explicitly failed, and no position appeared on chain
        assert after == before and manager.position is None
        assert [a.action for a in store.actions("lp")] == ["mint_unconfirmed", "mint_failed"]
        assert "dropped" in store.actions("lp")[-1].reason
    assert_every_sent_tx_was_simulated(proxy, address)


async def test_close_failing_half_way_is_finished_from_the_chain(
    connect_pool: Any, proxy: RpcProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    other = await connect_pool(2)
    await other.mint(-887220, 887220, 10 * 10**18, 20_000 * 10**6, 0, 0)
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url)
    manager, store, fair = await lp_manager(pool, tmp_path)
    await manager.lifecycle.open(0.05, fair(), LoopClock().now_ns())
    assert manager.position is not None
    token_id = manager.position.token_id
    collect = pool._collect_request(token_id)
    proxy.lose("eth_sendRawTransaction", "before", lambda p: decode_raw(p[0]) == decode_raw_request(collect))
    wallet_before = await pool.wallet_balances()

    with pytest.raises(TxNotSent, match="collect"):  # liquidity out, its tokens not collected
        await manager.lifecycle.close(fair(), LoopClock().now_ns(), "test")

    assert proxy.lost == 1
    assert (await pool.position(token_id)).liquidity == 0
    assert [r.token_id for r in store.positions("lp", open_only=True)] == [token_id]
    released = manager.position.released
    assert released is not None and released[0] > 0 and released[1] > 0

    await manager.step(policy=hold)  # finishes the close first: collect and burn, no second decrease

    await assert_store_matches_chain(manager, store, rpc, uniswap)
    assert token_id not in [t for t, _ in npm_positions(rpc, uniswap, pool.tx.address)]  # burnt
    (row,) = store.positions("lp")
    assert row.closed_ns is not None and (int(row.amount0_out), int(row.amount1_out)) == released
    wallet_after = await pool.wallet_balances()
    assert (wallet_after[0] - wallet_before[0], wallet_after[1] - wallet_before[1]) == released  # no fees
    # collected once; the principal is not counted as fees (no swap happened: none earned)
    assert [(int(f.amount0), int(f.amount1)) for f in store.fees()] == [(0, 0)]
    labels = [decode_raw(m["params"][0]) for m in proxy.requests if m["method"] == "eth_sendRawTransaction"]
    decreases = [to for to, data in labels if data.startswith(decrease_selector(pool))]
    assert len(decreases) == 1
    assert_every_sent_tx_was_simulated(proxy, pool.tx.address)


def decode_raw_request(request: Any) -> tuple[str, str]:
    return request.to.lower(), HexBytes(request.data).to_0x_hex()


def decrease_selector(pool: ChainPool) -> str:
    return HexBytes(pool.npm.encode_abi("decreaseLiquidity", args=[(1, 1, 0, 0, 0)])).to_0x_hex()[:10]


async def test_mint_whose_send_cannot_be_confirmed_is_settled_by_hash(
    connect_pool: Any, proxy: RpcProxy, rpc: Web3, uniswap: UniswapDeployment, tmp_path: Any
) -> None:
    """The send's answer is lost and so is the lookup by hash: the outcome is unknown until settled."""
    other = await connect_pool(2)
    await other.mint(-887220, 887220, 10 * 10**18, 20_000 * 10**6, 0, 0)
    pool = await connect_pool(LP_ACCOUNT, rpc_url=proxy.url)
    await pre_approve(pool)
    manager, store, fair = await lp_manager(pool, tmp_path)
    npm = uniswap.position_manager.lower()
    proxy.lose("eth_sendRawTransaction", "after", lambda p: tx_to(p[0]) == npm)
    proxy.lose("eth_getTransactionByHash", "before")

    await manager.lifecycle.open(0.05, fair(), LoopClock().now_ns())

    assert proxy.lost == 2
    assert unsettled_kinds(manager) == ["mint"] and manager.position is None
    assert "may have been sent" in store.actions("lp")[-1].reason
    assert store.positions("lp") == []  # nothing stored yet, though the mint was mined

    await manager.step(policy=hold)

    await assert_store_matches_chain(manager, store, rpc, uniswap)
    assert manager.position is not None and manager.position.liquidity_raw > 0
    assert_every_sent_tx_was_simulated(proxy, pool.tx.address)
