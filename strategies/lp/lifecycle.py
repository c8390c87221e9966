"""The one LP position on a pool through its life: open (with the excess swap), settle a mint in
doubt, close (resumable), compound the fees, adopt a stored position at restart."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from amm.attribution import LvrMeter, human_liquidity
from amm.chain.tx_manager import (
    SimulationReverted,
    TxNotMined,
    TxOutcomeUnknown,
    TxRevertedOnChain,
    TxStillPending,
)
from amm.math.conversions import tick_to_price
from amm.ports import AmmPool, LiquidityChange, SettlesMints
from bot.core.clock import Clock
from bot.kernel.lp_store import LpPositionRow
from strategies.lp.excess import Excess, Route
from strategies.lp.ledger import PoolLedger
from strategies.lp.params import LpManagerParams
from strategies.lp.position import LivePosition, UnconfirmedMint
from strategies.lp.ranges import RangeChoice, choose_range
from strategies.lp.swaps import ExcessSwaps

log = logging.getLogger("mmbot.lp")


class PositionLifecycle:
    """Owns the pool's position (and a mint in doubt); every change to it goes through here."""

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
        self.settler = pool if isinstance(pool, SettlesMints) else None  # chain pools
        self.position: LivePosition | None = None
        self.unconfirmed_mint: UnconfirmedMint | None = None

    def range_for(self, half_width: float, fair: float) -> RangeChoice:
        return choose_range(
            fair,
            half_width,
            skew=self.params.skew,
            tick_spacing=self.pool.tick_spacing,
            decimals0=self.d0,
            decimals1=self.d1,
        )

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
        if swap_needed and route == "pool":
            await self.swaps.pool_swap(excess, fair, now_ns)
        w0r, w1r = await self.pool.wallet_balances()
        # The mint rounds what it takes up: a hair under the wallet keeps it payable.
        a0, a1 = int(w0r * scale * (1 - 1e-6)), int(w1r * scale * (1 - 1e-6))
        try:
            minted = await self.pool.mint(choice.tick_lower, choice.tick_upper, a0, a1, 0, 0)
        except ValueError as exc:
            log.warning("%s/%s open refused by the pool: %s", self.strategy, self.pool_name, exc)
            return
        except (TxNotMined, TxOutcomeUnknown) as exc:
            # Sent, outcome unknown: the position may exist on chain. Nothing else is done on this
            # pool until `settle_mint` knows (stored as opened, or recorded as failed).
            self.unconfirmed_mint = UnconfirmedMint(exc.tx_hash, exc.nonce, choice)
            log.warning("%s/%s mint unconfirmed, settling it first: %s", self.strategy, self.pool_name, exc)
            self.ledger.action(now_ns, "mint_unconfirmed", str(exc), False, {})
            return
        self._record_open(minted, choice, fair, now_ns)
        if swap_needed and route == "cex":  # the position is stored first: the leg may fail
            await self.swaps.cex_swap(excess, fair, now_ns)  # its cost goes to the new position's account

    async def settle_mint(self, fair: float, now_ns: int) -> bool:
        """Resolve an unconfirmed mint; False while its transaction is still pending."""
        pending = self.unconfirmed_mint
        assert pending is not None
        reason = "dropped: the node no longer has it"
        minted = None
        try:
            if self.settler is not None:
                minted = await self.settler.settle_mint(pending.tx_hash, pending.nonce)
        except TxStillPending:
            return False
        except TxRevertedOnChain as exc:
            reason = f"reverted on chain: {exc.reason}"
        self.unconfirmed_mint = None
        if minted is not None:
            log.warning("%s/%s unconfirmed mint %s was mined", self.strategy, self.pool_name, pending.tx_hash)
            self._record_open(minted, pending.choice, fair, now_ns)
            return True
        log.warning("%s/%s mint %s failed: %s", self.strategy, self.pool_name, pending.tx_hash, reason)
        self.ledger.action(now_ns, "mint_failed", reason, False, {})
        return True

    def _record_open(self, minted: LiquidityChange, choice: RangeChoice, fair: float, now_ns: int) -> None:
        """The mint's gas and what the opening spent before it (its swap) go to the new account."""
        self.ledger.gas("mint", minted.gas_cost_wei, fair, now_ns)
        value = self.ledger.value_token1(minted.amount0, minted.amount1, fair)
        row_id = self.store.open_position(
            LpPositionRow(
                strategy=self.strategy,
                pool=self.pool_name,
                token_id=minted.token_id,
                tick_lower=choice.tick_lower,
                tick_upper=choice.tick_upper,
                liquidity=str(minted.liquidity),
                amount0_in=str(minted.amount0),
                amount1_in=str(minted.amount1),
                value_in_token1=value,
                opened_ns=now_ns,
            )
        )
        meter = LvrMeter(
            human_liquidity(minted.liquidity, self.d0, self.d1),
            choice.price_lower,
            choice.price_upper,
            fair,
            now_ns,
        )
        account = self.ledger.open_account(minted.token_id, row_id)
        sigma = self.sigma_annual()
        self.position = LivePosition(
            minted.token_id, row_id, choice, minted.liquidity, value, sigma, now_ns, meter, account
        )
        log.info(
            "%s/%s opened #%d [%d, %d) = [%.2f, %.2f] L %d value %.2f",
            self.strategy,
            self.pool_name,
            minted.token_id,
            choice.tick_lower,
            choice.tick_upper,
            choice.price_lower,
            choice.price_upper,
            minted.liquidity,
            value,
        )

    async def _collect_fees(
        self, pos: LivePosition, fair: float, now_ns: int, released: tuple[int, int]
    ) -> tuple[int, int]:
        collected = await self.pool.collect(pos.token_id)
        self.ledger.gas("collect", collected.gas_cost_wei, fair, now_ns)
        f0, f1 = collected.amount0 - released[0], collected.amount1 - released[1]
        self.ledger.fees(pos.token_id, now_ns, f0, f1, fair)
        return f0, f1

    async def close(self, fair: float, now_ns: int, reason: str) -> None:
        """Decrease, collect, burn. Resumable: after a step failed (a transaction not sent or not
        mined) the next close goes on from what the chain holds, never repeating a done step."""
        pos = self.position
        assert pos is not None
        if pos.released is None:
            on_chain = (await self.pool.position(pos.token_id)).liquidity
            released = await self.pool.decrease_liquidity(pos.token_id, on_chain, 0, 0)
            self.ledger.gas("decrease_liquidity", released.gas_cost_wei, fair, now_ns)
            pos.released = (released.amount0, released.amount1)
        if not pos.collected:
            await self._collect_fees(pos, fair, now_ns, pos.released)
            pos.collected = True
        self.ledger.gas("burn", await self.pool.burn(pos.token_id), fair, now_ns)
        out0, out1 = pos.released
        self.store.close_position(pos.row_id, now_ns, out0, out1, reason)
        self.ledger.mark(pos, now_ns, 0.0)
        self.ledger.close_account(pos.lvr.realized_token1)
        self.position = None
        log.info(
            "%s/%s closed #%d (%s): out %d / %d, LVR %.4f",
            self.strategy,
            self.pool_name,
            pos.token_id,
            reason,
            out0,
            out1,
            pos.lvr.realized_token1,
        )

    async def compound(self, fair: float, now_ns: int) -> None:
        """Collect the fees and add them to the position; with no capital cap the whole wallet
        (fees plus what earlier mints left idle) goes in, with one only the fees."""
        pos = self.position
        assert pos is not None
        fee0, fee1 = await self._collect_fees(pos, fair, now_ns, (0, 0))
        w0, w1 = await self.pool.wallet_balances()
        if self.params.capital_token1 is not None:
            w0, w1 = min(w0, fee0), min(w1, fee1)
        try:
            added = await self.pool.increase_liquidity(pos.token_id, w0, w1, 0, 0)
        except (ValueError, SimulationReverted) as exc:  # nothing was sent
            log.info("%s/%s compound left the fees idle: %s", self.strategy, self.pool_name, exc)
            return
        self.ledger.gas("increase_liquidity", added.gas_cost_wei, fair, now_ns)
        pos.liquidity_raw += added.liquidity
        pos.lvr.liquidity = human_liquidity(pos.liquidity_raw, self.d0, self.d1)
        self.store.add_liquidity(pos.row_id, pos.liquidity_raw, added.amount0, added.amount1)

    async def adopt(self, row: LpPositionRow) -> None:
        """Take over a stored open position, or close its row when the pool no longer has it."""
        assert row.id is not None
        try:
            info = await self.pool.position(row.token_id)
        except ValueError:
            info = None
        now = self.clock.now_ns()
        if info is None or info.liquidity == 0:
            self.store.close_position(row.id, now, 0, 0, "not found at restart")
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
        log.info("%s/%s adopted position #%d", self.strategy, self.pool_name, row.token_id)
