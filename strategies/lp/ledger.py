"""One pool's LP records: running totals, per-position accounts and the LP store's rows (decisions,
gas, swaps, fees, marks).

Every decision that fires is logged with its numbers and stored (executed, or refused by a gate:
a repeated refusal is stored once); gas, swap costs and fees add to the totals and to the account
of the position they belong to (`strategies.lp.accounts`) as they are stored.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from amm.attribution import PnlAttribution
from bot.kernel.lp_store import LpMarkRow, LpStore, LpSwapRow
from strategies.lp.accounts import PositionAccount
from strategies.lp.position import LivePosition, LpTotals
from strategies.lp.rules import Action, Decision

log = logging.getLogger("mmbot.lp")


class PoolLedger:
    """Where one pool's LP records go: the manager's running totals and the LP store."""

    def __init__(
        self,
        strategy: str,
        pool_name: str,
        store: LpStore,
        decimals: tuple[int, int],
        native_price_token1: float | None,
        totals: LpTotals,
    ) -> None:
        self.strategy, self.pool_name, self.store = strategy, pool_name, store
        self.d0, self.d1 = decimals
        self.native_price_token1 = native_price_token1  # the gas token's price; None: token0's (fair)
        self.totals = totals  # the manager's: added to as gas, swaps and fees are stored
        self._last_refusal: tuple[str, str] | None = None
        self.accounts: dict[int, PositionAccount] = {}  # by position row id, this process's
        self.current: PositionAccount | None = None  # the open position's
        self.opening = PositionAccount()  # spent on an opening before its mint is known

    def begin_opening(self) -> None:
        """An opening starts: what an earlier one spent without a position to show is nobody's."""
        self.opening = PositionAccount()

    def open_account(self, token_id: int, row_id: int) -> PositionAccount:
        account = PositionAccount(token_id, row_id)
        account.absorb(self.opening)
        self.opening = PositionAccount()
        self.accounts[row_id] = self.current = account
        return account

    def close_account(self, lvr_token1: float) -> None:
        """The open position is closed (its closing gas and fees are in): its final LVR."""
        if self.current is not None:
            self.current.lvr_token1, self.current.open = lvr_token1, False
            self.current.pending_fees_token1 = 0.0
        self.totals.lvr_token1 += lvr_token1
        self.current = None

    def attribution(self, hedge_cost_token1: float = 0.0) -> PnlAttribution:
        """The pool since start: the totals, plus the open position's LVR and pending fees as of
        its last round (price exposure is not kept here)."""
        t, open_ = self.totals, self.current or PositionAccount()
        return PnlAttribution(
            fees_token1=t.fees_token1 + open_.pending_fees_token1,
            lvr_token1=t.lvr_token1 + open_.lvr_token1,
            gas_token1=t.gas_token1,
            hedge_cost_token1=hedge_cost_token1,
            swap_cost_token1=t.swap_cost_token1,
            price_exposure_token1=math.nan,
            il_token1=math.nan,
            hodl_value_token1=math.nan,
        )

    def _account(self) -> PositionAccount:
        return self.opening if self.current is None else self.current

    def value_token1(self, amount0_raw: int, amount1_raw: int, fair: float) -> float:
        return amount0_raw / 10.0**self.d0 * fair + amount1_raw / 10.0**self.d1

    def gas_token1(self, gas_wei: int, fair: float) -> float:
        return gas_wei / 1e18 * (self.native_price_token1 or fair)

    def decision(self, d: Decision, now_ns: int, guards: Mapping[str, str] | None = None) -> None:
        """Log and store a decision that fires, with its numbers and the state of the guards that
        are not numbers (the TWAP check: "checked" or "skipped: why")."""
        if d.action is Action.HOLD and not d.executed_gate:
            log.debug("%s/%s hold: %s %s", self.strategy, self.pool_name, d.reason, d.numbers)
            return
        key = (d.action.value, d.reason)
        if not d.executed_gate:
            self.totals.refusals += 1
            if key == self._last_refusal:
                return  # the same refusal every round: logged and stored once
            self._last_refusal = key
        else:
            self._last_refusal = None
        notes = dict(guards or {})
        log.info(
            "%s/%s %s: %s %s %s",
            self.strategy,
            self.pool_name,
            d.action.value,
            d.reason,
            {k: round(v, 6) for k, v in d.numbers.items()},
            notes,
        )
        self.action(now_ns, d.action.value, d.reason, d.executed_gate, {**d.numbers, **notes})

    def action(
        self, now_ns: int, action: str, reason: str, executed: bool, numbers: Mapping[str, float | str]
    ) -> None:
        store = self.store
        store.record_action(self.strategy, self.pool_name, now_ns, action, reason, executed, dict(numbers))

    def gas(self, operation: str, gas_wei: int, fair: float, now_ns: int) -> None:
        cost = self.gas_token1(gas_wei, fair)
        self.totals.gas_token1 += cost
        account = self._account()
        account.gas_wei += gas_wei
        account.gas_token1 += cost
        self.store.record_gas(self.strategy, self.pool_name, now_ns, operation, gas_wei, cost)

    def swap(
        self, now_ns: int, venue: str, zero_for_one: bool, amount_in: object, amount_out: object, cost: float
    ) -> None:
        self.totals.swap_cost_token1 += cost
        self._account().swap_cost_token1 += cost
        self.store.record_swap(
            LpSwapRow(
                strategy=self.strategy,
                pool=self.pool_name,
                ts_ns=now_ns,
                zero_for_one=zero_for_one,
                amount_in=str(amount_in),
                amount_out=str(amount_out),
                cost_token1=cost,
                venue=venue,
            )
        )

    def fees(self, token_id: int, now_ns: int, fee0_raw: int, fee1_raw: int, fair: float) -> None:
        value = self.value_token1(fee0_raw, fee1_raw, fair)
        self.totals.fees_token1 += value
        account = self._account()
        account.fees0_raw += fee0_raw
        account.fees1_raw += fee1_raw
        account.fees_token1 += value
        self.store.record_fees(self.strategy, self.pool_name, token_id, now_ns, fee0_raw, fee1_raw, value)

    def mark(self, pos: LivePosition, now_ns: int, pending_fees_token1: float) -> None:
        """The position's LVR and pending fees so far (for `mmbot status`)."""
        pos.marked_ns = now_ns
        self.store.mark_position(
            LpMarkRow(
                position_id=pos.row_id,
                ts_ns=now_ns,
                lvr_realized_token1=pos.lvr.realized_token1,
                lvr_expected_token1=pos.lvr.expected_token1,
                pending_fees_token1=pending_fees_token1,
                swap_cost_token1=pos.swap_cost_token1,
            )
        )
