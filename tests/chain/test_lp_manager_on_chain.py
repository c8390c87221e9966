"""The LP manager strategy on real Uniswap v3 contracts, through the bot's uniswap_v3 venue.

The bot (wall clock) runs the same `lp_manager` as paper mode on a ChainPool; its fair price is a
mock CEX market. Another account plays the market: round-trip swaps (fees), and after each CEX
shock the arbitrage that carries the pool to the new price. The strategy opens, recentres when the
price leaves its range and withdraws when σ̂ crosses the ceiling. Then every stored number is
checked against the chain: the position manager's events and positions(), token balances, and
the gas of every receipt the LP account paid.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from web3 import Web3

from amm.chain.artifacts import load_abi
from amm.chain.local_chain import UniswapDeployment
from amm.chain.tx_manager import TxRequest
from amm.math.conversions import price_to_sqrt_price_x96, sqrt_price_x96_to_price, tick_to_price
from bot.app.config import validate_config
from bot.app.lifecycle import Bot
from bot.core.clock import LoopClock
from bot.kernel.lp_store import LpStore
from bot.kernel.store import Store
from bot.reports.lp_status import owns_gas
from strategies.lp.params import LpManagerParams
from strategies.lp.pool import PoolLpManager
from strategies.lp.rules import Action, decide
from tests.chain.conftest import LP_ACCOUNT, TRADER_ACCOUNT, cheat
from tests.kit import small_config_dict

pytestmark = pytest.mark.chain

FAR_DEADLINE = 2**40
FULL_RANGE = (-887220, 887220)
LP_TWETH, LP_TUSD = 2 * 10**18, 4_000 * 10**6  # what the LP wallet manages (about 8,000 tUSD)


class Market:
    """Another account on the same pool: background liquidity, round trips, arbitrage (sync web3)."""

    def __init__(self, uniswap: UniswapDeployment, rpc: Web3) -> None:
        self.u, self.rpc = uniswap, rpc
        self.address = uniswap.accounts[TRADER_ACCOUNT].address
        self.router = rpc.eth.contract(address=uniswap.swap_router, abi=load_abi("SwapRouter"))
        self.npm = rpc.eth.contract(
            address=uniswap.position_manager, abi=load_abi("NonfungiblePositionManager")
        )
        erc20 = load_abi("ERC20")
        self.tokens = [
            rpc.eth.contract(address=t.address, abi=erc20) for t in (uniswap.token0, uniswap.token1)
        ]

    def send(self, fn: Any, sender: str | None = None) -> None:
        tx = fn.transact({"from": sender or self.address})
        assert self.rpc.eth.wait_for_transaction_receipt(tx)["status"] == 1

    def setup(self, lp: str) -> None:
        for token in self.tokens:
            for spender in (self.router.address, self.npm.address):
                self.send(token.functions.approve(spender, 2**256 - 1))
        t0, t1 = self.u.token0, self.u.token1
        assert (t0.symbol, t1.symbol) == ("tWETH", "tUSD")  # fair market ETH/USDT: base = token0
        mint = (t0.address, t1.address, self.u.fee_pips, *FULL_RANGE, 1_000 * 10**18, 2_000_000 * 10**6,
                0, 0, self.address, FAR_DEADLINE)  # fmt: skip
        self.send(self.npm.functions.mint(mint))
        # The LP wallet holds only what the strategy manages.
        for token, keep in zip(self.tokens, (LP_TWETH, LP_TUSD), strict=True):
            self.send(token.functions.transfer(self.address, token.functions.balanceOf(lp).call() - keep), lp)

    def round_trip(self, amount0: int) -> None:
        """Sell `amount0` tWETH and buy back with the proceeds, in one transaction (two swaps)."""
        t0, t1, fee = self.u.token0.address, self.u.token1.address, self.u.fee_pips.to_bytes(3, "big")
        path = bytes.fromhex(t0[2:]) + fee + bytes.fromhex(t1[2:]) + fee + bytes.fromhex(t0[2:])
        self.send(self.router.functions.exactInput((path, self.address, FAR_DEADLINE, amount0, 0)))

    def push_to(self, price: float) -> None:
        """Swap until the pool's price is `price` (an arbitrageur after a CEX move)."""
        target = price_to_sqrt_price_x96(Fraction(price), self.u.token0.decimals, self.u.token1.decimals)
        pool = self.rpc.eth.contract(address=self.u.pool, abi=load_abi("UniswapV3Pool"))
        zero_for_one = target < pool.functions.slot0().call()[0]
        t_in, t_out = (self.u.token0, self.u.token1) if zero_for_one else (self.u.token1, self.u.token0)
        budget = 10**9 * 10**t_in.decimals  # the price limit stops the swap; the rest stays unspent
        params = (t_in.address, t_out.address, self.u.fee_pips, self.address, FAR_DEADLINE, budget, 0, target)
        self.send(self.router.functions.exactInputSingle(params))


def bot_config(tmp_path: Any, uniswap: UniswapDeployment) -> dict[str, Any]:
    data = small_config_dict(f"sqlite:///{tmp_path}/bot.sqlite", venues=("va",))
    data["bot"]["clock"] = "wall"
    data["bot"]["ops"] = {"enabled": False}
    venue = data["venues"]["va"]
    eth = next(m for m in venue["markets"] if m["symbol"] == "ETH/USDT")
    # A calm CEX whose price moves only when the test shocks it: the book mid is the fair price.
    eth.update(
        initial_price="2000", volatility_annual=0.0, noise_taker_rate_per_s=0.0, informed_taker_rate_per_s=0.0
    )
    venue["markets"] = [eth]
    data["markets"] = [m for m in data["markets"] if m["symbol"] == "ETH/USDT"]
    pool = uniswap.venue_params("MMBOT_LP_KEY", deadline_s=3600, fair_venue="va", fair_symbol="ETH/USDT")
    data["venues"]["uni"] = pool.model_dump(mode="json")
    data["strategies"] = {
        "lp": {
            "kind": "lp_manager", "pools": ["uni"], "check_interval_s": 0.2,
            # Each shock adds ln(r)²·ln2/half-life to σ̂² (per second): 0.2 → 0.481 after +3 %, then
            # 0.503 after +1 %, across the ceiling (and above the re-entry level: it stays out).
            "vol_half_life_s": 1e5, "initial_sigma": 0.2, "vol_ceiling": 0.49, "reentry_fraction": 1.0,
            "initial_sigma_weight_s": 1e9,   # the prior is the whole EWMA: only the shocks move σ̂
            "min_half_width": 0.015, "max_half_width": 0.015,
            "min_action_interval_s": 0, "compound_gas_multiple": 2.0,
            "entry_carry_errors": 0.0,  # a few round-trip swaps are all the fee data: enter on them
            "entry_max_sigma_error": 1.0,  # ... and on the few rounds of σ̂ they allow
        }
    }  # fmt: skip
    return data


async def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def lp_gas_paid(rpc: Web3, lp: str, first_block: int, last_block: int) -> tuple[int, int]:
    """(transactions, Σ gasUsed × effectiveGasPrice) the LP account sent in the block range."""
    count = total = 0
    for number in range(first_block, last_block + 1):
        for tx in rpc.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == lp:
                receipt = rpc.eth.get_transaction_receipt(tx["hash"])
                count += 1
                total += receipt["gasUsed"] * receipt["effectiveGasPrice"]
    return count, total


def npm_events(rpc: Web3, uniswap: UniswapDeployment, name: str, first_block: int) -> dict[int, list[Any]]:
    """The position manager's `name` events since `first_block`, by token id, in order."""
    npm = rpc.eth.contract(address=uniswap.position_manager, abi=load_abi("NonfungiblePositionManager"))
    out: dict[int, list[Any]] = {}
    for event in npm.events[name]().get_logs(from_block=first_block):
        out.setdefault(event["args"]["tokenId"], []).append(event)
    return out


def summed(events: list[Any], *fields: str) -> tuple[int, ...]:
    return tuple(sum(e["args"][f] for e in events) for f in fields)


async def test_lp_manager_opens_recentres_and_withdraws_on_chain_with_exact_books(
    tmp_path, uniswap, rpc, monkeypatch, chain_snapshot
):
    lp = uniswap.accounts[LP_ACCOUNT]
    monkeypatch.setenv("MMBOT_LP_KEY", lp.private_key)
    market = Market(uniswap, rpc)
    await asyncio.to_thread(market.setup, lp.address)
    tokens = market.tokens
    start_block = rpc.eth.block_number
    start_tokens = [t.functions.balanceOf(lp.address).call() for t in tokens]
    start_native = rpc.eth.get_balance(lp.address)
    assert start_tokens == [LP_TWETH, LP_TUSD]

    bot = Bot(validate_config(bot_config(tmp_path, uniswap)), tmp_path)
    stop = asyncio.Event()
    running = asyncio.create_task(bot.run(stop=stop))
    lp_store = LpStore(bot.store)
    rows = lp_store.positions
    try:
        await wait_for(lambda: bool(lp_store.actions("lp")), "a first (refused: no fees seen yet) decision")
        # Volume: the fee rate the manager measures turns positive, and it opens.
        await asyncio.to_thread(market.round_trip, 20 * 10**18)
        await wait_for(lambda: len(rows()) == 1, "the first position")
        # Fees for position 1, worth more than twice the gas of compounding them: it compounds
        # (waited for, so no swap of ours races the manager's preview-then-send).
        opened = rows()[0].liquidity
        await asyncio.to_thread(market.round_trip, 30 * 10**18)
        await wait_for(lambda: rows()[0].liquidity != opened, "the first compound")
        # The CEX jumps 3 %, the arbitrageur follows: position 1 is out of range.
        bot.venues["va"].shock_fair_price("ETH/USDT", 1.03)  # type: ignore[attr-defined]
        await asyncio.to_thread(market.push_to, 2060.0)
        await wait_for(lambda: len(rows()) == 2 and rows()[0].closed_ns is not None, "the recentre")
        opened = rows()[1].liquidity
        await asyncio.to_thread(market.round_trip, 30 * 10**18)  # fees for position 2: compounded
        await wait_for(lambda: rows()[1].liquidity != opened, "the second compound")
        # +1 % more, still in range, lifts σ̂ above the ceiling: withdraw, and stay out.
        bot.venues["va"].shock_fair_price("ETH/USDT", 1.01)  # type: ignore[attr-defined]
        # Seen before the arbitrage (1 % off is at the guard's edge): the fees of the push must
        # not be compounded first.
        manager = bot.active_strategies[0].managers["uni"]  # type: ignore[attr-defined]
        await wait_for(lambda: manager.last_decision.numbers["price"] > 2070, "the manager to see the move")
        await asyncio.to_thread(market.push_to, 2060.0 * 1.01)
        await wait_for(lambda: rows()[-1].closed_ns is not None, "the withdrawal")
        await asyncio.sleep(0.5)  # a few more rounds: nothing more happens while flat above the ceiling
    finally:
        stop.set()
        await running
    end_block = rpc.eth.block_number

    # The periodic re-evaluation ran as an apscheduler job (wall clock), next to the event wake-ups.
    assert bot.scheduler.backend == "apscheduler" and bot.scheduler.runs["lp:lp"] > 0
    positions = rows()
    assert [p.close_reason for p in positions] == ["out of range", "volatility above ceiling"]
    executed = [a.action for a in lp_store.actions("lp", executed=True)]
    # (a loaded machine can let one more round see the fees of a push before its range check:
    # a second compound of the same position; every one of them is checked against the chain)
    assert [k for k, _ in itertools.groupby(executed)] == [
        "open", "compound", "recentre", "compound", "withdraw"
    ]  # fmt: skip
    recentre_at = executed.index("recentre")
    compounds = [executed[:recentre_at].count("compound"), executed[recentre_at:].count("compound")]
    first, second = positions
    assert first.tick_lower < second.tick_lower and first.tick_upper < second.tick_upper  # moved up

    increases = npm_events(rpc, uniswap, "IncreaseLiquidity", start_block)
    decreases = npm_events(rpc, uniswap, "DecreaseLiquidity", start_block)
    collects = npm_events(rpc, uniswap, "Collect", start_block)
    npm = market.npm
    fees: dict[int, list[Any]] = {}
    for row in lp_store.fees():
        fees.setdefault(row.token_id, []).append(row)
    assert set(increases) == set(decreases) == set(collects) == set(fees) == {p.token_id for p in positions}
    for p, n_compounds in zip(positions, compounds, strict=True):
        mint_and_compound, (released,), collected = (e[p.token_id] for e in (increases, decreases, collects))
        # Every compound collects (+ the close's collect). Its increase may be refused by its
        # simulation, nothing sent, the fees left idle in the wallet: on a loaded machine an extra
        # round can compound the one-sided fees of a push, which add no liquidity (the pool's
        # `require(amount > 0)`, no reason). The increases the chain shows are the ones stored.
        assert len(collected) == 1 + n_compounds
        assert 1 <= len(mint_and_compound) <= 1 + n_compounds
        # positions() right after the mint, and everything the events moved, is what was stored.
        mint = mint_and_compound[0]
        on_chain = npm.functions.positions(p.token_id).call(block_identifier=mint["blockNumber"])
        assert (on_chain[5], on_chain[6], on_chain[7]) == (
            p.tick_lower,
            p.tick_upper,
            mint["args"]["liquidity"],
        )
        total_liquidity, paid0, paid1 = summed(mint_and_compound, "liquidity", "amount0", "amount1")
        assert (total_liquidity, paid0, paid1) == (int(p.liquidity), int(p.amount0_in), int(p.amount1_in))
        assert released["args"]["liquidity"] == int(p.liquidity)
        out0, out1 = released["args"]["amount0"], released["args"]["amount1"]
        assert (out0, out1) == (int(p.amount0_out), int(p.amount1_out))
        collected0, collected1 = summed(collected, "amount0", "amount1")
        stored = [(int(f.amount0), int(f.amount1)) for f in fees[p.token_id]]
        assert (sum(a for a, _ in stored), sum(b for _, b in stored)) == (
            collected0 - out0,
            collected1 - out1,
        )
        assert min(stored[0]) > 0  # what the compound collected: both legs of the round trip paid fees
        with pytest.raises(Exception, match="Invalid token ID"):
            npm.functions.positions(p.token_id).call()  # burnt
    assert npm.functions.balanceOf(lp.address).call() == 0

    # Token balances: start − paid into positions + released + fees ± the ratio swaps, to the unit.
    swaps = lp_store.swaps()
    assert swaps, "the recentre out of an all-tUSD position must swap"
    pool = rpc.eth.contract(address=uniswap.pool, abi=load_abi("UniswapV3Pool"))
    ours = [e["args"] for e in pool.events.Swap().get_logs(from_block=start_block)]
    ours = [(a["amount0"], a["amount1"]) for a in ours if a["recipient"] == lp.address]
    assert [(s.zero_for_one, int(s.amount_in), int(s.amount_out)) for s in swaps] == [
        (a0 > 0, max(a0, a1), -min(a0, a1)) for a0, a1 in ours
    ]  # the pool's view: positive = paid in
    expected = list(start_tokens)
    for p in positions:
        expected[0] += int(p.amount0_out) - int(p.amount0_in) + sum(int(f.amount0) for f in fees[p.token_id])
        expected[1] += int(p.amount1_out) - int(p.amount1_in) + sum(int(f.amount1) for f in fees[p.token_id])
    for s in swaps:
        paid, got = (0, 1) if s.zero_for_one else (1, 0)
        expected[paid] -= int(s.amount_in)
        expected[got] += int(s.amount_out)
    assert [t.functions.balanceOf(lp.address).call() for t in tokens] == expected

    # Gas: every transaction the LP account sent is in the store, to the wei.
    stored_gas = sum(int(g.gas_wei) for g in lp_store.gas())
    tx_count, paid_wei = lp_gas_paid(rpc, lp.address, start_block + 1, end_block)
    assert stored_gas == paid_wei == start_native - rpc.eth.get_balance(lp.address)
    ops = [g.operation for g in lp_store.gas()]
    n, n_increases = sum(compounds), sum(len(increases[p.token_id]) - 1 for p in positions)
    assert [ops.count(op) for op in ("mint", "increase_liquidity", "collect", "burn")] == [
        2, n_increases, n + 2, 2
    ]  # fmt: skip
    assert tx_count >= len(ops)  # approvals ride on the swap and mint rows
    assert Decimal(str(sum(g.cost_token1 for g in lp_store.gas()))) > 0

    # Per position, the manager's own books (what /metrics exports and the benchmark adds up):
    # fees to the unit against the Collect events, gas to the wei by the status's ownership rule,
    # and nothing spent outside a position, so together they are every receipt's gas.
    accounts = {a.token_id: a for a in manager.ledger.accounts.values()}
    assert set(accounts) == {p.token_id for p in positions} and manager.ledger.current is None
    for p in positions:
        a = accounts[p.token_id]
        got0, got1 = summed(collects[p.token_id], "amount0", "amount1")
        assert (a.fees0_raw, a.fees1_raw) == (got0 - int(p.amount0_out), got1 - int(p.amount1_out))
        assert a.gas_wei == sum(int(g.gas_wei) for g in lp_store.gas() if owns_gas(p, g))
    assert sum(a.gas_wei for a in accounts.values()) == paid_wei


async def test_the_manipulation_guard_reads_the_pool_oracle_twap(tmp_path, lp_pool, trader_pool, rpc):
    await trader_pool.mint(*FULL_RANGE, 100 * 10**18, 200_000 * 10**6, 0, 0)
    params = LpManagerParams(kind="lp_manager", pools=["uni"])  # the guard is on by default, 300 s
    store = LpStore(Store(f"sqlite:///{tmp_path}/lp.sqlite"))
    manager = PoolLpManager("lp", "uni", lp_pool, lambda: 2000.0, params, LoopClock(), store)
    # A fresh pool keeps one observation: no 300 s history, so no TWAP (and the check is skipped).
    assert math.isnan((await manager.view(2000.0, 0)).pool_twap_price)
    assert manager.meter.twap_state.startswith("skipped: oracle history shorter than 300 s")
    await manager.step()  # flat, no fees seen: "enter" refused, stored with the guard's state
    (first,) = store.actions("lp")
    assert json.loads(first.numbers)["twap"].startswith("skipped: oracle history shorter than 300 s")

    grow = lp_pool.reader.pool.encode_abi("increaseObservationCardinalityNext", args=[10])
    await trader_pool.tx.send(TxRequest(lp_pool.address, grow, label="grow oracle"))
    t0 = rpc.eth.get_block("latest")["timestamp"]
    cheat(rpc, "evm_setNextBlockTimestamp", t0 + 600)
    cheat(rpc, "evm_mine")
    calm_tick = (await lp_pool.read_state()).tick
    pushed = await trader_pool.swap_exact_input(True, 5 * 10**18, 0)  # −10 % within the last block

    # The CEX agrees with the pushed spot (say it moved too): only the pool's own oracle objects.
    spot = sqrt_price_x96_to_price(pushed.sqrt_price_x96_after, 18, 6)
    view = await manager.view(spot, 10**9)
    assert view.pool_twap_price == pytest.approx(tick_to_price(calm_tick, 18, 6), rel=1e-12)
    assert view.pool_price == pytest.approx(spot, rel=1e-12)
    decision = decide(view, params.rules())
    assert decision.numbers["twap_deviation_bps"] > 900 and decision.numbers["pool_deviation_bps"] < 1e-6
    assert (decision.action, decision.executed_gate) == (Action.OPEN, False)
    assert decision.reason == "flat: enter; refused: pool price off its TWAP"
    assert manager.meter.twap_state == "checked"
    await manager.step()  # the CEX fair (2000) is 10 % off the pushed pool: refused, stored, checked
    assert [json.loads(a.numbers)["twap"] for a in store.actions("lp")][1:] == ["checked"]
