"""ChainPool.swap_history on the real Uniswap v3 pool: every swap's price after it, fee and time, read
from the pool's Swap logs, checked against what the chain says otherwise (receipts, slot0 at each
block, block timestamps, fee growth); the span asked for; log chunks and a provider that refuses
ranges; a failing RPC. Reads go through a JSON-RPC gateway on 127.0.0.1 where its behaviour or its
request count is under test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientError, web
from web3 import Web3
from web3.logs import DISCARD

from amm.chain import swap_logs
from amm.chain.artifacts import load_abi
from amm.chain.local_chain import UniswapDeployment
from amm.chain.pool import ChainPool
from amm.math.conversions import sqrt_price_x96_to_price
from amm.ports import SwapHistory, SwapHistorySource
from bot.core.clock import FixedClock
from bot.core.history import HistoryUnavailable
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from strategies.lp.first_start import seed_from_history
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import PoolLpManager
from tests.chain.conftest import LP_ACCOUNT, cheat
from tests.chain.test_chain_faults import RpcProxy

pytestmark = pytest.mark.chain

NS = 10**9
BLOCK_TIME_S = 12
FULL_RANGE = (-887220, 887220)  # one position over every price: the in-range liquidity never changes
OTHER_TRADER = 3  # swaps sent straight through anvil (several in one block), not through a ChainPool
REFUSED = {"code": -32005, "message": "query returned more than 10000 results"}  # geth's, Infura's


# -- a provider in front of anvil ---------------------------------------------------------------------


class Gateway(RpcProxy):
    """Also records each method asked and each log range served, as a provider would: it refuses
    eth_getLogs over more than `max_log_blocks` blocks, or answers every eth_getLogs with `log_error`."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.max_log_blocks: int | None = None
        self.log_error: dict[str, Any] | None = None
        self.log_ranges: list[tuple[int, int]] = []

    @property
    def methods(self) -> list[str]:
        return [message["method"] for message in self.requests]

    def _log_error(self, params: dict[str, Any]) -> dict[str, Any] | None:
        first, last = int(params["fromBlock"], 16), int(params["toBlock"], 16)
        if self.log_error is not None:
            return self.log_error
        if self.max_log_blocks is not None and last - first + 1 > self.max_log_blocks:
            return REFUSED
        self.log_ranges.append((first, last))
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        message = json.loads(await request.read())
        if message["method"] == "eth_getLogs":
            error = self._log_error(message["params"][0])
            if error is not None:
                self.requests.append(message)
                return web.json_response({"jsonrpc": "2.0", "id": message["id"], "error": error})
        return await super()._handle(request)


@pytest.fixture
async def gateway(uniswap: UniswapDeployment) -> AsyncIterator[Gateway]:
    node = Gateway(uniswap.rpc_url)
    await node.start()
    yield node
    await node.stop()


@pytest.fixture
async def gateway_pool(connect_pool: Any, gateway: Gateway) -> ChainPool:
    """The LP's pool read through the gateway."""
    return await connect_pool(LP_ACCOUNT, rpc_url=gateway.url)


@pytest.fixture
def regular_blocks(rpc: Web3, chain_snapshot: None) -> Iterator[None]:
    """Every new block BLOCK_TIME_S after the one before (post-merge Ethereum's cadence); distinct
    block times make "the first block at or after" a sharp question."""
    cheat(rpc, "anvil_setBlockTimestampInterval", BLOCK_TIME_S)
    yield
    cheat(rpc, "anvil_removeBlockTimestampInterval")  # node config: evm_revert keeps it


# -- swaps, and what the chain says about them apart from the logs -------------------------------------


@dataclass(frozen=True, slots=True)
class Swapped:
    block: int
    zero_for_one: bool
    amount_in: int  # what the swapper paid in, fee included
    sqrt_price_x96: int  # the pool's price after the swap


async def swap(trader: ChainPool, rpc: Web3, zero_for_one: bool, amount_in: int) -> Swapped:
    result = await trader.swap_exact_input(zero_for_one, amount_in, 0)
    return Swapped(rpc.eth.block_number, zero_for_one, result.amount_in, result.sqrt_price_x96_after)


def swaps_in_one_block(
    rpc: Web3, uniswap: UniswapDeployment, orders: Sequence[tuple[bool, int]]
) -> list[Swapped]:
    """`orders` (zero_for_one, amount in) sent by OTHER_TRADER and mined together in one block, in this
    order; each swap's outcome read from its receipt."""
    trader = uniswap.accounts[OTHER_TRADER].address
    router = rpc.eth.contract(address=uniswap.swap_router, abi=load_abi("SwapRouter"))  # type: ignore[call-overload]
    pool = rpc.eth.contract(address=uniswap.pool, abi=load_abi("UniswapV3Pool"))  # type: ignore[call-overload]
    for token in (uniswap.token0, uniswap.token1):
        erc20 = rpc.eth.contract(address=token.address, abi=load_abi("ERC20"))  # type: ignore[call-overload]
        rpc.eth.wait_for_transaction_receipt(
            erc20.functions.approve(router.address, 2**256 - 1).transact({"from": trader})
        )
    cheat(rpc, "evm_setAutomine", False)
    hashes = []
    for zero_for_one, amount in orders:
        token_in, token_out = (
            (uniswap.token0, uniswap.token1) if zero_for_one else (uniswap.token1, uniswap.token0)
        )
        args = (token_in.address, token_out.address, uniswap.fee_pips, trader, 2**32, amount, 0, 0)
        hashes.append(router.functions.exactInputSingle(args).transact({"from": trader, "gas": 1_000_000}))
    cheat(rpc, "evm_mine")
    cheat(rpc, "evm_setAutomine", True)
    out = []
    for tx_hash in hashes:
        receipt = rpc.eth.get_transaction_receipt(tx_hash)
        (event,) = pool.events.Swap().process_receipt(receipt, errors=DISCARD)
        args = event["args"]
        amount_in = args["amount0"] if args["amount0"] > 0 else args["amount1"]
        out.append(Swapped(receipt["blockNumber"], args["amount0"] > 0, amount_in, args["sqrtPriceX96"]))
    assert len({s.block for s in out}) == 1
    return out


def block_s(rpc: Web3, block: int | str) -> int:
    return rpc.eth.get_block(block)["timestamp"]  # type: ignore[arg-type]


def charged(amount_in: int, fee_pips: int = 3000) -> int:
    """SwapMath's fee on an exact-input swap that stays in one step: rounded up."""
    return -(-amount_in * fee_pips // 1_000_000)


def raw(column: Sequence[float], decimals: int) -> list[int]:
    return [round(x * 10**decimals) for x in column]


def fee_growth(rpc: Web3, pool_address: str, block: int) -> tuple[int, int]:
    pool = rpc.eth.contract(address=pool_address, abi=load_abi("UniswapV3Pool"))  # type: ignore[call-overload]
    return (
        pool.functions.feeGrowthGlobal0X128().call(block_identifier=block),
        pool.functions.feeGrowthGlobal1X128().call(block_identifier=block),
    )


def assert_fee_growth_matches(
    rpc: Web3, pool: ChainPool, before: int, after: int, liquidity: int, history: SwapHistory
) -> None:
    """The fees the rows add up to are what fee growth credited the (constant) in-range liquidity:
    the pool floors each swap's credit per unit of liquidity, so within one raw unit per swap."""
    growth_before, growth_after = fee_growth(rpc, pool.address, before), fee_growth(rpc, pool.address, after)
    columns = ((history.fee_token0, pool.token0.decimals), (history.fee_token1, pool.token1.decimals))
    for (column, decimals), g0, g1 in zip(columns, growth_before, growth_after, strict=True):
        fees = raw(column, decimals)
        paying = sum(1 for f in fees if f)
        credited = (g1 - g0) * liquidity >> 128
        assert sum(fees) - paying <= credited <= sum(fees) and credited > 0


# -- tests ----------------------------------------------------------------------------------------------


async def test_chain_pool_is_a_swap_history_source(lp_pool: ChainPool) -> None:
    assert isinstance(lp_pool, SwapHistorySource)


async def test_every_swap_in_order_with_its_price_fee_and_time(
    lp_pool: ChainPool, trader_pool: ChainPool, rpc: Web3, uniswap: UniswapDeployment, regular_blocks: None
) -> None:
    await lp_pool.mint(*FULL_RANGE, 10 * 10**18, 20_000 * 10**6, 0, 0)
    minted = rpc.eth.block_number
    liquidity = (await lp_pool.read_state()).liquidity
    done = [
        await swap(trader_pool, rpc, True, 10**17),
        await swap(trader_pool, rpc, False, 300 * 10**6),
        await swap(trader_pool, rpc, True, 3 * 10**16 + 7),
        await swap(trader_pool, rpc, False, 55_555_555),
    ]
    done += swaps_in_one_block(rpc, uniswap, [(False, 123_456_789), (True, 2 * 10**16 + 1)])
    cheat(rpc, "evm_mine")  # the span ends a block after the last swap

    history = await lp_pool.swap_history(block_s(rpc, minted) * NS + 1)  # just after the mint's block

    d0, d1 = lp_pool.token0.decimals, lp_pool.token1.decimals
    assert (history.start_ns, history.end_ns) == (block_s(rpc, minted + 1) * NS, block_s(rpc, "latest") * NS)
    assert history.ts_ns == tuple(block_s(rpc, s.block) * NS for s in done)
    assert history.price == tuple(sqrt_price_x96_to_price(s.sqrt_price_x96, d0, d1) for s in done)
    pool = rpc.eth.contract(address=lp_pool.address, abi=load_abi("UniswapV3Pool"))  # type: ignore[call-overload]
    last_of_its_block = {s.block: s for s in done}.values()
    for s in last_of_its_block:  # slot0 at the end of its block is that swap's price after
        assert pool.functions.slot0().call(block_identifier=s.block)[0] == s.sqrt_price_x96
    assert len({s.sqrt_price_x96 for s in done}) == len(done)  # rows cannot pass for one another
    assert raw(history.fee_token0, d0) == [charged(s.amount_in) if s.zero_for_one else 0 for s in done]
    assert raw(history.fee_token1, d1) == [0 if s.zero_for_one else charged(s.amount_in) for s in done]
    assert_fee_growth_matches(rpc, lp_pool, minted, done[-1].block, liquidity, history)


async def test_the_protocol_share_of_the_fee_is_not_counted(
    lp_pool: ChainPool, trader_pool: ChainPool, rpc: Web3, uniswap: UniswapDeployment, regular_blocks: None
) -> None:
    await lp_pool.mint(*FULL_RANGE, 10 * 10**18, 20_000 * 10**6, 0, 0)
    pool = rpc.eth.contract(address=lp_pool.address, abi=load_abi("UniswapV3Pool"))  # type: ignore[call-overload]
    owner = uniswap.accounts[0].address  # the factory's owner: it deployed the factory
    rpc.eth.wait_for_transaction_receipt(pool.functions.setFeeProtocol(4, 5).transact({"from": owner}))
    assert (await lp_pool.reader.slot0()).fee_protocol == 4 + (5 << 4)
    switched = rpc.eth.block_number
    liquidity = (await lp_pool.read_state()).liquidity
    done = [
        await swap(trader_pool, rpc, True, 10**17 + 3),
        await swap(trader_pool, rpc, False, 271_828_182),
        await swap(trader_pool, rpc, True, 4 * 10**16),
    ]

    history = await lp_pool.swap_history(block_s(rpc, switched) * NS + 1)

    def lp_share(s: Swapped, zero_for_one: bool, divisor: int) -> int:
        return charged(s.amount_in) - charged(s.amount_in) // divisor if s.zero_for_one == zero_for_one else 0

    assert raw(history.fee_token0, 18) == [lp_share(s, True, 4) for s in done]
    assert raw(history.fee_token1, 6) == [lp_share(s, False, 5) for s in done]
    assert_fee_growth_matches(rpc, lp_pool, switched, done[-1].block, liquidity, history)


async def test_a_protocol_fee_switched_within_the_span_applies_from_its_block_on(
    lp_pool: ChainPool, trader_pool: ChainPool, rpc: Web3, uniswap: UniswapDeployment, regular_blocks: None
) -> None:
    """Off, then 1/4 and 1/5, then 1/6 and off: each swap's fee less the share in effect when it
    was made, not the one slot0 holds at the end (1/6 of token0's only)."""
    await lp_pool.mint(*FULL_RANGE, 10 * 10**18, 20_000 * 10**6, 0, 0)
    minted = rpc.eth.block_number
    pool = rpc.eth.contract(address=lp_pool.address, abi=load_abi("UniswapV3Pool"))  # type: ignore[call-overload]
    owner = uniswap.accounts[0].address  # the factory's owner: it deployed the factory

    def set_fee_protocol(div0: int, div1: int) -> None:
        tx = pool.functions.setFeeProtocol(div0, div1).transact({"from": owner})
        rpc.eth.wait_for_transaction_receipt(tx)

    async def two_swaps(amount0: int, amount1: int) -> list[Swapped]:
        return [await swap(trader_pool, rpc, True, amount0), await swap(trader_pool, rpc, False, amount1)]

    off = await two_swaps(10**17 + 3, 271_828_182)
    set_fee_protocol(4, 5)
    quarter = await two_swaps(4 * 10**16, 99_999_999)
    set_fee_protocol(6, 0)
    sixth = await two_swaps(3 * 10**16 + 1, 31_415_926)
    assert (await lp_pool.reader.slot0()).fee_protocol == 6

    history = await lp_pool.swap_history(block_s(rpc, minted) * NS + 1)

    def lp_share(s: Swapped, zero_for_one: bool, divisor: int) -> int:
        fee = charged(s.amount_in) if s.zero_for_one == zero_for_one else 0
        return fee - fee // divisor if divisor else fee

    spans = ((off, 0, 0), (quarter, 4, 5), (sixth, 6, 0))
    assert raw(history.fee_token0, 18) == [lp_share(s, True, d0) for done, d0, _ in spans for s in done]
    assert raw(history.fee_token1, 6) == [lp_share(s, False, d1) for done, _, d1 in spans for s in done]
    liquidity = (await lp_pool.read_state()).liquidity
    assert_fee_growth_matches(rpc, lp_pool, minted, sixth[-1].block, liquidity, history)


async def test_since_selects_the_later_swaps_and_a_quiet_span_has_none(
    lp_pool: ChainPool, trader_pool: ChainPool, rpc: Web3, regular_blocks: None
) -> None:
    await lp_pool.mint(*FULL_RANGE, 10 * 10**18, 20_000 * 10**6, 0, 0)
    done = [await swap(trader_pool, rpc, i % 2 == 0, 10**16 if i % 2 == 0 else 20 * 10**6) for i in range(4)]
    times = [block_s(rpc, s.block) * NS for s in done]
    third = done[2].block

    from_third = await lp_pool.swap_history(times[2] - 1)
    after_third = await lp_pool.swap_history(times[2] + 1)

    assert (from_third.start_ns, from_third.ts_ns) == (times[2], (times[2], times[3]))
    assert (after_third.start_ns, after_third.ts_ns) == (block_s(rpc, third + 1) * NS, (times[3],))
    assert after_third.price == from_third.price[1:] and after_third.fee_token0 == from_third.fee_token0[1:]

    cheat(rpc, "anvil_mine", 20, BLOCK_TIME_S)
    quiet = await lp_pool.swap_history(times[3] + 1)
    latest_ns = block_s(rpc, "latest") * NS
    assert (quiet.start_ns, quiet.end_ns, len(quiet)) == (block_s(rpc, done[3].block + 1) * NS, latest_ns, 0)
    future = await lp_pool.swap_history(latest_ns + 1)
    assert (future.start_ns, future.end_ns, len(future)) == (latest_ns, latest_ns, 0)
    # before the chain began: from genesis, never below block 0 (the test's snapshot holds no other swaps)
    everything = await lp_pool.swap_history(0)
    assert (everything.start_ns, everything.ts_ns) == (block_s(rpc, 0) * NS, tuple(times))


async def test_small_log_chunks_and_interpolated_times_give_the_same_rows(
    gateway_pool: ChainPool,
    trader_pool: ChainPool,
    gateway: Gateway,
    rpc: Web3,
    regular_blocks: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await gateway_pool.mint(*FULL_RANGE, 10 * 10**18, 20_000 * 10**6, 0, 0)
    since = block_s(rpc, "latest") * NS
    for i in range(6):
        await swap(trader_pool, rpc, i % 2 == 1, 10**16 if i % 2 else 25 * 10**6)
        cheat(rpc, "anvil_mine", i + 1, BLOCK_TIME_S)  # quiet blocks between swaps
    latest = rpc.eth.block_number
    exact = await gateway_pool.swap_history(since)
    exact_reads = gateway.methods.count("eth_getBlockByNumber")
    assert len(exact) == 6

    monkeypatch.setattr(swap_logs, "LOG_CHUNK_BLOCKS", 2)
    gateway.requests.clear()
    gateway.log_ranges.clear()
    assert await gateway_pool.swap_history(since) == exact
    first = gateway.log_ranges[0][0]
    assert all(b - a < 2 for a, b in gateway.log_ranges)
    assert [b for _, b in gateway.log_ranges[:-1]] == [a - 1 for a, _ in gateway.log_ranges[1:]]
    assert gateway.log_ranges[-1][1] == latest and block_s(rpc, first) * NS == exact.start_ns

    # fewer reads allowed than blocks holding swaps: anchors and interpolation, exact on regular blocks
    monkeypatch.setattr(swap_logs, "MAX_BLOCK_READS", 3)
    gateway.requests.clear()
    assert await gateway_pool.swap_history(since) == exact
    assert gateway.methods.count("eth_getBlockByNumber") < exact_reads


async def test_a_refused_log_range_is_halved_until_the_provider_takes_it(
    gateway_pool: ChainPool, lp_pool: ChainPool, trader_pool: ChainPool, gateway: Gateway, rpc: Web3
) -> None:
    await lp_pool.mint(*FULL_RANGE, 10 * 10**18, 20_000 * 10**6, 0, 0)
    for i in range(3):
        await swap(trader_pool, rpc, i % 2 == 0, 10**16 if i % 2 == 0 else 20 * 10**6)
    direct = await lp_pool.swap_history(0)
    gateway.max_log_blocks = 3

    through_gateway = await gateway_pool.swap_history(0)

    assert through_gateway == direct and len(direct) == 3
    assert all(b - a < 3 for a, b in gateway.log_ranges)
    assert gateway.log_ranges[0][0] == 0 and gateway.log_ranges[-1][1] == rpc.eth.block_number
    # refused at 2000, 1000, 500, 250, 125, 62, 31, 15 and 7 blocks (or the whole chain when shorter),
    # then served 3 at a time: the range never grows back
    refused = gateway.methods.count("eth_getLogs") - len(gateway.log_ranges)
    assert refused == 9 and len(gateway.log_ranges) == -(-(rpc.eth.block_number + 1) // 3)


async def test_a_provider_refusing_even_one_block_makes_the_history_unavailable(
    gateway_pool: ChainPool, gateway: Gateway
) -> None:
    gateway.max_log_blocks = 0

    with pytest.raises(HistoryUnavailable, match="refused even the single block") as info:
        await gateway_pool.swap_history(0)

    assert gateway_pool.address in str(info.value) and "tWETH/tUSD" in str(info.value)
    assert gateway.methods.count("eth_getLogs") == 11  # 2000 halved down to 1: bounded


async def test_another_rpc_error_is_not_retried(gateway_pool: ChainPool, gateway: Gateway) -> None:
    gateway.log_error = {"code": -32000, "message": "header not found"}

    with pytest.raises(HistoryUnavailable, match="header not found") as info:
        await gateway_pool.swap_history(0)

    assert gateway_pool.address in str(info.value)
    assert gateway.methods.count("eth_getLogs") == 1


async def test_an_unreachable_rpc_makes_the_history_unavailable(
    gateway_pool: ChainPool, gateway: Gateway
) -> None:
    await gateway.stop()  # nothing listens on its port any more

    with pytest.raises(HistoryUnavailable) as info:
        await gateway_pool.swap_history(0)

    assert gateway_pool.address in str(info.value)
    assert isinstance(info.value.__cause__, ClientError)


async def test_the_start_block_search_is_bounded_on_irregular_block_times(
    gateway_pool: ChainPool, gateway: Gateway, rpc: Web3, monkeypatch: pytest.MonkeyPatch
) -> None:
    for blocks, interval_s in ((150, 1), (20, 600), (150, 1), (10, 12)):
        cheat(rpc, "anvil_mine", blocks, interval_s)
    latest = rpc.eth.block_number
    stamps = [block_s(rpc, b) for b in range(latest + 1)]
    bisection = latest.bit_length()  # reads to bisect blocks 0..latest
    monkeypatch.setattr(swap_logs, "MAX_SEARCH_READS", bisection + 2)  # little room to interpolate

    for since in (1, stamps[40] * NS, stamps[latest - 170] * NS - 1, stamps[latest - 165] * NS + 123,
                  stamps[latest - 100] * NS, stamps[latest - 5] * NS - 1, stamps[latest] * NS):  # fmt: skip
        gateway.requests.clear()
        history = await gateway_pool.swap_history(since)
        expected = next(b for b in range(latest + 1) if stamps[b] * NS >= since)
        assert history.start_ns == stamps[expected] * NS, since
        assert gateway.methods.count("eth_getBlockByNumber") <= 1 + bisection + 2  # the latest, the search


async def test_a_first_start_without_candles_reads_its_fee_rate_from_the_swap_logs(
    lp_pool: ChainPool, trader_pool: ChainPool, rpc: Web3, regular_blocks: None
) -> None:
    """`strategies.lp.first_start` on the chain pool, the fair venue serving no candles: σ̂ is left
    to the live rounds, the fee flow is the logs' fees over the span (equal weights here)."""
    await lp_pool.mint(*FULL_RANGE, 10 * 10**18, 20_000 * 10**6, 0, 0)
    since_ns = (block_s(rpc, "latest") + 1) * NS
    for k in range(6):
        await swap(trader_pool, rpc, k % 2 == 0, 10**17 if k % 2 == 0 else 300 * 10**6)
    now_ns = (block_s(rpc, "latest") + BLOCK_TIME_S) * NS
    params = LpManagerParams(
        kind="lp_manager", pools=["uni"], history_s=(now_ns - since_ns) / NS, history_interval_s=BLOCK_TIME_S,
        fee_half_life_s=1e15,  # equal weights: the flow is the fees over the span they cover
    )  # fmt: skip
    store = LpStore(Store("sqlite://"))
    manager = PoolLpManager("lp", "uni", lp_pool, lambda: 3000.0, params, FixedClock(now_ns), store)
    seeded = await seed_from_history(manager, object(), "ETH/USDC")
    assert seeded is not None and seeded.closes == 0 and manager.meter.vol.samples == 0
    history = await lp_pool.swap_history(since_ns)
    step = BLOCK_TIME_S * NS
    grid = range(history.start_ns + step, history.end_ns + 1, step)
    assert (seeded.fee_intervals, seeded.fee_span_s) == (len(grid) - 1, (len(grid) - 1) * BLOCK_TIME_S)
    counted = [i for i, t in enumerate(history.ts_ns) if grid[0] < t <= grid[-1]]
    assert len(counted) >= 4  # most of the swaps fall inside the covered intervals
    fees = sum(history.fee_token0[i] * history.price[i] + history.fee_token1[i] for i in counted)
    assert manager.meter.fee_flow_token1_per_s == pytest.approx(fees / seeded.fee_span_s, rel=1e-9)
