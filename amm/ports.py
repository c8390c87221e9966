"""The AMM pool port: one interface for the on-chain Uniswap v3 client and the simulated pool.

LP strategies, paper mode and backtests talk to this protocol only, so the same code runs with a
chain (anvil or mainnet) or with the in-process simulated pool. Amounts are raw token units (int),
prices are sqrtPriceX96 (int); conversions to human prices live in the maths module.

What only some pools can do is declared here too (`PoolOracle`, `JournalsTransactions`,
`DeclaresGasUnits`), with what pools are anchored to: the venue whose latent price a pool follows
(`LatentFairPrice`) and the pool venue params that name it (`FairMarketParams`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from amm.chain.tx_journal import JournalEntry, TxJournal
    from amm.chain.tx_manager import SettleState


@dataclass(frozen=True, slots=True)
class TokenInfo:
    address: str
    symbol: str
    decimals: int


@dataclass(frozen=True, slots=True)
class PoolState:
    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee_growth_global0_x128: int
    fee_growth_global1_x128: int


@dataclass(frozen=True, slots=True)
class PositionInfo:
    token_id: int
    tick_lower: int
    tick_upper: int
    liquidity: int
    tokens_owed0: int
    tokens_owed1: int


@dataclass(frozen=True, slots=True)
class SwapResult:
    amount_in: int
    amount_out: int
    sqrt_price_x96_after: int
    tick_after: int
    gas_cost_wei: int


@dataclass(frozen=True, slots=True)
class LiquidityChange:
    """Result of mint / increase / decrease: amounts actually moved (paid in, or released)."""

    token_id: int
    liquidity: int
    amount0: int
    amount1: int
    gas_cost_wei: int


@dataclass(frozen=True, slots=True)
class Collected:
    token_id: int
    amount0: int
    amount1: int
    gas_cost_wei: int


@runtime_checkable
class AmmPool(Protocol):
    """One Uniswap-v3-style pool plus the wallet that trades and provides liquidity on it."""

    token0: TokenInfo
    token1: TokenInfo
    fee_pips: int  # 500 = 0.05 %
    tick_spacing: int

    async def read_state(self) -> PoolState: ...

    async def quote_exact_input(
        self, zero_for_one: bool, amount_in: int, sqrt_price_limit_x96: int = 0
    ) -> SwapResult:
        """What a swap would do now, without doing it (QuoterV2 on chain); with a price limit the
        output of the part that fills before it."""
        ...

    async def swap_exact_input(
        self, zero_for_one: bool, amount_in: int, amount_out_min: int, sqrt_price_limit_x96: int = 0
    ) -> SwapResult:
        """`sqrt_price_limit_x96`: the swap stops there (0: no limit)."""
        ...

    async def mint(
        self,
        tick_lower: int,
        tick_upper: int,
        amount0_desired: int,
        amount1_desired: int,
        amount0_min: int,
        amount1_min: int,
    ) -> LiquidityChange: ...

    async def increase_liquidity(
        self, token_id: int, amount0_desired: int, amount1_desired: int, amount0_min: int, amount1_min: int
    ) -> LiquidityChange: ...

    async def decrease_liquidity(
        self, token_id: int, liquidity: int, amount0_min: int, amount1_min: int
    ) -> LiquidityChange: ...

    async def pending_fees(self, token_id: int) -> tuple[int, int]:
        """Fees a collect would pay now (static collect call on chain, never stale tokensOwed)."""
        ...

    async def collect(self, token_id: int) -> Collected: ...

    async def burn(self, token_id: int) -> int:
        """Burns the emptied NFT; returns the gas it cost in wei."""
        ...

    async def position(self, token_id: int) -> PositionInfo: ...

    async def wallet_balances(self) -> tuple[int, int]:
        """The wallet's raw token0 and token1 balances."""
        ...

    async def gas_price_wei(self) -> int: ...


@dataclass(frozen=True, slots=True)
class SwapHistory:
    """A pool's swaps over `[start_ns, end_ns]`, oldest first, columnar: the pool's price after
    each swap and the fee it paid (human units of the input token). The span matters apart from
    the rows: a quiet hour is information (no fees), not a gap."""

    start_ns: int
    end_ns: int
    ts_ns: tuple[int, ...]
    price: tuple[float, ...]  # token1 per token0, human, after the swap
    fee_token0: tuple[float, ...]
    fee_token1: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.ts_ns)
        if not len(self.price) == len(self.fee_token0) == len(self.fee_token1) == n:
            raise ValueError("SwapHistory: ts_ns, price, fee_token0 and fee_token1 must have one row each")
        if self.end_ns < self.start_ns:
            raise ValueError(f"SwapHistory: end_ns {self.end_ns} before start_ns {self.start_ns}")
        if n and not (self.start_ns <= self.ts_ns[0] and self.ts_ns[-1] <= self.end_ns):
            raise ValueError("SwapHistory: swaps outside [start_ns, end_ns]")
        if any(b < a for a, b in zip(self.ts_ns, self.ts_ns[1:], strict=False)):
            raise ValueError("SwapHistory.ts_ns must not decrease")

    def __len__(self) -> int:
        return len(self.ts_ns)


# ---- optional capabilities ---------------------------------------------------------------------


@runtime_checkable
class SwapHistorySource(Protocol):
    """A pool that can tell its recent swaps (chain pools from their Swap logs, the simulated pool
    from its own record): what a first start measures σ̂ₚ and the fee rate from."""

    async def swap_history(self, since_ns: int) -> SwapHistory:
        """The swaps from `since_ns` (or as far back as the source keeps, if later) until now;
        raises `bot.core.history.HistoryUnavailable` when it cannot serve them."""
        ...


@runtime_checkable
class PoolOracle(Protocol):
    """A pool with a price oracle (Uniswap v3 observations: chain pools; the simulated pool has none)."""

    async def twap_tick(self, window_s: int) -> int:
        """The mean tick over the last `window_s` (`PoolReadError` while the history is too short)."""
        ...


EntryResult = LiquidityChange | Collected | SwapResult | None


@runtime_checkable
class JournalsTransactions(Protocol):
    """A pool whose actions are transactions (chain pools): each is journaled before it is sent,
    and its outcome is settled from the chain and decoded from its receipt later if need be."""

    def use_journal(self, journal: TxJournal) -> None: ...

    @property
    def replace_after_s(self) -> float:
        """How long a transaction of ours may stay pending before it is replaced with a higher fee."""
        ...

    async def bump_entry(self, entry: JournalEntry) -> str | None:
        """Re-send a pending entry (simulated again) at its nonce with a higher fee: the new hash,
        None when there is no room under the fee cap."""
        ...

    @property
    def cancel_after_s(self) -> float:
        """How long a transaction of ours that cannot be re-sent may stay pending before it is
        cancelled (a zero-value transfer to ourselves at its nonce)."""
        ...

    async def cancel_entry(self, entry: JournalEntry) -> str | None:
        """Cancel a pending entry at its nonce (journaled as a "cancel" intent): the cancel's hash,
        None when there is no room under the fee cap or the node refused it."""
        ...

    async def settle_entry(self, entry: JournalEntry) -> SettleState:
        """mined / reverted / dropped (recorded in the journal), pending or free (not final)."""
        ...

    async def entry_result(self, entry: JournalEntry) -> EntryResult:
        """What a mined entry did (mint, increase, decrease: LiquidityChange; collect; swap),
        None for gas only (approve, burn, reverted)."""
        ...


class GasUnitsTable(Protocol):
    """Gas units of each LP operation."""

    @property
    def mint(self) -> int: ...
    @property
    def increase_liquidity(self) -> int: ...
    @property
    def decrease_liquidity(self) -> int: ...
    @property
    def collect(self) -> int: ...
    @property
    def burn(self) -> int: ...


@runtime_checkable
class DeclaresGasUnits(Protocol):
    """A pool that knows what each operation costs in gas units (the simulated pool charges them)."""

    @property
    def gas_units(self) -> GasUnitsTable: ...


@runtime_checkable
class LatentFairPrice(Protocol):
    """A venue that knows the latent fair price of its symbols (the mock venue; RuntimeError or
    KeyError while its flow has not started or for a symbol it does not have)."""

    def fair_price(self, symbol: str) -> float: ...


@runtime_checkable
class FairMarketParams(Protocol):
    """Pool venue params (sim_pool, uniswap_v3) naming the market whose price the pool follows."""

    @property
    def fair_venue(self) -> str | None: ...
    @property
    def fair_symbol(self) -> str | None: ...
