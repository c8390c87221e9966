"""Constructed `PoolView`s for the pure rule tests: a pool like the benchmark's (0.05 % fee, 5M
USDC of full-range background liquidity, ~16.6 token1 of fees per unit of L a year) and 30,000
token1 of capital; `held` adds a live position of half-width 2 % centred on 3,000."""

from __future__ import annotations

import math
from typing import Any

from amm.attribution import SECONDS_PER_YEAR
from strategies.lp.carry import liquidity_per_token1
from strategies.lp.rules import PoolView

NOW_NS = 10**13
PRICE = 3000.0
CAPITAL = 30_000.0
OTHERS_L = 5_000_000.0 / (2 * math.sqrt(PRICE))  # the background's full-range L (45,644)
FEE_RATE = 16.6 / SECONDS_PER_YEAR  # token1 per L per second at the background's L
HELD_W = 0.02


def flat(**kw: Any) -> PoolView:
    base: dict[str, Any] = dict(
        now_ns=NOW_NS, price=PRICE, sigma_annual=0.6, fee_rate=FEE_RATE, capital_token1=CAPITAL,
        gas_open_token1=7.0, gas_close_token1=5.0, gas_compound_token1=4.0, swap_cost_token1=10.0,
        pool_liquidity=OTHERS_L,
    )  # fmt: skip
    base.update(kw)
    return PoolView(**base)


def held(w: float = HELD_W, fee_rate: float = FEE_RATE, **kw: Any) -> PoolView:
    """A position of half-width `w` around 3,000; the pool's active L includes it while in range.
    `fee_rate` is per unit of the others' L, as in `flat`: the same fee flow, spread over our L too."""
    liquidity = CAPITAL * liquidity_per_token1(PRICE, w)
    lower, upper = PRICE * math.exp(-w), PRICE * math.exp(w)
    price = kw.get("price", PRICE)
    active = OTHERS_L + (liquidity if lower < price < upper else 0.0)
    base: dict[str, Any] = dict(
        liquidity=liquidity, price_lower=lower, price_upper=upper, value_token1=CAPITAL,
        sigma_at_open=0.6, half_width=w, last_action_ns=0, pool_liquidity=active,
        fee_rate=fee_rate * OTHERS_L / active,
    )  # fmt: skip
    base.update(kw)
    return flat(**base)
