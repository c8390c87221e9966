"""The one LP position on a pool through its life: open (with the excess swap), close (resumable),
compound the fees, adopt a stored position at restart; every transaction's outcome booked by
`apply`, from the pool call's answer (simulated pool) or the chain's receipt (`ChainBook`)."""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from amm.attribution import LvrMeter, human_liquidity
from amm.chain.tx_errors import SimulationReverted, TxNotMined, TxOutcomeUnknown
from amm.chain.tx_journal import Outcome
from amm.math.conversions import tick_to_price
from amm.ports import AmmPool, Collected, EntryResult, JournalsTransactions, LiquidityChange, SwapResult
from bot.core.clock import Clock
from bot.kernel.lp_store import LpPositionRow
from strategies.lp.bounds import balanced_amounts, liquidity_floors
from strategies.lp.chain_book import ChainBook
from strategies.lp.excess import Excess, Route
from strategies.lp.ledger import PoolLedger
from strategies.lp.params import LpManagerParams
from strategies.lp.position import LivePosition
from strategies.lp.ranges import RangeChoice, choose_range
from strategies.lp.swaps import ExcessSwaps

log = logging.getLogger("mmbot.lp")
R = TypeVar("R")
GAS_OPERATION = {"increase": "increase_liquidity", "decrease": "decrease_liquidity"}


class PositionLifecycle:
    """Owns the pool's position; every change to it goes through here."""

    def __init__(
        self,
        pool: AmmPool,
        params: LpManagerParams,
        ledger: PoolLedger,
        swaps: ExcessSwaps,
        sigma_annual: Callable[[], float],
        clock: Clock,
    ) -> None:
        self.pool, self.params, self.ledger, self.swaps, self.clock = pool, params, ledger, swaps, clock
        self.sigma_annual = sigma_annual  # σ̂ now: stored as the position's σ at open
        self.store = ledger.store
        self.strategy, self.pool_name = ledger.strategy, ledger.pool_name
        self.d0, self.d1 = ledger.d0, ledger.d1
        self.chain = ChainBook(pool, ledger, clock) if isinstance(pool, JournalsTransactions) else None
        self.position: LivePosition | None = None
        self.pending: int = 0  # journaled transactions still in the mempool at the last settle
        self._fair, self._now = math.nan, 0  # the round's, for booking

    def range_for(self, half_width: float, fair: float) -> RangeChoice:
        return choose_range(
            fair,
            half_width,
            skew=self.params.skew,
            tick_spacing=self.pool.tick_spacing,
            decimals0=self.d0,
            decimals1=self.d1,
        )

    # -- settling and booking -------------------------------------------------------------------

    async def settle(self, fair: float, now_ns: int) -> bool:
        """Before a round: settle the journal from the chain and book what was mined; False while a
        transaction of ours is still pending (acting now could queue behind it or duplicate it)."""
        if self.chain is None:
            return True
        self.pending = len(await self.chain.settle(now_ns))
        await self.book(fair, now_ns)
        return self.pending == 0

    async def book(self, fair: float, now_ns: int) -> None:
        if self.chain is not None:
            self._fair, self._now = fair, now_ns
            await self.chain.book(self.apply)

    async def _do(
        self,
        kind: str,
        context: Mapping[str, Any],
        fair: float,
        now_ns: int,
        call: Callable[[], Awaitable[R]],
    ) -> R:
        """One pool call, booked: from its answer (simulated pool) or every entry it mined (chain)."""
        if self.chain is None:
            result = await call()
            self._fair, self._now = fair, now_ns
            gas = result if isinstance(result, int) else result.gas_cost_wei  # type: ignore[attr-defined]
            self.apply(kind, "mined", None if isinstance(result, int) else result, gas, context)  # type: ignore[arg-type]
            return result
        self.chain.journal.context = dict(context)
        try:
            return await call()
        finally:
            self.chain.journal.context = {}
            await self.book(fair, now_ns)

    def apply(
        self, kind: str, outcome: Outcome, result: EntryResult, gas_wei: int, context: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Book one transaction's outcome: its gas, and what it did to the position, fees, swaps."""
        fair, now = self._fair, self._now
        if outcome != "mined":
            self.ledger.gas(f"reverted {kind}", gas_wei, fair, now)
            return {}
        self.ledger.gas(GAS_OPERATION.get(kind, kind), gas_wei, fair, now)
        pos = self.position
        if isinstance(result, SwapResult):
            zero_for_one = bool(context.get("zero_for_one", True))
            cost = self.swaps.swap_cost_token1(zero_for_one, result.amount_in, result.amount_out, fair)
            self.ledger.swap(now, "pool", zero_for_one, result.amount_in, result.amount_out, cost)
            return {"amount_in": result.amount_in, "amount_out": result.amount_out, "cost_token1": cost}
        if isinstance(result, Collected):
            released = pos.released if pos is not None and pos.token_id == result.token_id else None
            r0, r1 = released if released is not None else (0, 0)
            f0, f1 = result.amount0 - r0, result.amount1 - r1
            self.ledger.fees(result.token_id, now, f0, f1, fair)
            if pos is not None and released is not None:
                pos.collected = True
            return {"token_id": result.token_id, "fee0": f0, "fee1": f1}
        if isinstance(result, LiquidityChange):
            return self._apply_liquidity(kind, result, context)
        if kind == "burn":
            self._closed(int(context["token_id"]), str(context.get("reason", "burnt")))
        return {}

    def _apply_liquidity(
        self, kind: str, change: LiquidityChange, context: Mapping[str, Any]
    ) -> dict[str, Any]:
        kept = {"token_id": change.token_id, "liquidity": change.liquidity,
                "amount0": change.amount0, "amount1": change.amount1}  # fmt: skip
        pos = self.position
        if kind == "mint":
            self._record_open(change, context)
        elif pos is None or pos.token_id != change.token_id:
            log.warning("%s/%s: %s of #%d booked, the position is not live", self.strategy,
                        self.pool_name, kind, change.token_id)  # fmt: skip
        elif kind == "increase":
            pos.liquidity_raw += change.liquidity
            pos.lvr.liquidity = human_liquidity(pos.liquidity_raw, self.d0, self.d1)
            self.store.add_liquidity(pos.row_id, pos.liquidity_raw, change.amount0, change.amount1)
        elif kind == "decrease":
            pos.released = (change.amount0, change.amount1)
        return kept

    # -- actions ----------------------------------------------------------------------------------

    async def open(self, half_width: float, fair: float, now_ns: int, route: Route = "pool") -> None:
        """Open a range at `half_width`; the excess token goes through the pool swap first, or
        (route "cex") stays idle in the wallet while the same amount trades on the CEX after the mint."""
        p = self.params
        self.ledger.begin_opening()
        choice = self.range_for(half_width, fair)
        w0, w1 = await self.swaps.holdings_human()
        scale = 1.0 if p.capital_token1 is None else min(1.0, p.capital_token1 / max(w0 * fair + w1, 1e-18))
        excess = Excess.for_range(w0 * scale, w1 * scale, fair, choice.price_lower, choice.price_upper)
        swap_needed = excess.value_token1 >= p.min_swap_token1
        if route == "cex" and swap_needed and not self.swaps.cex_can_take(excess, fair):
            log.warning(
                "%s/%s: the CEX book cannot take the excess now: pool swap", self.strategy, self.pool_name
            )
            route = "pool"
        cost = 0.0  # the opening's swap, vs fair (kept in the mint's journal context)
        if swap_needed and route == "pool":
            swap_context = {"zero_for_one": excess.zero_for_one}
            try:
                swap = await self._do(
                    "swap", swap_context, fair, now_ns, lambda: self.swaps.pool_swap(excess, fair)
                )
            except (ValueError, SimulationReverted) as exc:  # nothing was sent: no open this round
                self._refused(now_ns, exc)
                return
            cost = self.swaps.swap_cost_token1(excess.zero_for_one, swap.amount_in, swap.amount_out, fair)
        w0r, w1r = await self.pool.wallet_balances()
        # The mint rounds what it takes up: a hair under the wallet keeps it payable.
        a0, a1 = int(w0r * scale * (1 - 1e-6)), int(w1r * scale * (1 - 1e-6))
        context = {"tick_lower": choice.tick_lower, "tick_upper": choice.tick_upper,
                   "half_width": choice.half_width, "swap_cost_token1": cost, "fair": fair}  # fmt: skip
        lower, upper = choice.tick_lower, choice.tick_upper
        a0, a1, min0, min1 = self._bounded(lower, upper, a0, a1, fair)
        try:
            await self._do(
                "mint", context, fair, now_ns, lambda: self.pool.mint(lower, upper, a0, a1, min0, min1)
            )
        except (ValueError, SimulationReverted) as exc:
            self._refused(now_ns, exc)
            return
        except (TxNotMined, TxOutcomeUnknown) as exc:
            # Sent, outcome unknown: the position may exist on chain. Nothing else is done on this
            # pool until the journal settles it (booked as opened, or recorded as failed).
            log.warning("%s/%s mint unconfirmed, settling it first: %s", self.strategy, self.pool_name, exc)
            self.ledger.action(now_ns, "mint_unconfirmed", str(exc), False, {})
            self.pending = 1
            return
        if swap_needed and route == "cex" and self.position is not None:  # stored first: the leg may fail
            await self.swaps.cex_swap(excess, fair, now_ns)  # its cost goes to the new position's account

    def _refused(self, now_ns: int, exc: Exception) -> None:
        log.warning("%s/%s open refused by the pool: %s", self.strategy, self.pool_name, exc)
        self.ledger.action(now_ns, "open_refused", str(exc), False, {})

    def _bounded(
        self, lower: int, upper: int, amount0: int, amount1: int, fair: float
    ) -> tuple[int, int, int, int]:
        """The amounts to offer (balanced at fair) and their floors (`strategies.lp.bounds`)."""
        a0, a1 = balanced_amounts(lower, upper, amount0, amount1, fair, self.d0, self.d1)
        min0, min1 = liquidity_floors(lower, upper, a0, a1, fair, self.params.slippage_bps, self.d0, self.d1)
        return a0, a1, min0, min1

    def _record_open(self, minted: LiquidityChange, context: Mapping[str, Any]) -> None:
        lower, upper = int(context["tick_lower"]), int(context["tick_upper"])
        p_lower, p_upper = tick_to_price(lower, self.d0, self.d1), tick_to_price(upper, self.d0, self.d1)
        choice = RangeChoice(lower, upper, p_lower, p_upper, float(context["half_width"]))
        fair, now_ns = float(context.get("fair", self._fair)), self._now
        if self.position is not None:
            log.error("%s/%s: a second mint (#%d) was mined while #%d is live: stored, adopted at restart",
                      self.strategy, self.pool_name, minted.token_id, self.position.token_id)  # fmt: skip
        value = self.ledger.value_token1(minted.amount0, minted.amount1, fair)
        row_id = self.store.open_position(
            LpPositionRow(
                strategy=self.strategy,
                pool=self.pool_name,
                token_id=minted.token_id,
                tick_lower=lower,
                tick_upper=upper,
                liquidity=str(minted.liquidity),
                amount0_in=str(minted.amount0),
                amount1_in=str(minted.amount1),
                value_in_token1=value,
                opened_ns=now_ns,
            )
        )
        if self.position is not None:
            return
        meter = LvrMeter(human_liquidity(minted.liquidity, self.d0, self.d1), p_lower, p_upper, fair, now_ns)
        # The opening's swap and the mint's gas were booked to the ledger's opening account (by
        # `apply`, before this): the new position's account takes them over.
        account = self.ledger.open_account(minted.token_id, row_id)
        if account.swap_cost_token1 == 0.0:  # its swap was booked by the process before a restart
            account.swap_cost_token1 = float(context.get("swap_cost_token1", 0.0))
        sigma = self.sigma_annual()
        self.position = LivePosition(
            minted.token_id, row_id, choice, minted.liquidity, value, sigma, now_ns, meter, account
        )
        log.info("%s/%s opened #%d [%d, %d) = [%.2f, %.2f] L %d value %.2f", self.strategy, self.pool_name,
                 minted.token_id, lower, upper, p_lower, p_upper, minted.liquidity, value)  # fmt: skip

    async def close(self, fair: float, now_ns: int, reason: str) -> None:
        """Decrease, collect, burn. Resumable: after a step failed (a transaction not sent or not
        mined) the next close goes on from what the chain holds, never repeating a done step."""
        pos = self.position
        assert pos is not None
        tid = pos.token_id
        context = {"token_id": tid, "reason": reason}
        if pos.released is None:
            info = await self.pool.position(tid)
            if info.liquidity == 0:  # released already (by a decrease we never saw booked)
                pos.released = (info.tokens_owed0, info.tokens_owed1)  # never count principal as fees
            else:
                await self._do("decrease", context, fair, now_ns,
                               lambda: self.pool.decrease_liquidity(tid, info.liquidity, 0, 0))  # fmt: skip
        if not pos.collected:
            await self._do("collect", context, fair, now_ns, lambda: self.pool.collect(tid))
        if self.position is pos:  # not yet closed by booking the burn
            await self._do("burn", context, fair, now_ns, lambda: self.pool.burn(tid))

    def _closed(self, token_id: int, reason: str) -> None:
        pos = self.position
        if pos is None or pos.token_id != token_id:
            row = next((r for r in self.store.positions(self.strategy, open_only=True)
                        if r.pool == self.pool_name and r.token_id == token_id), None)  # fmt: skip
            if row is not None and row.id is not None:
                released = self.chain.last_decrease(token_id) if self.chain is not None else None
                out0, out1 = released or (0, 0)
                self.store.close_position(row.id, self._now, out0, out1, reason)
            return
        out0, out1 = pos.released or (0, 0)
        self.store.close_position(pos.row_id, self._now, out0, out1, reason)
        self.ledger.mark(pos, self._now, 0.0)
        self.ledger.close_account(pos.lvr.realized_token1)
        self.position = None
        log.info("%s/%s closed #%d (%s): out %d / %d, LVR %.4f", self.strategy, self.pool_name,
                 token_id, reason, out0, out1, pos.lvr.realized_token1)  # fmt: skip

    async def compound(self, fair: float, now_ns: int) -> None:
        """Collect the fees and add them to the position; with no capital cap the whole wallet
        (fees plus what earlier mints left idle) goes in, with one only the fees."""
        pos = self.position
        assert pos is not None
        tid = pos.token_id
        collected = await self._do("collect", {"token_id": tid}, fair, now_ns, lambda: self.pool.collect(tid))
        w0, w1 = await self.pool.wallet_balances()
        if self.params.capital_token1 is not None:
            w0, w1 = min(w0, collected.amount0), min(w1, collected.amount1)
        w0, w1, min0, min1 = self._bounded(pos.choice.tick_lower, pos.choice.tick_upper, w0, w1, fair)
        try:
            await self._do("increase", {"token_id": tid}, fair, now_ns,
                           lambda: self.pool.increase_liquidity(tid, w0, w1, min0, min1))  # fmt: skip
        except (ValueError, SimulationReverted) as exc:  # nothing was sent
            log.info("%s/%s compound left the fees idle: %s", self.strategy, self.pool_name, exc)

    async def adopt(self, row: LpPositionRow) -> None:
        """Take over a stored open position, or close its row when the pool no longer has it."""
        assert row.id is not None
        self._now = now = self.clock.now_ns()
        gone: tuple[type[Exception], ...] = (ValueError, *_contract_reverts())  # "Invalid token ID": burnt
        try:
            info = await self.pool.position(row.token_id)
        except gone:
            info = None
        released = self.chain.last_decrease(row.token_id) if self.chain is not None else None
        if info is None or (info.liquidity == 0 and released is None and info.tokens_owed0 == 0
                            and info.tokens_owed1 == 0):  # fmt: skip
            out0, out1 = released or (0, 0)
            self.store.close_position(row.id, now, out0, out1, "not found at restart")
            log.warning("%s/%s: stored position #%d is gone", self.strategy, self.pool_name, row.token_id)
            return
        lower = tick_to_price(info.tick_lower, self.d0, self.d1)
        upper = tick_to_price(info.tick_upper, self.d0, self.d1)
        choice = RangeChoice(info.tick_lower, info.tick_upper, lower, upper, math.log(upper / lower) / 2)
        mid = math.sqrt(lower * upper)
        meter = LvrMeter(human_liquidity(info.liquidity, self.d0, self.d1), lower, upper, mid, now)
        mark = self.store.marks().get(row.id)
        if mark is not None:  # carry on the stored figures, not from zero
            meter.realized_token1, meter.expected_token1 = mark.lvr_realized_token1, mark.lvr_expected_token1
        account = self.ledger.open_account(row.token_id, row.id)
        account.swap_cost_token1 = 0.0 if mark is None else mark.swap_cost_token1
        account.lvr_token1 = meter.realized_token1
        self.position = LivePosition(
            row.token_id, row.id, choice, info.liquidity, row.value_in_token1, self.sigma_annual(),
            row.opened_ns, meter, account,
        )  # fmt: skip
        if info.liquidity == 0:  # a close half done: the next round finishes it
            self.position.released = released or (info.tokens_owed0, info.tokens_owed1)
        log.info("%s/%s adopted position #%d", self.strategy, self.pool_name, row.token_id)


def _contract_reverts() -> tuple[type[Exception], ...]:
    """web3's revert of a contract call, when web3 is loaded: it is imported only when a chain
    venue is built (a simulated pool's calls cannot raise it), so the config and the CLI start
    without it."""
    exceptions = sys.modules.get("web3.exceptions")
    return () if exceptions is None else (exceptions.ContractLogicError,)
