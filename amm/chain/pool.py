"""`AmmPool` on a real Uniswap v3 deployment: NonfungiblePositionManager, SwapRouter, QuoterV2.

Every state-changing call is previewed with eth_call first; the slippage floor sent on chain is the
larger of the caller's minimum and the previewed amount less `slippage_bps`, so a price move between
preview and inclusion (or a sandwich) reverts instead of filling badly. Deadlines come from the
injected clock. Results are read from the receipt's events, never from the preview.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from eth_utils.abi import get_abi_output_types
from web3 import AsyncWeb3
from web3.contract import AsyncContract

from amm.chain import receipts, stuck, swap_logs
from amm.chain.artifacts import load_abi
from amm.chain.params import UniswapV3VenueParams
from amm.chain.pool_reader import PoolReader
from amm.chain.rpc import connect_rpc
from amm.chain.tx_journal import JournalEntry, TxJournal, TxKind
from amm.chain.tx_manager import SettleState, TxManager, TxRequest
from amm.chain.wallet import Signer
from amm.math.tick_math import get_tick_at_sqrt_ratio
from amm.ports import (
    Collected,
    EntryResult,
    LiquidityChange,
    PoolState,
    PositionInfo,
    SwapHistory,
    SwapResult,
    TokenInfo,
)
from bot.core.clock import NS_PER_S, Clock

MAX_UINT128 = 2**128 - 1
MAX_UINT256 = 2**256 - 1
ZERO_ADDRESS = "0x" + "00" * 20


class ChainConfigError(ValueError):
    """The venue config does not match what is on chain."""


class ChainPool:
    """One pool and the wallet that trades and provides liquidity on it. Build with `connect`."""

    def __init__(
        self,
        *,
        params: UniswapV3VenueParams,
        clock: Clock,
        tx: TxManager,
        reader: PoolReader,
        token0: TokenInfo,
        token1: TokenInfo,
        tick_spacing: int,
    ) -> None:
        self.params = params
        self.clock = clock
        self.tx = tx
        self.reader = reader
        self.w3 = tx.w3
        self.token0 = token0
        self.token1 = token1
        self.fee_pips = params.pool.fee_pips
        self.tick_spacing = tick_spacing
        self.address = reader.address
        addresses = params.addresses
        self.npm = self._contract(addresses.position_manager, "NonfungiblePositionManager")
        self.router = self._contract(addresses.swap_router, "SwapRouter")
        self.quoter = self._contract(addresses.quoter, "QuoterV2")
        self.erc20 = {t.address: self._contract(t.address, "ERC20") for t in (token0, token1)}
        self._owns_connection = False
        # how long a stuck transaction of ours waits before it is replaced, or cancelled (`stuck`)
        self.replace_after_s, self.cancel_after_s = params.replace_after_s, params.cancel_after_s

    @classmethod
    async def connect(
        cls,
        params: UniswapV3VenueParams,
        clock: Clock,
        *,
        environ: Mapping[str, str] | None = None,
        w3: AsyncWeb3 | None = None,
    ) -> ChainPool:
        signer = Signer.from_env(params.wallet_key_env, os.environ if environ is None else environ)
        if w3 is not None:
            return await cls._connect(params, clock, signer, w3)
        w3 = connect_rpc(params.rpc_url, timeout_s=params.rpc_timeout_s)
        try:
            pool = await cls._connect(params, clock, signer, w3)
        except BaseException:
            await w3.provider.disconnect()
            raise
        pool._owns_connection = True
        return pool

    @classmethod
    async def _connect(
        cls, params: UniswapV3VenueParams, clock: Clock, signer: Signer, w3: AsyncWeb3
    ) -> ChainPool:
        chain_id = await w3.eth.chain_id
        if chain_id != params.chain_id:
            raise ChainConfigError(
                f"chain_id: the RPC answers chain id {chain_id}, the config says {params.chain_id}"
            )
        tx = TxManager(
            w3,
            signer,
            chain_id=chain_id,
            max_fee_wei=params.max_fee_wei,
            priority_fee_wei=params.priority_fee_wei,
            gas_buffer_pct=params.gas_buffer_pct,
            tx_timeout_s=params.tx_timeout_s,
            receipt_poll_s=params.receipt_poll_s,
        )
        address0, address1 = sorted(
            (params.token_address("token0"), params.token_address("token1")), key=lambda a: int(a, 16)
        )
        factory = w3.eth.contract(address=params.addresses.factory, abi=load_abi("UniswapV3Factory"))  # type: ignore[call-overload]
        pool_address = await factory.functions.getPool(address0, address1, params.pool.fee_pips).call()
        if pool_address == ZERO_ADDRESS:
            raise ChainConfigError(
                f"pool: the factory {params.addresses.factory} has no pool for {address0}/{address1} "
                f"at fee {params.pool.fee_pips}"
            )
        reader = PoolReader(w3, pool_address, params.addresses.tick_lens)
        token0, token1, tick_spacing = await asyncio.gather(
            _token_info(w3, address0), _token_info(w3, address1), reader.tick_spacing()
        )
        return cls(
            params=params, clock=clock, tx=tx, reader=reader,
            token0=token0, token1=token1, tick_spacing=tick_spacing,
        )  # fmt: skip

    async def close(self) -> None:
        """Close the HTTP session `connect` opened (a passed-in AsyncWeb3 stays open)."""
        if self._owns_connection:
            await self.w3.provider.disconnect()

    def __repr__(self) -> str:
        return (
            f"ChainPool({self.token0.symbol}/{self.token1.symbol} {self.fee_pips} at {self.address}, "
            f"wallet {self.tx.address})"
        )

    # -- reads ------------------------------------------------------------------------------------

    async def swap_history(self, since_ns: int) -> SwapHistory:
        """The pool's swaps since `since_ns`, from its Swap logs (`amm.chain.swap_logs`)."""
        return await swap_logs.swap_history(self, since_ns)

    async def read_state(self) -> PoolState:
        return await self.reader.state()

    async def position(self, token_id: int) -> PositionInfo:
        row = await self.npm.functions.positions(token_id).call()
        return PositionInfo(token_id, row[5], row[6], row[7], row[10], row[11])

    async def pending_fees(self, token_id: int) -> tuple[int, int]:
        # collect() pokes the pool first, so its static result includes fees not yet in tokensOwed
        # (and any principal already released by decrease_liquidity).
        out = await self.tx.call(self._collect_request(token_id))
        amount0, amount1 = self._decode(self.npm, "collect", out)
        return amount0, amount1

    async def twap_tick(self, window_s: int) -> int:
        """The pool oracle's mean tick over the last `window_s` (PoolReadError: history too short)."""
        return await self.reader.twap_tick(window_s)

    async def wallet_balances(self) -> tuple[int, int]:
        block = await self.w3.eth.block_number
        balance0, balance1 = await asyncio.gather(
            *(self.erc20[t.address].functions.balanceOf(self.tx.address).call(block_identifier=block)
              for t in (self.token0, self.token1))
        )  # fmt: skip
        return balance0, balance1

    async def gas_price_wei(self) -> int:
        return await self.tx.gas_price_estimate()

    async def quote_exact_input(
        self, zero_for_one: bool, amount_in: int, sqrt_price_limit_x96: int = 0
    ) -> SwapResult:
        token_in, token_out = self._swap_tokens(zero_for_one)
        request = self._request(
            self.quoter,
            "quoteExactInputSingle",
            (token_in.address, token_out.address, amount_in, self.fee_pips, sqrt_price_limit_x96),
            "quote",
        )
        out = await self.tx.call(request)
        amount_out, sqrt_price_after, _, gas_estimate = self._decode(
            self.quoter, "quoteExactInputSingle", out
        )
        return SwapResult(
            amount_in=amount_in,
            amount_out=amount_out,
            sqrt_price_x96_after=sqrt_price_after,
            tick_after=get_tick_at_sqrt_ratio(sqrt_price_after),
            gas_cost_wei=gas_estimate * await self.gas_price_wei(),
        )

    # -- swaps ------------------------------------------------------------------------------------

    async def swap_exact_input(
        self, zero_for_one: bool, amount_in: int, amount_out_min: int, sqrt_price_limit_x96: int = 0
    ) -> SwapResult:
        token_in, token_out = self._swap_tokens(zero_for_one)
        approval_cost = await self._ensure_allowance(token_in, self.router.address, amount_in)

        def request(out_min: int) -> TxRequest:
            args = (token_in.address, token_out.address, self.fee_pips, self.tx.address, self._deadline(),
                    amount_in, out_min, sqrt_price_limit_x96)  # fmt: skip
            bounds = {"amount_out_min": out_min, "sqrt_price_limit_x96": sqrt_price_limit_x96}
            return self._request(self.router, "exactInputSingle", args, "swap", "swap", bounds)

        (preview_out,) = self._decode(
            self.router, "exactInputSingle", await self.tx.call(request(amount_out_min))
        )
        outcome = await self.tx.send(request(max(amount_out_min, self._less_slippage(preview_out))))
        return receipts.swap_result(self.reader.pool, outcome, approval_cost)

    # -- liquidity --------------------------------------------------------------------------------

    async def mint(
        self,
        tick_lower: int,
        tick_upper: int,
        amount0_desired: int,
        amount1_desired: int,
        amount0_min: int,
        amount1_min: int,
    ) -> LiquidityChange:
        self._check_ticks(tick_lower, tick_upper)
        approval_cost = await self._approve_both(amount0_desired, amount1_desired)

        def request(min0: int, min1: int) -> TxRequest:
            token0, token1, owner = self.token0.address, self.token1.address, self.tx.address
            args = (token0, token1, self.fee_pips, tick_lower, tick_upper,
                    amount0_desired, amount1_desired, min0, min1, owner, self._deadline())  # fmt: skip
            return self._request(
                self.npm, "mint", args, "mint", "mint", {"amount0_min": min0, "amount1_min": min1}
            )

        _, _, preview0, preview1 = self._decode(
            self.npm, "mint", await self.tx.call(request(amount0_min, amount1_min))
        )
        outcome = await self.tx.send(request(*self._floors(amount0_min, amount1_min, preview0, preview1)))
        return receipts.liquidity_change(self.npm, "IncreaseLiquidity", outcome, approval_cost)

    # -- the journal: settle and decode transactions whose outcome was not seen ----------------------

    def use_journal(self, journal: TxJournal) -> None:
        """Every transaction from now on is written to `journal` before it is sent."""
        self.tx.journal = journal

    async def settle_entry(self, entry: JournalEntry) -> SettleState:
        return await self.tx.settle_entry(entry)

    async def bump_entry(self, entry: JournalEntry) -> str | None:
        return await stuck.bump(self.tx, entry)

    async def cancel_entry(self, entry: JournalEntry) -> str | None:
        return await stuck.cancel(self.tx, entry)

    async def entry_result(self, entry: JournalEntry) -> EntryResult:
        """What a mined entry did, from its receipt's events (None: gas only)."""
        if entry.outcome != "mined":
            return None
        outcome = await self.tx.receipt_outcome(entry)
        return receipts.entry_result(entry.intent.kind, self.npm, self.reader.pool, outcome)

    async def increase_liquidity(
        self, token_id: int, amount0_desired: int, amount1_desired: int, amount0_min: int, amount1_min: int
    ) -> LiquidityChange:
        approval_cost = await self._approve_both(amount0_desired, amount1_desired)

        def request(min0: int, min1: int) -> TxRequest:
            args = (token_id, amount0_desired, amount1_desired, min0, min1, self._deadline())
            return self._request(self.npm, "increaseLiquidity", args, "increase_liquidity", "increase",
                                 {"amount0_min": min0, "amount1_min": min1})  # fmt: skip

        out = await self.tx.call(request(amount0_min, amount1_min))
        _, preview0, preview1 = self._decode(self.npm, "increaseLiquidity", out)
        outcome = await self.tx.send(request(*self._floors(amount0_min, amount1_min, preview0, preview1)))
        return receipts.liquidity_change(self.npm, "IncreaseLiquidity", outcome, approval_cost)

    async def decrease_liquidity(
        self, token_id: int, liquidity: int, amount0_min: int, amount1_min: int
    ) -> LiquidityChange:
        """Releases the amounts into the position's tokensOwed; `collect` pays them out."""

        def request(min0: int, min1: int) -> TxRequest:
            args = (token_id, liquidity, min0, min1, self._deadline())
            return self._request(self.npm, "decreaseLiquidity", args, "decrease_liquidity", "decrease",
                                 {"amount0_min": min0, "amount1_min": min1})  # fmt: skip

        out = await self.tx.call(request(amount0_min, amount1_min))
        preview0, preview1 = self._decode(self.npm, "decreaseLiquidity", out)
        outcome = await self.tx.send(request(*self._floors(amount0_min, amount1_min, preview0, preview1)))
        return receipts.liquidity_change(self.npm, "DecreaseLiquidity", outcome, 0)

    async def collect(self, token_id: int) -> Collected:
        outcome = await self.tx.send(self._collect_request(token_id))
        return receipts.collected(self.npm, outcome)

    async def burn(self, token_id: int) -> int:
        return (await self.tx.send(self._request(self.npm, "burn", token_id, "burn", "burn"))).gas_cost_wei

    # -- helpers ----------------------------------------------------------------------------------

    def _contract(self, address: str, abi_name: str) -> AsyncContract:
        return self.w3.eth.contract(address=address, abi=load_abi(abi_name))  # type: ignore[call-overload]

    @staticmethod
    def _request(
        contract: AsyncContract,
        fn_name: str,
        args: Any,
        label: str,
        kind: TxKind = "tx",
        bounds: dict[str, int] | None = None,
    ) -> TxRequest:
        data = contract.encode_abi(fn_name, args=[args])
        return TxRequest(contract.address, data, label=label, kind=kind, bounds=bounds or {})

    def _decode(self, contract: AsyncContract, fn_name: str, data: bytes) -> tuple[Any, ...]:
        fn_abi = contract.get_function_by_name(fn_name).abi
        return tuple(self.w3.codec.decode(get_abi_output_types(fn_abi), data))

    def _collect_request(self, token_id: int) -> TxRequest:
        return self._request(
            self.npm, "collect", (token_id, self.tx.address, MAX_UINT128, MAX_UINT128), "collect", "collect"
        )

    def _swap_tokens(self, zero_for_one: bool) -> tuple[TokenInfo, TokenInfo]:
        return (self.token0, self.token1) if zero_for_one else (self.token1, self.token0)

    def _deadline(self) -> int:
        return self.clock.now_ns() // NS_PER_S + self.params.deadline_s

    def _less_slippage(self, amount: int) -> int:
        return amount * (10_000 - self.params.slippage_bps) // 10_000

    def _floors(self, min0: int, min1: int, preview0: int, preview1: int) -> tuple[int, int]:
        """The caller's floors when it gives any (the LP manager's come from the CEX fair), else the
        preview at the block's price less the slippage."""
        if min0 or min1:
            return min0, min1
        return self._less_slippage(preview0), self._less_slippage(preview1)

    def _check_ticks(self, tick_lower: int, tick_upper: int) -> None:
        for name, tick in (("tick_lower", tick_lower), ("tick_upper", tick_upper)):
            if tick % self.tick_spacing:
                raise ValueError(
                    f"{name} {tick} is not a multiple of the pool's tick spacing {self.tick_spacing}"
                )
        if tick_lower >= tick_upper:
            raise ValueError(f"tick_lower {tick_lower} must be below tick_upper {tick_upper}")

    async def _approve_both(self, amount0: int, amount1: int) -> int:
        spender = self.npm.address
        return await self._ensure_allowance(self.token0, spender, amount0) + await self._ensure_allowance(
            self.token1, spender, amount1
        )

    async def _ensure_allowance(self, token: TokenInfo, spender: str, amount: int) -> int:
        """Approve `spender` for unlimited `token` when the allowance is short; the gas it cost."""
        if amount == 0:
            return 0
        erc20 = self.erc20[token.address]
        allowance = await erc20.functions.allowance(self.tx.address, spender).call()
        if allowance >= amount:
            return 0
        cost = 0
        if allowance:  # USDT-style tokens refuse to change one non-zero allowance into another
            cost += (await self.tx.send(self._request_approve(erc20, spender, 0, token))).gas_cost_wei
        cost += (await self.tx.send(self._request_approve(erc20, spender, MAX_UINT256, token))).gas_cost_wei
        return cost

    @staticmethod
    def _request_approve(erc20: AsyncContract, spender: str, amount: int, token: TokenInfo) -> TxRequest:
        data = erc20.encode_abi("approve", args=[spender, amount])
        return TxRequest(erc20.address, data, label=f"approve {token.symbol}", kind="approve")


async def _token_info(w3: AsyncWeb3, address: str) -> TokenInfo:
    erc20 = w3.eth.contract(address=address, abi=load_abi("ERC20"))  # type: ignore[call-overload]
    symbol, decimals = await asyncio.gather(
        erc20.functions.symbol().call(), erc20.functions.decimals().call()
    )
    return TokenInfo(address, symbol, decimals)
