"""A first start measured from history: the fair market's recent candle closes and the pool's
recent swaps replayed through a `PoolMeter`, as if the bot had watched them round by round (or
the swaps alone, where the fair market serves no candles).

Without it a first start (no stored estimates to resume) measures σ̂ and the fee rate for hours
before its entry gate trusts them. The closes are the rounds: each feeds σ̂ (`observe_price`);
the pool's price after the last swap before it feeds σ̂ₚ and the band-trading meter; the fees the
swaps paid between two closes, valued at the later close, are one interval of the fee flow. The
fee flow is the swaps' fees themselves: all of a swap's fee goes to the liquidity in range, which
is what the live meter reads from fee growth × active liquidity. Each interval's fees and the
close's return across it also feed the entry gate's error (`PoolMeter.carry_batches`), as the
live rounds do (a bounce left in those returns only widens that error: it is independent of the
fees). Closes are trades, so they carry
bid-ask bounce the live rounds' mids do not: it is measured (`strategies.lp.bounce`) and taken out
of σ̂, and closes that are mostly bounce (over `MAX_BOUNCE_SHARE` of their squared returns) do not
seed σ̂ at all. Pure bookkeeping, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from amm.ports import SwapHistory
from bot.core.clock import NS_PER_S
from bot.core.history import PriceHistory
from strategies.lp.bounce import NO_BOUNCE, Bounce, bounce_of, noise_var_per_s
from strategies.lp.measure import PoolMeter

MAX_BOUNCE_SHARE = 0.75  # beyond it σ̂'s error from the closes grows 4× or more: measured live


@dataclass(frozen=True, slots=True)
class Seeded:
    """What a replay fed the meter (logged at start)."""

    closes: int  # fair-price samples (σ̂)
    pool_prices: int  # pool-price samples (σ̂ₚ, band trading)
    fee_intervals: int  # intervals of the fee flow
    fee_span_s: float  # the time they cover
    bounce: Bounce = NO_BOUNCE  # bid-ask bounce found in the closes

    @property
    def sigma_from_closes(self) -> bool:
        return self.closes > 0 and closes_seed_sigma(self.bounce)


def closes_seed_sigma(bounce: Bounce) -> bool:
    """Whether closes with this bounce seed σ̂ (else it is measured live)."""
    return bounce.share <= MAX_BOUNCE_SHARE


def seed_meter(
    meter: PoolMeter, fair: PriceHistory | None, swaps: SwapHistory | None, interval_s: int = 60
) -> Seeded:
    """Replay `fair`'s closes (and `swaps` between them, when the pool's history is known) into
    `meter`. Without closes the swaps alone, on a grid `interval_s` apart over their span, their
    fees valued at the pool's own price (σ̂ is then measured live). Fee intervals only where the
    swap history covers the whole interval: a close outside its span says nothing of the fees."""
    bounce = NO_BOUNCE
    if fair is not None:
        grid: Iterable[tuple[int, float]] = zip(fair.ts_ns, fair.price, strict=True)
        bounce = bounce_of(fair.price)
    elif swaps is not None:
        step = interval_s * NS_PER_S
        grid = ((ts, math.nan) for ts in range(swaps.start_ns + step, swaps.end_ns + 1, step))
    else:
        return Seeded(0, 0, 0, 0.0)
    feed_sigma = closes_seed_sigma(bounce)
    pool_price, row, last_ns, last_close = math.nan, 0, None, math.nan
    pool_samples = intervals = 0
    span_s = 0.0
    for ts_ns, price in grid:
        if feed_sigma and math.isfinite(price):
            meter.observe_price(price, ts_ns, live=False)
        if swaps is None or not swaps.start_ns <= ts_ns <= swaps.end_ns:
            continue
        fees_token1 = 0.0
        while row < len(swaps) and swaps.ts_ns[row] <= ts_ns:
            pool_price = swaps.price[row]
            fees_token1 += swaps.fee_token0[row] * (price if math.isfinite(price) else pool_price)
            fees_token1 += swaps.fee_token1[row]
            row += 1
        if math.isfinite(pool_price):
            meter.observe_pool_price(pool_price, ts_ns)
            pool_samples += 1
        if last_ns is not None:
            dt_s = (ts_ns - last_ns) / 1e9
            flow = fees_token1 / dt_s
            meter.add_fee_sample(flow, dt_s)
            intervals, span_s = intervals + 1, span_s + dt_s
            if feed_sigma and price > 0.0 and last_close > 0.0:
                meter.carry_batches.add(flow, math.log(price / last_close), dt_s)
        last_ns, last_close = ts_ns, price
    if fair is not None and feed_sigma and bounce.found:
        meter.remove_price_noise(noise_var_per_s(bounce, fair.ts_ns), MAX_BOUNCE_SHARE)
    return Seeded(0 if fair is None else len(fair), pool_samples, intervals, span_s, bounce)
