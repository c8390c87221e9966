"""A pool's first start (no stored estimates to resume): its estimates seeded from history the
venues serve, the fair market's candles (`PriceHistorySource`) and the pool's swaps
(`SwapHistorySource`), so the entry gate does not wait hours for σ̂ and the fee rate.

Best effort, never fatal: a venue that serves no candles leaves σ̂ to be measured live (the
swaps still seed σ̂ₚ and the fee rate); a pool that serves no swaps leaves σ̂ seeded and the fee
rate measured live. Each is logged with the reason (an unexpected fault in a read with its
traceback). Bounded in time: a slow RPC or exchange delays the first round by at most
`HISTORY_TIMEOUT_S` a read.
"""

from __future__ import annotations

import asyncio
import logging

from amm.ports import SwapHistory, SwapHistorySource
from bot.core.clock import NS_PER_S
from bot.core.history import HistoryUnavailable, PriceHistory
from connectors.base import PriceHistorySource
from strategies.lp.pool import PoolLpManager
from strategies.lp.seeding import Seeded

log = logging.getLogger("mmbot.lp")
HISTORY_TIMEOUT_S = 60.0  # each of the two reads


async def seed_from_history(manager: PoolLpManager, venue: object, symbol: str) -> Seeded | None:
    """Seed `manager`'s estimates from `venue`'s candles of `symbol` and its pool's swaps over
    the last `history_s`; None when there was nothing to seed from (logged)."""
    params, where = manager.params, f"{manager.strategy}/{manager.pool_name}"
    if params.history_s <= 0:
        return None
    since_ns = manager.clock.now_ns() - int(params.history_s * NS_PER_S)
    interval_s = params.history_interval_s
    fair = await _candles(venue, symbol, since_ns, interval_s, where)
    if fair is not None and len(fair) < 2:
        log.info("%s: %d candles of %s: too few for σ̂, measured live", where, len(fair), symbol)
        fair = None
    swaps = await _swaps(manager, since_ns, where)
    if swaps is not None and swaps.end_ns - swaps.start_ns < 2 * interval_s * NS_PER_S:
        log.info("%s: the pool's history spans under two intervals: its fee rate is measured live", where)
        swaps = None
    if fair is None and swaps is None:
        return None
    return manager.seed_estimates(fair, swaps)


async def _candles(
    venue: object, symbol: str, since_ns: int, interval_s: int, where: str
) -> PriceHistory | None:
    if not isinstance(venue, PriceHistorySource):
        log.info("%s: the fair venue serves no candles: σ̂ is measured live", where)
        return None
    try:
        return await asyncio.wait_for(venue.price_history(symbol, since_ns, interval_s), HISTORY_TIMEOUT_S)
    except (HistoryUnavailable, TimeoutError) as exc:
        log.warning("%s: no candles of %s (%s): σ̂ is measured live", where, symbol, _why(exc))
    except Exception:  # a fault in an optional read must not stop the pool's start
        log.exception("%s: reading the candles of %s failed: σ̂ is measured live", where, symbol)
    return None


async def _swaps(manager: PoolLpManager, since_ns: int, where: str) -> SwapHistory | None:
    pool = manager.pool
    if not isinstance(pool, SwapHistorySource):
        log.info("%s: the pool serves no swap history: its fee rate is measured live", where)
        return None
    try:
        return await asyncio.wait_for(pool.swap_history(since_ns), HISTORY_TIMEOUT_S)
    except (HistoryUnavailable, TimeoutError) as exc:
        log.warning("%s: no swap history (%s): its fee rate is measured live", where, _why(exc))
    except Exception:  # a fault in an optional read must not stop the pool's start
        log.exception("%s: reading the swap history failed: its fee rate is measured live", where)
    return None


def _why(exc: Exception) -> str:
    return str(exc) or f"no answer within {HISTORY_TIMEOUT_S:g} s"
