"""Per-position books of the LP manager, kept as things happen (the benchmark reads the same ones).

Each position's account holds what the chain moved for it, exactly (fees in raw token units, gas
in wei) and valued in token1 when it happened, plus its swap cost, its realised LVR (the markout
of the pool's trades against the CEX fair, `amm.attribution.LvrMeter`) and its share of the CEX
hedge's cost (trading and funding/borrow carry, `HedgeCosts`). Ownership follows `mmbot status`
(`bot.reports.lp_status`): a position owns the swap and mint that opened it (and their token
approvals), everything while it is open, and the decrease / collect / burn that closed it; what is
spent while flat and no open follows (a reverted transaction, a mint that never happened) is in
the pool's totals only. On a chain pool every figure arrives through the lifecycle's `apply`, as
each journaled transaction is booked from its receipt.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from amm.attribution import PnlAttribution


@dataclass(slots=True)
class PositionAccount:
    """One position's books (row_id 0: the costs of an opening before its mint is known)."""

    token_id: int = 0
    row_id: int = 0
    fees0_raw: int = 0
    fees1_raw: int = 0
    fees_token1: float = 0.0
    gas_wei: int = 0
    gas_token1: float = 0.0
    swap_cost_token1: float = 0.0
    lvr_token1: float = 0.0  # realised; an open position's follows its meter every round
    pending_fees_token1: float = 0.0  # uncollected, at the last round
    open: bool = True

    def absorb(self, opening: PositionAccount) -> None:
        """Take over what was spent opening this position before it existed."""
        self.gas_wei += opening.gas_wei
        self.gas_token1 += opening.gas_token1
        self.swap_cost_token1 += opening.swap_cost_token1

    def attribution(self, hedge_cost_token1: float = 0.0) -> PnlAttribution:
        """fees (collected + pending) − LVR − gas − swap − hedge; price exposure is not kept here."""
        return PnlAttribution(
            fees_token1=self.fees_token1 + self.pending_fees_token1,
            lvr_token1=self.lvr_token1,
            gas_token1=self.gas_token1,
            hedge_cost_token1=hedge_cost_token1,
            swap_cost_token1=self.swap_cost_token1,
            price_exposure_token1=math.nan,
            il_token1=math.nan,
            hodl_value_token1=math.nan,
        )


@dataclass(slots=True)
class HedgeCosts:
    """The hedge's costs shared out over the LP positions it hedged: each fill's cost and each carry
    payment equally to the positions open then (as `mmbot status` shares the stored trades; exact
    when one position is hedged). Costs while no position is open are `unowned_quote`."""

    by_row_id: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    carry_by_row_id: dict[int, float] = field(default_factory=lambda: defaultdict(float))  # within by_row_id
    unowned_quote: float = 0.0

    def share(self, cost_quote: float, open_row_ids: list[int], carry: bool = False) -> None:
        """`carry`: a funding / borrow payment (also kept apart: the store keeps it per position)."""
        if not open_row_ids:
            self.unowned_quote += cost_quote
            return
        for row_id in open_row_ids:
            self.by_row_id[row_id] += cost_quote / len(open_row_ids)
            if carry:
                self.carry_by_row_id[row_id] += cost_quote / len(open_row_ids)
