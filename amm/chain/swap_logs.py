"""A chain pool's recent swaps from its Swap logs (`ChainPool.swap_history`): what a first start measures
the pool's price volatility and fee rate from instead of watching it for hours.

Called once per pool at start, so the work is bounded whatever the span, rather than fast:

- "now" is the latest block (chain time); the first block stamped at or after the start time is found
  by interpolation on block times, with bisection whenever the reads left need it, in at most
  MAX_SEARCH_READS block reads on any chain of up to 2^MAX_SEARCH_READS blocks;
- logs come LOG_CHUNK_BLOCKS blocks at a time (providers cap the range); a range the provider refuses
  as too large is halved, down to one block, and at most MAX_LOG_REQUESTS requests are made;
- each swap's time is its block's when at most MAX_BLOCK_READS blocks hold swaps; beyond that it is
  interpolated linearly by block number between MAX_BLOCK_READS anchor blocks spread evenly over the
  span: exact on chains with regular block times (post-merge Ethereum's 12 s), off by the
  irregularity of the block times between two anchors elsewhere;
- the fee a swap paid less the protocol's share as it was at that swap: the pool's SetFeeProtocol
  events come with its Swap events (one eth_getLogs filter for both), and before the span's first
  one the share is the old value it names (without one, slot0's now).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hexbytes import HexBytes
from web3.exceptions import Web3Exception, Web3RPCError

from amm.chain.tx_manager import TRANSPORT_ERRORS
from amm.math.conversions import sqrt_price_x96_to_price
from amm.ports import SwapHistory
from bot.core.clock import NS_PER_S
from bot.core.history import HistoryUnavailable

if TYPE_CHECKING:
    from web3 import AsyncWeb3
    from web3.types import LogReceipt

    from amm.chain.pool import ChainPool

LOG_CHUNK_BLOCKS = 2_000  # Alchemy's cap; most providers take at least this many
MAX_LOG_REQUESTS = 2_000
MAX_BLOCK_READS = 200
MAX_SEARCH_READS = 30
SAMPLE_BLOCKS = 1_000  # how far back the first search read measures the average block time
# How providers word a refused eth_getLogs range: "query returned more than 10000 results" (geth,
# Infura), "Log response size exceeded ... up to a 2K block range" (Alchemy), "exceed maximum block
# range: 5000", "block range is too wide", "limited to a 10,000 blocks range"...
_REFUSED_RANGE = re.compile(r"range|more than|too many|too large|too wide|exceed|limit", re.IGNORECASE)
# What a failed read raises: a lost answer, a JSON-RPC error, an answer that does not decode.
_READ_ERRORS: tuple[type[BaseException], ...] = (*TRANSPORT_ERRORS, Web3Exception, ValueError)


# -- pure parts -------------------------------------------------------------------------------------


def refused_range(exc: Web3RPCError) -> bool:
    """True when the provider refused eth_getLogs for the size of the range or of its answer."""
    return bool(_REFUSED_RANGE.search(str(exc)))


def protocol_fee_divisors(fee_protocol: int) -> tuple[int, int]:
    """slot0.feeProtocol's two 4-bit values: the protocol takes 1/N of the fee paid in token0 (low
    nibble) and in token1 (high nibble); 0 means it takes nothing."""
    return fee_protocol % 16, fee_protocol >> 4


def lp_fee(amount_in: int, fee_pips: int, protocol_divisor: int) -> int:
    """What the in-range liquidity earned from a swap that paid `amount_in` (fee included), raw units.

    The pool rounds each step's fee up (SwapMath) and the protocol's share down; for a swap that
    crosses ticks this is the total over its steps, which is what the in-range liquidity earned
    overall (within a raw unit per step)."""
    fee = -(-amount_in * fee_pips // 1_000_000)
    return fee - fee // protocol_divisor if protocol_divisor else fee


def next_probe(known: Mapping[int, int], lo: int, hi: int, target_s: int, reads_left: int) -> int:
    """The next block to read when the first block stamped at or after `target_s` is in (lo, hi]:
    `known` maps the blocks read so far to their timestamps (hi and, unless lo is -1, lo among them)."""
    mid = (lo + hi) // 2
    if reads_left <= (hi - lo - 1).bit_length():  # only bisection still ends within the budget
        return mid
    ts_hi = known[hi]
    if lo >= 0:  # interpolate between the two ends
        guess = lo + -(-(target_s - known[lo]) * (hi - lo) // (ts_hi - known[lo]))
    else:  # nothing read below: extrapolate down at the block time measured above hi
        above = min((b for b in known if b > hi), default=None)
        if above is None:
            guess = hi - SAMPLE_BLOCKS
        elif known[above] == ts_hi:
            return mid
        else:
            guess = hi - (ts_hi - target_s) * (above - hi) // (known[above] - ts_hi)
    return min(max(guess, lo + 1), hi - 1)


def anchor_blocks(first: int, last: int, count: int) -> list[int]:
    """At most `count` blocks spread evenly over [first, last], both ends included."""
    step = max(1, -(-(last - first) // max(count - 1, 1)))
    return sorted({*range(first, last, step), last})


def interpolate_ns(known: Sequence[tuple[int, int]], block: int) -> int:
    """`block`'s time in ns from the (block, timestamp s) pairs `known`, sorted and around it: its
    own when known, else linear in block number between the nearest known blocks on either side."""
    i = bisect_left(known, (block,))
    if known[i][0] == block:
        return known[i][1] * NS_PER_S
    (b0, t0), (b1, t1) = known[i - 1], known[i]
    return t0 * NS_PER_S + (block - b0) * (t1 - t0) * NS_PER_S // (b1 - b0)


# -- reads ------------------------------------------------------------------------------------------


class BlockTimes:
    """Block timestamps (s), each block read once; `reads` counts the RPC calls."""

    def __init__(self, w3: AsyncWeb3) -> None:
        self.w3 = w3
        self.known: dict[int, int] = {}
        self.reads = 0

    async def get(self, number: int) -> int:
        if number not in self.known:
            block = await self.w3.eth.get_block(number)
            self.known[number] = block["timestamp"]
            self.reads += 1
        return self.known[number]


async def first_block_at(times: BlockTimes, latest: int, target_s: int) -> int:
    """The first block stamped at or after `target_s`: latest + 1 if none is, 0 if all are."""
    lo, hi = -1, latest  # ts(lo) < target_s <= ts(hi); block -1 stands for "before genesis"
    if await times.get(hi) < target_s:
        return latest + 1
    budget = times.reads + MAX_SEARCH_READS
    while hi - lo > 1:
        probe = next_probe(times.known, lo, hi, target_s, budget - times.reads)
        if await times.get(probe) >= target_s:
            hi = probe
        else:
            lo = probe
    return hi


async def fetch_logs(
    get_logs: Callable[[int, int], Awaitable[list[LogReceipt]]], first: int, last: int
) -> list[LogReceipt]:
    """Every log `get_logs(from_block, to_block)` gives for blocks [first, last], LOG_CHUNK_BLOCKS at a
    time; a range refused as too large is halved, and stays halved (the provider's cap does not move)."""
    logs: list[LogReceipt] = []
    chunk, requests = LOG_CHUNK_BLOCKS, 0
    while first <= last:
        if requests == MAX_LOG_REQUESTS:
            raise HistoryUnavailable(
                f"blocks {first}..{last} left after {requests} eth_getLogs requests: ask for a shorter span"
            )
        end = min(first + chunk - 1, last)
        requests += 1
        try:
            logs += await get_logs(first, end)
        except Web3RPCError as exc:
            if not refused_range(exc):
                raise
            if chunk == 1:
                raise HistoryUnavailable(f"eth_getLogs refused even the single block {first}: {exc}") from exc
            chunk //= 2
            continue
        first = end + 1
    return logs


async def swap_times(times: BlockTimes, blocks: Sequence[int], first: int, last: int) -> list[int]:
    """Each swap's time in ns from its block number (see the module's docstring)."""
    distinct = sorted(set(blocks))
    exact = len(distinct) <= MAX_BLOCK_READS
    for block in distinct if exact else anchor_blocks(first, last, MAX_BLOCK_READS):
        await times.get(block)
    known = sorted(times.known.items())
    return [interpolate_ns(known, block) for block in blocks]


def divisors_per_swap(events: Sequence[Any], fee_protocol_now: int) -> list[tuple[int, int]]:
    """The protocol fee divisors in effect at each Swap of `events` (Swap and SetFeeProtocol
    events in chain order): before the span's first SetFeeProtocol, the old values it names;
    after each, its new ones; without one in the span, `fee_protocol_now` (slot0's) throughout."""
    changes = [e["args"] for e in events if e["event"] == "SetFeeProtocol"]
    if changes:
        div = changes[0]["feeProtocol0Old"], changes[0]["feeProtocol1Old"]
    else:
        div = protocol_fee_divisors(fee_protocol_now)
    out = []
    for e in events:
        if e["event"] == "SetFeeProtocol":
            div = e["args"]["feeProtocol0New"], e["args"]["feeProtocol1New"]
        else:
            out.append(div)
    return out


async def _pool_events(pool: ChainPool, first: int, last: int) -> list[Any]:
    """The pool's Swap and SetFeeProtocol events in blocks [first, last], in chain order."""
    contract = pool.reader.pool
    kinds = {HexBytes(e.topic): e for e in (contract.events.Swap(), contract.events.SetFeeProtocol())}

    async def get_logs(from_block: int, to_block: int) -> list[LogReceipt]:
        return await pool.w3.eth.get_logs(
            {
                "address": contract.address,
                "topics": [[topic.to_0x_hex() for topic in kinds]],  # either event
                "fromBlock": from_block,
                "toBlock": to_block,
            }
        )

    logs = await fetch_logs(get_logs, first, last)
    events = [kinds[HexBytes(log["topics"][0])].process_log(log) for log in logs]
    return sorted(events, key=lambda e: (e["blockNumber"], e["logIndex"]))


async def _read(pool: ChainPool, since_ns: int) -> SwapHistory:
    times = BlockTimes(pool.w3)
    head = await pool.w3.eth.get_block("latest")
    latest, end_ns = head["number"], head["timestamp"] * NS_PER_S
    times.known[latest] = head["timestamp"]
    first = await first_block_at(times, latest, -(-since_ns // NS_PER_S))
    if first > latest:  # since_ns is after the latest block: an empty span at it
        return SwapHistory(end_ns, end_ns, (), (), (), ())
    events = await _pool_events(pool, first, latest)
    swaps = [e for e in events if e["event"] == "Swap"]
    ts_ns = await swap_times(times, [s["blockNumber"] for s in swaps], first, latest)
    # the protocol's share is not the LPs': as it was at each swap
    divisors = divisors_per_swap(events, (await pool.reader.slot0(latest)).fee_protocol)
    d0, d1, fee_pips = pool.token0.decimals, pool.token1.decimals, pool.fee_pips
    args = [s["args"] for s in swaps]
    rows = list(zip(args, divisors, strict=True))
    return SwapHistory(
        start_ns=times.known[first] * NS_PER_S,
        end_ns=end_ns,
        ts_ns=tuple(ts_ns),
        price=tuple(sqrt_price_x96_to_price(a["sqrtPriceX96"], d0, d1) for a in args),
        # the positive amount is what the swapper paid in, fee included
        fee_token0=tuple(lp_fee(max(a["amount0"], 0), fee_pips, d[0]) / 10.0**d0 for a, d in rows),
        fee_token1=tuple(lp_fee(max(a["amount1"], 0), fee_pips, d[1]) / 10.0**d1 for a, d in rows),
    )


async def swap_history(pool: ChainPool, since_ns: int) -> SwapHistory:
    """`SwapHistorySource.swap_history` of a chain pool: its swaps from `since_ns` (or genesis) to the
    latest block, sorted by (block, log index); HistoryUnavailable names the pool and the cause."""
    name = f"pool {pool.address} ({pool.token0.symbol}/{pool.token1.symbol} {pool.fee_pips})"
    try:
        return await _read(pool, since_ns)
    except HistoryUnavailable as exc:
        raise HistoryUnavailable(f"swap history of {name}: {exc}") from exc
    except _READ_ERRORS as exc:
        raise HistoryUnavailable(f"swap history of {name}: {type(exc).__name__}: {exc}") from exc
