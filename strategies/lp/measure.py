"""What the rules see of one pool: σ̂, the fee rate and the pool's active liquidity, gas per action,
the swaps a reopening and a recentre need, the live position's value, fees and LVR, the pool's own
price and oracle TWAP, and since when the expected carry is below the exit threshold (`PoolView`)."""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

from amm.attribution import exact_position_amounts, human_liquidity
from amm.chain.pool_reader import PoolReadError
from amm.math.conversions import sqrt_price_x96_to_price, tick_to_price
from amm.math.full_math import Q128, Q256
from amm.ports import AmmPool, DeclaresGasUnits, GasUnitsTable, PoolOracle, PoolState
from strategies.lp.band_trading import BandTradingMeter
from strategies.lp.carry_error import CarryBatches
from strategies.lp.estimates import (
    FeeFlowState,
    MeterEstimates,
    band_state,
    carry_moments_state,
    ewma_state,
    resume_band,
    resume_carry_moments,
    resume_ewma,
)
from strategies.lp.excess import Excess
from strategies.lp.ledger import PoolLedger
from strategies.lp.params import LpManagerParams
from strategies.lp.position import LivePosition
from strategies.lp.regime import VolatilitySwitch
from strategies.lp.rules import PoolView, carry_below_exit
from strategies.lp.swaps import ExcessSwaps
from strategies.lp.volatility import EwmaVolatility, effective_count, ewma_decay, ewma_step, ewma_weight

log = logging.getLogger("mmbot.lp")
# The pool price's σ for the hedge cost is taken over returns this long: a ±1 % range's delta
# leaves a ±0.25 ETH band after a few bp, which the fair price crosses in about two minutes.
POOL_SIGMA_LAG_S = 60.0


@dataclass(frozen=True, slots=True)
class PlannedGasUnits:
    """What a pool that does not declare its gas units (a chain pool) is planned at, per operation."""

    mint: int = 150_000
    increase_liquidity: int = 150_000
    decrease_liquidity: int = 150_000
    collect: int = 150_000
    burn: int = 150_000


@dataclass(frozen=True, slots=True)
class GasCosts:
    open_token1: float
    close_token1: float  # decrease + collect + burn
    compound_token1: float  # collect + increase


@dataclass(frozen=True, slots=True)
class PositionFigures:
    """The live position at the pool's price: token amounts (human) and uncollected fees."""

    amount0: float = 0.0
    amount1: float = 0.0
    pending_fees_token1: float = 0.0


class PoolMeter:
    """Measures one pool for the rules; keeps the estimators (σ̂, fee rate) between rounds."""

    def __init__(
        self, pool: AmmPool, params: LpManagerParams, ledger: PoolLedger, swaps: ExcessSwaps
    ) -> None:
        self.pool, self.params, self.ledger, self.swaps = pool, params, ledger, swaps
        self.d0, self.d1 = ledger.d0, ledger.d1
        hl, prior, prior_s = params.vol_half_life_s, params.initial_sigma, params.initial_sigma_weight_s
        self.vol = EwmaVolatility.from_sigma(hl, prior, prior_s)
        # The pool's own price, whose moves the position's delta (so the hedge) follows: within its
        # fee band a pool waits for the arbitrageur, so it moves less than the fair price (a third
        # as much at 0.3 %), and noise swaps jitter it. Sampled at the hedge's scale (minutes).
        self.pool_vol = EwmaVolatility.from_sigma(hl, prior, prior_s, POOL_SIGMA_LAG_S)
        # σ̂ over the fee rate's window, from returns alone (no prior): the fee rate the carry reads
        # is that window's, and in a volatile pool most of it is the arbitrageurs', which scale
        # with that window's σ², not with the last half hour's.
        self.fee_window_vol = EwmaVolatility.from_sigma(params.fee_half_life_s, prior, 0.0)
        # How a band hedger trades on the pool's own path against the diffusion model at the same
        # variance: the pool's way of moving (pushes, jitter) changes slowly, so the fee window.
        self.band_trading = BandTradingMeter(params.fee_half_life_s)
        self.switch = VolatilitySwitch.of(params.vol_switch_half_life_s, params.vol_switch_ratio)
        self.switches = 0  # volatility regime switches seen since start (/metrics)
        self.rules = params.rules()
        self.fee_flow_token1_per_s = 0.0  # fees the pool pays its in-range liquidity
        self._fee_mark: tuple[int, int, int, float] | None = None  # fee growth 0, 1, when, fair then
        self.carry_batches = CarryBatches.of(params.fee_half_life_s)  # the carry's error
        self._fee_weight = 0.0  # the EWMA's total weight (1 once long past a half-life)
        self._fee_moments = (0.0, 0.0)  # the same EWMA of the samples' squares, and its Σw²
        self._below_exit_since_ns: int | None = None
        self.oracle = pool if isinstance(pool, PoolOracle) else None  # chain pools have one, sim pools not
        self.twap_state = "not read yet"  # "checked", or "skipped: why" (the last view's)
        self.gas_units: GasUnitsTable = (
            pool.gas_units if isinstance(pool, DeclaresGasUnits) else PlannedGasUnits()
        )
        self.deployable = (0.0, 0.0)  # human token0 / token1 a reopening would deploy (last view)

    def observe_price(self, fair: float, now_ns: int, live: bool = True) -> None:
        """One fair-price sample for σ̂ (once per round, before the view). Not `live` (a history
        replayed at a first start): the regime switch does not vote. It is there for what the
        long σ̂ is slow to see between rounds; a replay hands the long σ̂ hours of closes at once,
        and on one-minute closes the short σ̂ votes on half the returns of 30 s rounds: false
        switches every few hours, each restarting σ̂ from a few minutes of returns (σ̂'s error
        from 6 h of closes 0.11 instead of 0.08). A switch late in the history is seen at the first
        live round, the short σ̂ having watched the closes."""
        self.vol.update(fair, now_ns)
        self.fee_window_vol.update(fair, now_ns)
        variance_ratio = self.switch.update(fair, now_ns, self.vol)
        if live and variance_ratio is not None:
            self._restart_estimates(variance_ratio)
            self.switches += 1

    def remove_price_noise(self, noise_var_per_s: float, max_share: float) -> None:
        """The fair-price σ̂s were fed closes that carry bid-ask bounce (a seeding's; the live
        rounds read mids): take it out of each (`EwmaVolatility.remove_noise`)."""
        for ewma in (self.vol, self.fee_window_vol, self.switch.short):
            ewma.remove_noise(noise_var_per_s, max_share)

    def observe_pool_price(self, pool_price: float, now_ns: int) -> None:
        """One sample of the pool's own price: its σ̂ₚ and the band-trading meter (once per round)."""
        self.pool_vol.update(pool_price, now_ns)
        self.band_trading.update(pool_price, now_ns)

    def _restart_estimates(self, variance_ratio: float) -> None:
        """A volatility regime switch (`strategies.lp.regime`): σ̂ restarts from the short σ̂, the
        pool's σ̂ scaled alike; the fee window (the fee flow and its σ̂, which the carry reads
        together) keeps its figures as a prior worth one sample over the short σ̂'s span, which
        the new regime's samples outweigh in minutes instead of hours; the carry's error starts again
        (the arbitrageurs' share of the fees changes with σ)."""
        short, span_s = self.switch.short, self.switch.span_s
        samples = short.effective_samples()
        log.info(
            "%s/%s: volatility regime switch: short σ̂ %.2f against σ̂ %.2f; estimates restart",
            self.ledger.strategy, self.ledger.pool_name, short.sigma_annual(math.nan), self.sigma_annual(),
        )  # fmt: skip
        self.vol.restart(short.var_per_s, samples, span_s)
        self.pool_vol.restart(self.pool_vol.var_per_s * variance_ratio, samples, span_s)
        self.fee_window_vol.restart(self.fee_window_vol.var_per_s, 1.0, span_s)
        self.carry_batches = CarryBatches.of(self.params.fee_half_life_s)
        weight = ewma_weight(span_s, self.params.fee_half_life_s)
        flow = self.fee_flow_token1_per_s
        self._fee_weight, self._fee_moments = weight, (flow * flow, weight * weight)

    def sigma_rel_error(self) -> float:
        """σ̂'s standard error over σ̂ (its EWMA's effective sample count, the prior one of them)."""
        return self.vol.rel_error()

    def sigma_annual(self) -> float:
        """σ̂ now (the configured `initial_sigma` until a first return was seen)."""
        return self.vol.sigma_annual(self.params.initial_sigma)

    def _update_fee_flow(self, state: PoolState, active_l: float, now_ns: int, fair: float) -> None:
        """The fees the pool pays its in-range liquidity, token1 per second: the global fee growth
        per unit of L times the active L (read now: our own actions come right after a reading, so
        it is the L the interval's swaps met). A flow rather than a rate per L, so it does not
        jump when our own liquidity enters or leaves.

        A bias-corrected EWMA: until a half-life has passed it is the time average of what was
        seen, so the first short interval (often without a swap) does not stand in for the rate.
        Each interval also pairs its flow with the fair's return across it (`carry_batches`).
        """
        fg0, fg1 = state.fee_growth_global0_x128, state.fee_growth_global1_x128
        if self._fee_mark is not None and now_ns > self._fee_mark[2]:
            dt_s = (now_ns - self._fee_mark[2]) / 1e9
            scale = 10.0 ** ((self.d0 + self.d1) / 2)
            d0 = (fg0 - self._fee_mark[0]) % Q256 / Q128 * scale / 10.0**self.d0
            d1 = (fg1 - self._fee_mark[1]) % Q256 / Q128 * scale / 10.0**self.d1
            flow = (d0 * fair + d1) / dt_s * active_l
            self.add_fee_sample(flow, dt_s)
            mark_fair = self._fee_mark[3]
            if mark_fair > 0.0 and fair > 0.0:
                self.carry_batches.add(flow, math.log(fair / mark_fair), dt_s)
        self._fee_mark = (fg0, fg1, now_ns, fair)

    def add_fee_sample(self, flow_token1_per_s: float, dt_s: float) -> None:
        """One interval's fee flow into the EWMA (`_update_fee_flow`'s, or a swap history's)."""
        square, w2 = self._fee_moments
        step = ewma_step(self._fee_weight, w2, dt_s, self.params.fee_half_life_s)
        self._fee_weight = step.weight
        flow, sample = self.fee_flow_token1_per_s, flow_token1_per_s
        self.fee_flow_token1_per_s = (flow * step.kept + step.fresh * sample) / step.weight
        square = (square * step.kept + step.fresh * sample * sample) / step.weight
        self._fee_moments = (square, step.weight_sq)

    def fee_rel_error(self) -> float:
        """The fee flow's standard error over the flow (1 when unknown): the samples' weighted
        variance (unbiased for n = (Σw)²/Σw² effective samples) over n. Swaps arrive in lumps,
        so a rate from a few of them is far less sure than σ̂ from as many returns."""
        (square, w2), flow, weight = self._fee_moments, self.fee_flow_token1_per_s, self._fee_weight
        n = effective_count(weight, w2)
        if n <= 1.0 or flow <= 0.0:
            return 1.0
        variance = max(square - flow * flow, 0.0) * n / (n - 1.0)
        return min(math.sqrt(variance / n) / flow, 1.0)

    def estimates(self, now_ns: int) -> MeterEstimates:
        """The estimates as of `now_ns` (what a restart resumes)."""
        square, w2 = self._fee_moments
        fee = FeeFlowState(
            flow_token1_per_s=self.fee_flow_token1_per_s, weight=self._fee_weight, square=square, weight_sq=w2
        )
        return MeterEstimates(
            ts_ns=now_ns, vol=ewma_state(self.vol), pool_vol=ewma_state(self.pool_vol),
            fee_window_vol=ewma_state(self.fee_window_vol), band=band_state(self.band_trading), fee=fee,
            switch_vol=ewma_state(self.switch.short),
            carry_moments=carry_moments_state(self.carry_batches.moments),
        )  # fmt: skip

    def resume(self, e: MeterEstimates, now_ns: int) -> None:
        """Take over stored estimates, aged by the time since they were taken (`strategies.lp.estimates`)."""
        gap_s = (now_ns - e.ts_ns) / 1e9
        for mine, stored in (
            (self.vol, e.vol),
            (self.pool_vol, e.pool_vol),
            (self.fee_window_vol, e.fee_window_vol),
        ):
            resume_ewma(mine, stored, gap_s)
        if e.switch_vol is not None:
            resume_ewma(self.switch.short, e.switch_vol, gap_s)
        resume_band(self.band_trading, e.band, gap_s)
        if e.carry_moments is not None:
            resume_carry_moments(self.carry_batches.moments, e.carry_moments, gap_s)
        d = ewma_decay(gap_s, self.params.fee_half_life_s)
        self.fee_flow_token1_per_s, self._fee_weight = e.fee.flow_token1_per_s, e.fee.weight * d
        self._fee_moments, self._fee_mark = (e.fee.square, e.fee.weight_sq * d * d), None

    def _negative_carry_since(self, view: PoolView) -> int | None:
        """Since when a held position's best carry has been below the exit threshold."""
        if view.liquidity is None or not carry_below_exit(view, self.rules):
            self._below_exit_since_ns = None
        elif self._below_exit_since_ns is None:
            self._below_exit_since_ns = view.now_ns
        return self._below_exit_since_ns

    async def _gas_costs(self, fair: float) -> GasCosts:
        gas_price = await self.pool.gas_price_wei()
        u = self.gas_units

        def cost(units: int) -> float:
            return self.ledger.gas_token1(units * gas_price, fair)

        collect = cost(u.collect)
        return GasCosts(
            open_token1=cost(u.mint),
            close_token1=cost(u.decrease_liquidity) + collect + cost(u.burn),
            compound_token1=collect + cost(u.increase_liquidity),
        )

    async def _twap_price(self) -> float:
        """The pool oracle's TWAP over `twap_window_s`, NaN when off, absent or too short; read every
        round, and `twap_state` says which (every decision record carries it)."""
        window = self.params.twap_window_s
        if window <= 0:
            return self._twap_state("skipped: off (twap_window_s = 0)", logging.INFO)
        if self.oracle is None:
            return self._twap_state("skipped: the pool keeps no price oracle", logging.INFO)
        try:
            tick = await self.oracle.twap_tick(window)
        except PoolReadError as exc:
            short = f"skipped: oracle history shorter than {window} s ({exc})"
            return self._twap_state(short, logging.WARNING)
        self._twap_state("checked", logging.INFO)
        return tick_to_price(tick, self.d0, self.d1)

    def _twap_state(self, state: str, level: int) -> float:
        if state != self.twap_state:  # logged when it changes, not every round
            log.log(level, "%s/%s: TWAP guard %s", self.ledger.strategy, self.ledger.pool_name, state)
        self.twap_state = state
        return math.nan

    async def _position_figures(
        self, pos: LivePosition, state: PoolState, fair: float, now_ns: int, sigma: float
    ) -> PositionFigures:
        """Also advances the position's LVR meter."""
        p0, p1 = exact_position_amounts(
            state.sqrt_price_x96,
            pos.choice.tick_lower,
            pos.choice.tick_upper,
            pos.liquidity_raw,
            self.d0,
            self.d1,
        )
        f0, f1 = await self.pool.pending_fees(pos.token_id)
        pending = self.ledger.value_token1(f0, f1, fair)
        pos.lvr.observe(fair, now_ns, sigma)
        pos.account.lvr_token1 = pos.lvr.realized_token1
        pos.account.pending_fees_token1 = pending
        return PositionFigures(p0, p1, pending)

    async def _reopen_swap_cost(
        self, total0: float, total1: float, capital: float, w: float, fair: float
    ) -> float:
        """The swap a reopening needs, on the capital it would deploy (not the whole wallet)."""
        scale = capital / (total0 * fair + total1) if total0 * fair + total1 > 0 else 0.0
        self.deployable = (total0 * scale, total1 * scale)
        excess = Excess.for_range(*self.deployable, fair, fair * math.exp(-w), fair * math.exp(w))
        return (await self.swaps.route_costs(excess, fair)).cost(self.params.excess_swap_venue)

    async def _recentre_swap_cost(self, capital: float, fair: float, pool_price: float) -> float:
        """What a recentre from the edge of a range swaps: half the capital (the position is all
        one token there), by the configured route (the CEX leg where that is cheaper).

        In the pool that swap buys back what the arbitrageurs took, in their direction, from a
        pool they left lagging the fair price by its fee (they stop at fair·(1 ± fee)): the lag
        pays the swap's fee back, and it costs about its price impact (8 token1 for 15,000 in the
        benchmark's 0.3 % pool, where the quote now says 50). So the pool's quote is taken at
        that lag rather than at the pool's price now: its output scaled by fair·(1 + fee)/price."""
        half = capital / 2.0
        # (a price fall left the position all token0: half of it is sold)
        excess = Excess(True, half / fair, half) if fair > 0 else Excess(True, 0.0, 0.0)
        at_lag = fair * (1.0 + self.pool.fee_pips / 1e6) / pool_price if pool_price > 0.0 else 1.0
        costs = await self.swaps.route_costs(excess, fair, pool_out_scale=at_lag)
        return costs.cost(self.params.excess_swap_venue)

    async def view(
        self, fair: float, now_ns: int, pos: LivePosition | None, last_action_ns: int | None
    ) -> PoolView:
        state = await self.pool.read_state()
        pool_price = sqrt_price_x96_to_price(state.sqrt_price_x96, self.d0, self.d1)
        self.observe_pool_price(pool_price, now_ns)
        active_l = human_liquidity(state.liquidity, self.d0, self.d1)
        self._update_fee_flow(state, active_l, now_ns, fair)
        sigma, window = self.sigma_annual(), self.fee_window_vol
        pool_sigma = self.pool_vol.sigma_annual(self.params.initial_sigma)
        gas = await self._gas_costs(fair)
        w0, w1 = await self.swaps.holdings_human()
        held = (
            PositionFigures()
            if pos is None
            else await self._position_figures(pos, state, fair, now_ns, sigma)
        )
        total0, total1 = w0 + held.amount0, w1 + held.amount1
        capital = total0 * fair + total1
        if self.params.capital_token1 is not None:
            capital = min(capital, self.params.capital_token1)
        w = self.params.min_half_width if pos is None else pos.choice.half_width
        swap_cost = await self._reopen_swap_cost(total0, total1, capital, w, fair)
        view = PoolView(
            now_ns=now_ns,
            price=fair,
            sigma_annual=sigma,
            fee_rate=self.fee_flow_token1_per_s / active_l if active_l > 0 else 0.0,
            capital_token1=capital,
            gas_open_token1=gas.open_token1,
            gas_close_token1=gas.close_token1,
            gas_compound_token1=gas.compound_token1,
            swap_cost_token1=swap_cost,
            last_action_ns=last_action_ns,
            liquidity=None if pos is None else human_liquidity(pos.liquidity_raw, self.d0, self.d1),
            price_lower=0.0 if pos is None else pos.choice.price_lower,
            price_upper=0.0 if pos is None else pos.choice.price_upper,
            value_token1=held.amount0 * fair + held.amount1,
            sigma_at_open=0.0 if pos is None else pos.sigma_at_open,
            half_width=0.0 if pos is None else pos.choice.half_width,
            lvr_since_open_token1=0.0 if pos is None else pos.lvr.expected_token1,
            pending_fees_token1=held.pending_fees_token1,
            pool_price=pool_price,
            pool_sigma_annual=pool_sigma,
            fee_window_sigma_annual=window.sigma_annual(math.nan) if window.samples else math.nan,
            fee_window_sigma_rel_error=window.rel_error(),
            pool_band_ratios=self.band_trading.ratios(pool_sigma),
            pool_twap_price=await self._twap_price(),
            pool_liquidity=active_l,
            recentre_swap_cost_token1=await self._recentre_swap_cost(capital, fair, pool_price),
            sigma_rel_error=self.sigma_rel_error(),
            fee_rel_error=self.fee_rel_error(),
            carry_error_per_l=self.carry_batches.carry_error_per_l(active_l, fair),
            tick_spacing_log=self.pool.tick_spacing * math.log(1.0001),
        )
        return dataclasses.replace(view, negative_carry_since_ns=self._negative_carry_since(view))
