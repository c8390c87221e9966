"""What the LP manager keeps about one pool: the live position and running totals."""

from __future__ import annotations

from dataclasses import dataclass, field

from amm.attribution import LvrMeter
from strategies.lp.accounts import PositionAccount
from strategies.lp.ranges import RangeChoice


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
    account: PositionAccount = field(default_factory=PositionAccount)  # its books (the ledger's)
    edge_since_ns: int | None = None
    marked_ns: int | None = None
    released: tuple[int, int] | None = None  # a close's progress: amounts the decrease released
    collected: bool = False

    @property
    def swap_cost_token1(self) -> float:
        return self.account.swap_cost_token1


@dataclass(slots=True)
class LpTotals:
    fees_token1: float = 0.0
    gas_token1: float = 0.0
    swap_cost_token1: float = 0.0
    lvr_token1: float = 0.0  # realised, over closed positions
    actions: dict[str, int] = field(default_factory=dict)
    refusals: int = 0
