"""Where our resting order stands in its price level's queue, from L2 data alone.

The data shows only each level's total size, so the size ahead of our order (`ahead`) is an
estimate. Both models put a new order last at its level (everything visible is ahead) and move it
up by every trade at its price. They differ on size that leaves the level without trading:

- RISK_AVERSE: only when the level shrinks below `ahead` (those cancels must have been ahead).
- PROBABILISTIC: a decrease is split between ahead and behind in proportion to f(other side),
  f(x) = x**power (hftbacktest's power probability queue model): with a larger `power` cancels
  come from behind more often, so the order advances more slowly.
"""

from __future__ import annotations

from connectors.replay.jit import njit

RISK_AVERSE = 0
PROBABILISTIC = 1
QUEUE_MODELS = {"risk_averse": RISK_AVERSE, "probabilistic": PROBABILISTIC}


@njit
def on_trade(ahead: float, traded_lots: int) -> tuple[float, int]:
    """A trade of `traded_lots` at our price: (new ahead, lots that reach our order)."""
    if traded_lots <= ahead:
        return ahead - traded_lots, 0
    reach = int(traded_lots - ahead)
    return 0.0, reach


@njit
def on_depth(
    model: int, power: float, ahead: float, traded_since: float, prev_lots: int, new_lots: int
) -> float:
    """The level moved from `prev_lots` to `new_lots`; `traded_since` lots of that were trades
    already applied by `on_trade`. Returns the new `ahead` (never above the level's size)."""
    if model == RISK_AVERSE:
        return ahead if ahead <= new_lots else float(new_lots)
    change = prev_lots - new_lots - traded_since
    if change <= 0:
        return ahead if ahead <= new_lots else float(new_lots)
    front = ahead
    back = prev_lots - front
    if back < 0:
        back = 0.0
    fb = back**power
    ff = front**power
    p_back = fb / (fb + ff) if fb + ff > 0 else 0.5
    est = front - (1.0 - p_back) * change
    overflow = back - p_back * change
    if overflow < 0:
        est += overflow
    if est < 0:
        est = 0.0
    return est if est <= new_lots else float(new_lots)
