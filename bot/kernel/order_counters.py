"""What the order manager has done since start, for metrics and the periodic snapshot."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class OrderCounters:
    placed: int = 0
    cancelled: int = 0
    rejected: int = 0
    risk_refused: int = 0
    fills: int = 0
    duplicate_fills: int = 0
    self_trade_held: int = 0  # quote targets held back by the self-trade guard
