"""Hedge obligations: what XEMM owes the taker venue, one per maker fill, signed, settled FIFO.

A maker buy of q base obliges a sell of q on the taker venue (sign +1: we are long until it is
hedged); a maker sell the reverse (sign -1). Open obligations always share one sign: a new one of
the other sign is first netted against the oldest open ones (the two maker fills offset each
other, no hedge is needed for that part). A hedge fill settles the oldest open obligations first,
at its real price, pro rata; what it traded beyond them is returned (an over-hedge, which the
caller books as an obligation of its own so it is hedged back). Nothing here closes an
obligation without a hedge fill or an opposite maker fill, and a part below one taker lot stays
open with its sign until the next fill makes it hedgeable.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(slots=True)
class Obligation:
    id: int
    sign: int  # +1: the maker leg bought (the hedge sells); -1: it sold (the hedge buys)
    size_base: Decimal
    opened_ns: int
    maker_key: str  # "venue:symbol" of the maker fill
    expected_price: float  # the taker price the hedge was expected at (quote units per base)
    maker_price: Decimal = ZERO
    maker_fee: Decimal = ZERO  # quote units
    hedged_base: Decimal = ZERO
    netted_base: Decimal = ZERO
    hedge_notional: Decimal = ZERO  # quote units, Σ price · size of the hedge fills booked to it
    hedge_fees: Decimal = ZERO

    @property
    def realised_edge_quote(self) -> Decimal | None:
        """Both legs and both fees of the hedged part, quote units; None before any hedge fill."""
        if self.hedged_base <= 0:
            return None
        share = self.hedged_base / self.size_base
        edge = self.sign * (self.hedge_notional - self.maker_price * self.hedged_base)
        return edge - (self.maker_fee * share + self.hedge_fees)

    @property
    def open_base(self) -> Decimal:
        return self.size_base - self.hedged_base - self.netted_base

    @property
    def closed(self) -> bool:
        return self.open_base <= 0


class ObligationBook:
    """The open obligations of one strategy, oldest first."""

    def __init__(self) -> None:
        self.open: list[Obligation] = []

    def net_base(self) -> Decimal:
        """Signed base we hold unhedged (+: long, the hedge sells)."""
        return sum((o.sign * o.open_base for o in self.open), ZERO)

    def oldest_ns(self) -> int | None:
        return min((o.opened_ns for o in self.open), default=None)

    def open_base_of(self, maker_key: str) -> Decimal:
        """Signed open base of one maker market's obligations."""
        return sum((o.sign * o.open_base for o in self.open if o.maker_key == maker_key), ZERO)

    def add(self, new: Obligation) -> list[Obligation]:
        """Take a new obligation, netting it against open ones of the other sign; returns every
        obligation changed (the new one included)."""
        changed = [new]
        for old in self.open:
            if old.sign == new.sign or new.open_base <= 0:
                continue
            part = min(old.open_base, new.open_base)
            old.netted_base += part
            new.netted_base += part
            changed.append(old)
        self.open = [o for o in self.open if not o.closed]
        if not new.closed:
            self.open.append(new)
        return changed

    def settle(
        self, exposure_sign: int, base: Decimal, notional: Decimal, fees: Decimal
    ) -> tuple[list[Obligation], Decimal]:
        """Book a hedge fill that reduced exposure of `exposure_sign` (+1: a hedge sell) by `base`
        at `notional` with `fees`, oldest obligation first; returns (changed, base left over)."""
        changed, left = [], base
        for o in self.open:
            if left <= 0:
                break
            if o.sign != exposure_sign:
                continue
            part = min(o.open_base, left)
            o.hedged_base += part
            o.hedge_notional += notional * part / base
            o.hedge_fees += fees * part / base
            left -= part
            changed.append(o)
        self.open = [o for o in self.open if not o.closed]
        return changed, left
