"""One pool's LP position: measure (fair price, σ̂, fee rate, gas), decide, act, record.

`PoolLpManager` works through the AmmPool port (simulated pool or chain client); the decisions
are the pure rules of `strategies.lp.rules`. Every decision that fires is logged with its numbers
and stored (executed, or refused by a gate: a repeated refusal is stored once); positions, fees
and gas go to the LP store.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from amm.attribution import LvrMeter, exact_position_amounts, human_liquidity
from amm.chain.pool_reader import PoolReadError
from amm.chain.tx_manager import (
    SimulationReverted,
    TxNotMined,
    TxOutcomeUnknown,
    TxRevertedOnChain,
    TxStillPending,
)
from amm.math.conversions import sqrt_price_x96_to_price, tick_to_price
from amm.math.full_math import Q128, Q256
from amm.ports import AmmPool, LiquidityChange
from bot.core.clock import Clock
from bot.kernel.lp_store import LpMarkRow, LpPositionRow, LpStore, LpSwapRow
from strategies.lp.excess import CexExcessRoute, Excess, Route, RouteCosts
from strategies.lp.params import LpManagerParams
from strategies.lp.ranges import RangeChoice, at_edge, choose_range
from strategies.lp.rules import Action, Decision, PoolView, Rules, decide
from strategies.lp.volatility import EwmaVolatility

log = logging.getLogger("mmbot.lp")
OPENING = frozenset({Action.OPEN, Action.RECENTRE, Action.WIDEN})

Policy = Callable[[PoolView, Rules], Decision]
MARK_INTERVAL_S = 300.0  # how often an open position's LVR and pending fees are stored


@dataclass(slots=True)
class LivePosition:
    token_id: int
    row_id: int
    choice: RangeChoice
    liquidity_raw: int
    value_in_token1: float
    sigma_at_open: float
    opened_ns: int
    lvr: LvrMeter
    swap_cost_token1: float = 0.0
    edge_since_ns: int | None = None
    marked_ns: int | None = None
    released: tuple[int, int] | None = None  # a close's progress: amounts the decrease released
    collected: bool = False


@dataclass(frozen=True, slots=True)
class UnconfirmedMint:
    """A mint sent whose outcome is unknown (not mined in time, or the RPC failed while sending)."""

    tx_hash: str
    nonce: int
    choice: RangeChoice
    swap_cost_token1: float


@dataclass(slots=True)
class LpTotals:
    fees_token1: float = 0.0
    gas_token1: float = 0.0
    swap_cost_token1: float = 0.0
    lvr_token1: float = 0.0  # realised, over closed positions
    actions: dict[str, int] = field(default_factory=dict)
    refusals: int = 0


class PoolLpManager:
    """One pool's LP position under the rules; `step()` is one evaluate-and-act round."""

    def __init__(
        self,
        strategy: str,
        pool_name: str,
        pool: AmmPool,
        fair_price: Callable[[], float],
        params: LpManagerParams,
        clock: Clock,
        store: LpStore,
        *,
        mark_interval_s: float = MARK_INTERVAL_S,
        cex: CexExcessRoute | None = None,
    ) -> None:
        self.cex = cex  # the CEX route of the excess swap (None: pool only)
        self.strategy, self.pool_name, self.pool = strategy, pool_name, pool
        self.mark_interval_ns = mark_interval_s * 1e9
        self.fair_price, self.params, self.clock, self.store = fair_price, params, clock, store
        self.rules = params.rules()
        self.vol = EwmaVolatility.from_sigma(params.vol_half_life_s, params.initial_sigma)
        self.fee_rate = 0.0
        self._fee_mark: tuple[int, int, int] | None = None  # fee growth 0, 1 and when
        self._twap_warned = False
        self._fee_weight = 0.0  # the EWMA's total weight (1 once long past a half-life)
        self.position: LivePosition | None = None
        self.last_action_ns: int | None = None
        self.last_decision: Decision | None = None
        self._last_refusal: tuple[str, str] | None = None
        self.totals = LpTotals()
        self.d0, self.d1 = pool.token0.decimals, pool.token1.decimals
        self.unconfirmed_mint: UnconfirmedMint | None = None
        self._deployable = (0.0, 0.0)  # human token0 / token1 a reopening would deploy (last view)
        # What the CEX legs moved on the exchange against the surplus they left idle in the wallet:
        # counted in every excess, so a surplus traded once on the CEX is not traded again.
        self.cex_offset = store.cex_leg_offset(strategy, pool_name)

    # ---- measurement -----------------------------------------------------------------------

    def _native_price(self, fair: float) -> float:
        return self.params.native_price_token1 or fair

    def _gas_token1(self, gas_wei: int, fair: float) -> float:
        return gas_wei / 1e18 * self._native_price(fair)

    def _update_fee_rate(self, fg0: int, fg1: int, now_ns: int, fair: float) -> None:
        """Fees per human unit of liquidity per second, from the pool's global fee growth.

        A bias-corrected EWMA: until a half-life has passed it is the time average of what was
        seen, so the first short interval (often without a swap) does not stand in for the rate.
        """
        if self._fee_mark is not None and now_ns > self._fee_mark[2]:
            dt_s = (now_ns - self._fee_mark[2]) / 1e9
            scale = 10.0 ** ((self.d0 + self.d1) / 2)
            d0 = (fg0 - self._fee_mark[0]) % Q256 / Q128 * scale / 10.0**self.d0
            d1 = (fg1 - self._fee_mark[1]) % Q256 / Q128 * scale / 10.0**self.d1
            sample = (d0 * fair + d1) / dt_s
            decay = math.exp(-dt_s * math.log(2) / self.params.vol_half_life_s)
            kept = self._fee_weight * decay
            self._fee_weight = kept + (1.0 - decay)
            self.fee_rate = (self.fee_rate * kept + (1.0 - decay) * sample) / self._fee_weight
        self._fee_mark = (fg0, fg1, now_ns)

    async def _wallet_human(self) -> tuple[float, float]:
        w0, w1 = await self.pool.wallet_balances()
        return w0 / 10.0**self.d0, w1 / 10.0**self.d1

    async def _holdings_human(self) -> tuple[float, float]:
        """The pool wallet plus what the CEX legs of earlier openings moved on the exchange."""
        w0, w1 = await self._wallet_human()
        return w0 + self.cex_offset[0], w1 + self.cex_offset[1]

    async def _pool_swap_cost(self, excess: Excess, fair: float) -> float:
        """The pool's exact multi-tick output for the excess vs fair (fee + impact) + swap gas."""
        zero_for_one = excess.zero_for_one
        raw_in = int(excess.amount_in * 10.0 ** (self.d0 if zero_for_one else self.d1))
        quote = await self.pool.quote_exact_input(zero_for_one, raw_in)
        out = quote.amount_out / 10.0 ** (self.d1 if zero_for_one else self.d0)
        value_out = out * (1.0 if zero_for_one else fair)
        # A pool lagging fair can quote better than fair: never count that as negative cost.
        return max(excess.value_token1 - value_out, 0.0) + self._gas_token1(quote.gas_cost_wei, fair)

    async def _route_costs(self, excess: Excess, fair: float) -> RouteCosts:
        """Both routes' cost for the excess (none below `min_swap_token1`: no swap at all)."""
        if excess.value_token1 < self.params.min_swap_token1:
            return RouteCosts(0.0, 0.0 if self.cex is not None else math.inf, excess.value_token1)
        pool_cost = await self._pool_swap_cost(excess, fair)
        cex_cost = math.inf if self.cex is None else self.cex.quote(excess, fair).cost_token1
        return RouteCosts(pool_cost, cex_cost, excess.value_token1)

    async def _twap_price(self) -> float:
        """The pool oracle's TWAP over `twap_window_s`, NaN when off, absent or too short."""
        window = self.params.twap_window_s
        twap_tick = getattr(self.pool, "twap_tick", None)  # chain pools have an oracle, sim pools not
        if window <= 0 or twap_tick is None:
            return math.nan
        try:
            return tick_to_price(await twap_tick(window), self.d0, self.d1)
        except PoolReadError as exc:
            if not self._twap_warned:
                self._twap_warned = True
                log.warning("%s/%s: no TWAP guard yet: %s", self.strategy, self.pool_name, exc)
            return math.nan

    async def view(self, fair: float, now_ns: int) -> PoolView:
        state = await self.pool.read_state()
        self._update_fee_rate(state.fee_growth_global0_x128, state.fee_growth_global1_x128, now_ns, fair)
        sigma = self.vol.sigma_annual(self.params.initial_sigma)
        gas_price = await self.pool.gas_price_wei()
        units = getattr(self.pool, "gas_units", None)
        u = {
            k: getattr(units, k, 150_000)
            for k in ("mint", "decrease_liquidity", "collect", "burn", "increase_liquidity")
        }
        gas = {k: self._gas_token1(v * gas_price, fair) for k, v in u.items()}
        w0, w1 = await self._holdings_human()
        p0 = p1 = pending = 0.0
        pos = self.position
        if pos is not None:
            p0, p1 = exact_position_amounts(
                state.sqrt_price_x96,
                pos.choice.tick_lower,
                pos.choice.tick_upper,
                pos.liquidity_raw,
                self.d0,
                self.d1,
            )
            f0, f1 = await self.pool.pending_fees(pos.token_id)
            pending = f0 / 10.0**self.d0 * fair + f1 / 10.0**self.d1
            pos.lvr.observe(fair, now_ns, sigma)
            edge = at_edge(fair, pos.choice.price_lower, pos.choice.price_upper, self.params.edge_buffer)
            pos.edge_since_ns = (pos.edge_since_ns or now_ns) if edge else None
        total0, total1 = w0 + p0, w1 + p1
        capital = total0 * fair + total1
        if self.params.capital_token1 is not None:
            capital = min(capital, self.params.capital_token1)
        w = self.rules.min_half_width if pos is None else pos.choice.half_width
        # The swap a reopening needs, on the capital it would deploy (not the whole wallet).
        scale = capital / (total0 * fair + total1) if total0 * fair + total1 > 0 else 0.0
        self._deployable = (total0 * scale, total1 * scale)
        excess = Excess.for_range(*self._deployable, fair, fair * math.exp(-w), fair * math.exp(w))
        swap_cost = (await self._route_costs(excess, fair)).cost(self.params.excess_swap_venue)
        return PoolView(
            now_ns=now_ns,
            price=fair,
            sigma_annual=sigma,
            fee_rate=self.fee_rate,
            capital_token1=capital,
            gas_open_token1=gas["mint"],
            gas_close_token1=gas["decrease_liquidity"] + gas["collect"] + gas["burn"],
            gas_compound_token1=gas["collect"] + gas["increase_liquidity"],
            swap_cost_token1=swap_cost,
            last_action_ns=self.last_action_ns,
            liquidity=None if pos is None else human_liquidity(pos.liquidity_raw, self.d0, self.d1),
            price_lower=0.0 if pos is None else pos.choice.price_lower,
            price_upper=0.0 if pos is None else pos.choice.price_upper,
            value_token1=p0 * fair + p1,
            sigma_at_open=0.0 if pos is None else pos.sigma_at_open,
            half_width=0.0 if pos is None else pos.choice.half_width,
            edge_since_ns=None if pos is None else pos.edge_since_ns,
            lvr_since_open_token1=0.0 if pos is None else pos.lvr.expected_token1,
            pending_fees_token1=pending,
            pool_price=sqrt_price_x96_to_price(state.sqrt_price_x96, self.d0, self.d1),
            pool_twap_price=await self._twap_price(),
        )

    # ---- one round -------------------------------------------------------------------------

    async def step(self, policy: Policy = decide) -> Decision | None:
        """Measure, decide with `policy` (the rules; benchmarks pass baseline policies), act."""
        fair = self.fair_price()
        if not (math.isfinite(fair) and fair > 0):
            return None
        if self.cex is not None and self.cex.book is None:
            return None  # the CEX route is configured: no decision before its book has been seen
        now = self.clock.now_ns()
        if self.unconfirmed_mint is not None and not await self._settle_mint(fair, now):
            return None  # still pending: acting now could leave two positions
        if self.position is not None and self.position.released is not None:
            await self.close(fair, now, "finishing a close that failed half-way")
        self.vol.update(fair, now)
        view = await self.view(fair, now)
        pos = self.position
        if pos is not None and (pos.marked_ns is None or now - pos.marked_ns >= self.mark_interval_ns):
            self._mark(pos, now, view.pending_fees_token1)
        decision = policy(view, self.rules)
        route: Route = "pool"
        if decision.executed_gate and decision.action in OPENING:
            # Both routes priced for the range about to open, stored with the decision's numbers.
            choice = self._choose_range(decision.half_width, fair)
            excess = Excess.for_range(*self._deployable, fair, choice.price_lower, choice.price_upper)
            costs = await self._route_costs(excess, fair)
            route = costs.pick(self.params.excess_swap_venue)
            numbers = {**decision.numbers, **costs.numbers(self.params.excess_swap_venue)}
            decision = dataclasses.replace(decision, numbers=numbers)
        self.last_decision = decision
        self._log(decision, now)
        if decision.executed_gate:
            await self.act(decision, fair, now, route)
        return decision

    def _log(self, d: Decision, now_ns: int) -> None:
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
        log.info(
            "%s/%s %s: %s %s",
            self.strategy,
            self.pool_name,
            d.action.value,
            d.reason,
            {k: round(v, 6) for k, v in d.numbers.items()},
        )
        self.store.record_action(
            self.strategy, self.pool_name, now_ns, d.action.value, d.reason, d.executed_gate, d.numbers
        )

    async def act(self, d: Decision, fair: float, now_ns: int, route: Route = "pool") -> None:
        self.totals.actions[d.action.value] = self.totals.actions.get(d.action.value, 0) + 1
        self.last_action_ns = now_ns
        try:
            await self._act(d, fair, now_ns, route)
        except TxRevertedOnChain as exc:
            # Mined but reverted (the pool moved between preview and inclusion): its gas is spent.
            self._gas(f"reverted {exc.label}", exc.gas_cost_wei, fair, now_ns)
            raise

    async def _act(self, d: Decision, fair: float, now_ns: int, route: Route) -> None:
        if d.action is Action.COMPOUND:
            await self.compound(fair, now_ns)
            return
        if self.position is not None:
            await self.close(fair, now_ns, d.reason)
        if d.action in (Action.OPEN, Action.RECENTRE, Action.WIDEN):
            await self.open(d.half_width, fair, now_ns, route)

    # ---- actions ---------------------------------------------------------------------------

    def _mark(self, pos: LivePosition, now_ns: int, pending_fees_token1: float) -> None:
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

    def _gas(self, operation: str, gas_wei: int, fair: float, now_ns: int) -> None:
        cost = self._gas_token1(gas_wei, fair)
        self.totals.gas_token1 += cost
        self.store.record_gas(self.strategy, self.pool_name, now_ns, operation, gas_wei, cost)

    def _choose_range(self, half_width: float, fair: float) -> RangeChoice:
        return choose_range(
            fair,
            half_width,
            skew=self.params.skew,
            tick_spacing=self.pool.tick_spacing,
            decimals0=self.d0,
            decimals1=self.d1,
        )

    async def _pool_swap(self, excess: Excess, fair: float, now_ns: int) -> float:
        """Swap the excess in the pool; returns its cost (fee + impact vs fair) in token1."""
        zero_for_one = excess.zero_for_one
        raw_in = int(excess.amount_in * 10.0 ** (self.d0 if zero_for_one else self.d1))
        raw_in = min(raw_in, (await self.pool.wallet_balances())[0 if zero_for_one else 1])
        quote = await self.pool.quote_exact_input(zero_for_one, raw_in)
        min_out = int(quote.amount_out * (1 - self.params.slippage_bps / 1e4))
        swap = await self.pool.swap_exact_input(zero_for_one, raw_in, min_out)
        out = swap.amount_out / 10.0 ** (self.d1 if zero_for_one else self.d0)
        cost = excess.value_token1 - out * (1.0 if zero_for_one else fair)
        self._gas("swap", swap.gas_cost_wei, fair, now_ns)
        self._record_swap(now_ns, "pool", zero_for_one, swap.amount_in, swap.amount_out, cost)
        return cost

    async def _cex_swap(self, excess: Excess, fair: float, now_ns: int) -> float:
        """Trade the surplus on the CEX (IOC within `slippage_bps` of fair); returns its cost."""
        assert self.cex is not None
        quote = self.cex.quote(excess, fair)
        leg = await self.cex.execute(quote, fair)
        if leg.filled_lots < leg.requested_lots:
            log.warning(
                "%s/%s: CEX leg filled %d of %d lots within %.1f bp: the rest of the surplus stays idle",
                self.strategy,
                self.pool_name,
                leg.filled_lots,
                leg.requested_lots,
                self.params.slippage_bps,
            )
        if leg.filled_lots == 0:
            return 0.0
        if excess.zero_for_one:  # sold base: base in, quote (net of the fee) out
            amount_in, amount_out = leg.base, leg.notional - leg.fees
        else:
            amount_in, amount_out = leg.notional + leg.fees, leg.base
        self._record_swap(
            now_ns, self.cex.market.key, excess.zero_for_one, amount_in, amount_out, leg.cost_token1
        )
        d0, d1 = float(amount_in), float(amount_out)
        if excess.zero_for_one:
            self.cex_offset = (self.cex_offset[0] - d0, self.cex_offset[1] + d1)
        else:
            self.cex_offset = (self.cex_offset[0] + d1, self.cex_offset[1] - d0)
        return leg.cost_token1

    def _record_swap(
        self, now_ns: int, venue: str, zero_for_one: bool, amount_in: object, amount_out: object, cost: float
    ) -> None:
        self.totals.swap_cost_token1 += cost
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

    def _cex_can_take(self, excess: Excess, fair: float) -> bool:
        return self.cex is not None and math.isfinite(self.cex.quote(excess, fair).cost_token1)

    async def open(self, half_width: float, fair: float, now_ns: int, route: Route = "pool") -> None:
        """Open a range at `half_width`; the excess token goes through the pool swap first, or
        (route "cex") stays idle in the wallet while the same amount trades on the CEX after the mint."""
        p = self.params
        choice = self._choose_range(half_width, fair)
        w0, w1 = await self._holdings_human()
        scale = 1.0 if p.capital_token1 is None else min(1.0, p.capital_token1 / max(w0 * fair + w1, 1e-18))
        excess = Excess.for_range(w0 * scale, w1 * scale, fair, choice.price_lower, choice.price_upper)
        swap_needed = excess.value_token1 >= p.min_swap_token1
        if route == "cex" and swap_needed and not self._cex_can_take(excess, fair):
            log.warning(
                "%s/%s: the CEX book cannot take the excess now: pool swap", self.strategy, self.pool_name
            )
            route = "pool"
        cost = 0.0
        if swap_needed and route == "pool":
            cost = await self._pool_swap(excess, fair, now_ns)
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
            # pool until `_settle_mint` knows (stored as opened, or recorded as failed).
            self.unconfirmed_mint = UnconfirmedMint(exc.tx_hash, exc.nonce, choice, cost)
            log.warning("%s/%s mint unconfirmed, settling it first: %s", self.strategy, self.pool_name, exc)
            self.store.record_action(
                self.strategy, self.pool_name, now_ns, "mint_unconfirmed", str(exc), False, {}
            )
            return
        self._record_open(minted, choice, fair, now_ns, cost)
        if swap_needed and route == "cex":  # the position is stored first: the leg may fail
            assert self.position is not None
            self.position.swap_cost_token1 = await self._cex_swap(excess, fair, now_ns)

    async def _settle_mint(self, fair: float, now_ns: int) -> bool:
        """Resolve an unconfirmed mint; False while its transaction is still pending."""
        pending = self.unconfirmed_mint
        assert pending is not None
        settle = getattr(self.pool, "settle_mint", None)
        reason = "dropped: the node no longer has it"
        minted = None
        try:
            if settle is not None:
                minted = await settle(pending.tx_hash, pending.nonce)
        except TxStillPending:
            return False
        except TxRevertedOnChain as exc:
            reason = f"reverted on chain: {exc.reason}"
        self.unconfirmed_mint = None
        if minted is not None:
            log.warning("%s/%s unconfirmed mint %s was mined", self.strategy, self.pool_name, pending.tx_hash)
            self._record_open(minted, pending.choice, fair, now_ns, pending.swap_cost_token1)
            return True
        log.warning("%s/%s mint %s failed: %s", self.strategy, self.pool_name, pending.tx_hash, reason)
        self.store.record_action(self.strategy, self.pool_name, now_ns, "mint_failed", reason, False, {})
        return True

    def _record_open(
        self, minted: LiquidityChange, choice: RangeChoice, fair: float, now_ns: int, cost: float
    ) -> None:
        p = self.params
        self._gas("mint", minted.gas_cost_wei, fair, now_ns)
        value = minted.amount0 / 10.0**self.d0 * fair + minted.amount1 / 10.0**self.d1
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
        sigma = self.vol.sigma_annual(p.initial_sigma)
        meter = LvrMeter(
            human_liquidity(minted.liquidity, self.d0, self.d1),
            choice.price_lower,
            choice.price_upper,
            fair,
            now_ns,
        )
        self.position = LivePosition(
            minted.token_id, row_id, choice, minted.liquidity, value, sigma, now_ns, meter, cost
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
        self._gas("collect", collected.gas_cost_wei, fair, now_ns)
        f0, f1 = collected.amount0 - released[0], collected.amount1 - released[1]
        value = f0 / 10.0**self.d0 * fair + f1 / 10.0**self.d1
        self.totals.fees_token1 += value
        self.store.record_fees(self.strategy, self.pool_name, pos.token_id, now_ns, f0, f1, value)
        return f0, f1

    async def close(self, fair: float, now_ns: int, reason: str) -> None:
        """Decrease, collect, burn. Resumable: after a step failed (a transaction not sent or not
        mined) the next close goes on from what the chain holds, never repeating a done step."""
        pos = self.position
        assert pos is not None
        if pos.released is None:
            on_chain = (await self.pool.position(pos.token_id)).liquidity
            released = await self.pool.decrease_liquidity(pos.token_id, on_chain, 0, 0)
            self._gas("decrease_liquidity", released.gas_cost_wei, fair, now_ns)
            pos.released = (released.amount0, released.amount1)
        if not pos.collected:
            await self._collect_fees(pos, fair, now_ns, pos.released)
            pos.collected = True
        self._gas("burn", await self.pool.burn(pos.token_id), fair, now_ns)
        out0, out1 = pos.released
        self.store.close_position(pos.row_id, now_ns, out0, out1, reason)
        self._mark(pos, now_ns, 0.0)
        self.totals.lvr_token1 += pos.lvr.realized_token1
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
        self._gas("increase_liquidity", added.gas_cost_wei, fair, now_ns)
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
        sigma = self.vol.sigma_annual(self.params.initial_sigma)
        self.position = LivePosition(
            row.token_id, row.id, choice, info.liquidity, row.value_in_token1, sigma, row.opened_ns, meter,
            0.0 if mark is None else mark.swap_cost_token1,
        )  # fmt: skip
        log.info("%s/%s adopted position #%d", self.strategy, self.pool_name, row.token_id)
