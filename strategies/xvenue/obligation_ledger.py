"""XEMM's stored ledger of hedge obligations: maker fills in, hedge fills booked, the net left.

The in-memory `ObligationBook` mirrored in the store: each change to an obligation is written as
it happens (`xemm_round_trips`), so a crash, restart or reload starts from what was stored
(`load`). Maker fills come from the fills table after a cursor (`collect`), hedge fills from the
stored fills of our hedge orders (`book_fills`, at their real prices); a hedge that traded more
than was open becomes an obligation of its own (an over-hedge, hedged back like a maker fill).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from bot.core.clock import Clock
from bot.core.domain import Market, Side
from bot.kernel.store import Store
from bot.kernel.store_rows import FillRow
from strategies.xvenue.obligation_store import OPEN_OUTCOMES, HedgeOrderRow, ObligationStore
from strategies.xvenue.obligations import Obligation, ObligationBook
from strategies.xvenue.store import XemmRoundTripRow, XvenueLedger

log = logging.getLogger("mmbot.xemm")


class ObligationLedger:
    def __init__(
        self,
        name: str,
        store: Store,
        clock: Clock,
        makers: list[tuple[str, str]],
        taker: Market,
        taker_price: Callable[[Side, Decimal], float | None],
        on_hedged: Callable[[Obligation, Decimal, int], None],
    ) -> None:
        self.name, self.clock, self.makers, self.taker = name, clock, makers, taker
        self.on_hedged = on_hedged  # an obligation closed by hedge fills: (it, realised edge, now)
        self.taker_price = taker_price  # executable VWAP of the taker book for a side and size
        self.ledger = XvenueLedger(store)
        self.ostore = ObligationStore(store, name)
        self.book = ObligationBook()
        self.hedges: list[HedgeOrderRow] = []  # outcome unknown, or fills not all booked
        self._cursor = 0

    def load(self) -> None:
        """Open obligations and unfinished hedges of a previous run (crash, restart, reload)."""
        self._cursor = self.ostore.fill_cursor(self.clock.now_ns())
        for row in self.ledger.round_trips(self.name, status="pending"):
            self.book.open.append(_obligation(row))
        self.hedges = self.ostore.hedges(unfinished=True)
        if self.book.open or self.hedges:
            log.warning(
                "xemm %s: %d open obligations (net %s %s) and %d unsettled hedges from a previous run",
                self.name, len(self.book.open), self.book.net_base(), self.taker.base, len(self.hedges),
            )  # fmt: skip

    def collect(self) -> list[FillRow]:
        """Oblige every maker fill stored after the cursor; returns the fills newly obliged."""
        rows, newest = self.ostore.maker_fills_after(self._cursor, self.makers), self._cursor
        now = self.clock.now_ns()
        new = []
        for f in rows:
            newest = max(newest, int(f.id or 0))
            side, size = Side(f.side), Decimal(f.size)
            expected = self.taker_price(side.opposite, size)
            row_id = self.ledger.open_round_trip(
                strategy=self.name, maker_venue=f.venue, maker_symbol=f.symbol,
                maker_trade_id=f.venue_trade_id, taker_market=self.taker.key, maker_side=f.side,
                maker_price=f.price, size_base=f.size, maker_fee=f.fee,
                expected_hedge_price=repr(expected if expected is not None else float(f.price)),
                fill_ts_ns=min(f.exchange_ts_ns, now) if f.exchange_ts_ns > 0 else now,
            )  # fmt: skip
            if row_id is not None:
                new.append(f)
                self._persist(self.book.add(_obligation(self.ledger.round_trip(row_id))))
        if newest != self._cursor:
            self._cursor = newest
            self.ostore.save_cursor(newest, now)
        return new

    def book_fills(self) -> None:
        for row in self.hedges:
            lots, notional, fees = self.ledger.order_fills(row.client_order_id)
            if lots <= row.booked_lots:
                continue
            base = self.taker.size(lots - row.booked_lots)
            sign = 1 if row.side == Side.SELL.value else -1  # a hedge sell reduces a long
            changed, left = self.book.settle(
                sign, base, notional - Decimal(row.booked_notional), fees - Decimal(row.booked_fees)
            )
            self._persist(changed, attempts=row.attempt)
            if left > 0:
                self._over_hedge(row, left, notional / self.taker.size(lots))
            self.ostore.update_hedge(
                row, booked_lots=lots, booked_notional=str(notional), booked_fees=str(fees),
                filled_lots=max(row.filled_lots, lots),
            )  # fmt: skip
        self.hedges = [r for r in self.hedges if r.outcome in OPEN_OUTCOMES or r.booked_lots < r.filled_lots]

    def _over_hedge(self, row: HedgeOrderRow, base: Decimal, price: Decimal) -> None:
        """A hedge traded more than was open (an outcome learnt late): that is exposure too."""
        log.warning(
            "xemm %s: hedge %s traded %s beyond the open obligations", self.name, row.client_order_id, base
        )
        venue, symbol = self.taker.venue, self.taker.symbol
        row_id = self.ledger.open_round_trip(
            strategy=self.name, maker_venue=venue, maker_symbol=symbol,
            maker_trade_id=f"overhedge:{row.client_order_id}:{row.booked_lots}", taker_market=self.taker.key,
            maker_side=row.side, maker_price=str(price), size_base=str(base), maker_fee="0",
            expected_hedge_price=repr(float(price)), fill_ts_ns=self.clock.now_ns(),
        )  # fmt: skip
        if row_id is not None:
            self._persist(self.book.add(_obligation(self.ledger.round_trip(row_id))))

    def _persist(self, changed: list[Obligation], attempts: int | None = None) -> None:
        """Store the obligations' settlement; `attempts`: of the hedge that settled them."""
        now = self.clock.now_ns()
        for o in changed:
            values: dict[str, object] = {} if attempts is None else {"attempts": attempts}
            values.update(
                hedged_base=str(o.hedged_base), netted_base=str(o.netted_base),
                hedge_notional=str(o.hedge_notional), hedge_fees=str(o.hedge_fees),
            )  # fmt: skip
            edge = o.realised_edge_quote
            if edge is not None:
                values.update(
                    realised_edge_quote=str(edge),
                    realised_edge_bps=float(edge / (o.maker_price * o.hedged_base) * 10_000),
                )
            if o.closed:
                values.update(status="hedged", done_ts_ns=now)
            self.ostore.update_obligation(o.id, **values)
            if o.closed and edge is not None:
                self.on_hedged(o, edge, now)

    def to_hedge(self) -> tuple[Side, int]:
        """The side and whole taker lots to hedge now: the net open, less what hedges the venue
        reports filled whose fills are not booked yet."""
        net = self.book.net_base()
        for r in self.hedges:
            pending = self.taker.size(max(r.filled_lots - r.booked_lots, 0))
            net -= pending if r.side == Side.SELL.value else -pending
        return (Side.SELL if net > 0 else Side.BUY), self.taker.size_to_lots(abs(net))


def _obligation(row: XemmRoundTripRow) -> Obligation:
    return Obligation(
        id=int(row.id or 0),
        sign=1 if row.maker_side == Side.BUY.value else -1,
        size_base=Decimal(row.size_base),
        opened_ns=row.fill_ts_ns,
        maker_key=f"{row.maker_venue}:{row.maker_symbol}",
        expected_price=float(row.expected_hedge_price),
        maker_price=Decimal(row.maker_price),
        maker_fee=Decimal(row.maker_fee),
        hedged_base=Decimal(row.hedged_base),
        netted_base=Decimal(row.netted_base),
        hedge_notional=Decimal(row.hedge_notional),
        hedge_fees=Decimal(row.hedge_fees),
    )
