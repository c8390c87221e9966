"""XEMM's edge per round trip against the hedge price its quote assumed, and a rolling alert.

A maker quote is priced off a hedge price: the taker book's VWAP for our size when the quote was
computed (`XemmQuotes` remembers it per quoted price). A round trip earns what the quote promised
only if the hedge trades there; when both venues move together (correlated flow) the maker fill
comes with the move and the hedge trades after it, so every round trip loses the move. The
realised edge alone shows that only as a smaller number; against the assumption it is a named
shortfall per round trip:

    shortfall_bps = (assumed − realised hedge price) / assumed · 10⁴   hedge sells (maker bought)
                    (realised − assumed hedge price) / assumed · 10⁴   hedge buys (maker sold)

positive when the hedge traded worse than the quote assumed. Each hedged round trip stores one
`xemm_edges` row (assumed, taker VWAP at fill time, realised, shortfall, realised edge). A rolling
window (`window_s` of round trips, at least `min_round_trips`) gives the realised edge as
Σ edge / Σ maker notional (size-weighted, like the strategy's own PnL) and the mean shortfall, the
`mmbot_xemm_*` gauges; when the window's realised edge falls below `alert_below_bps` an `alert`
event is stored (reason `xemm_edge_below_threshold`, with the window's figures), once per
excursion: it re-arms when the window is back at or above the threshold.

A quote placed before a restart has no remembered assumption: it is derived from the maker price
and the quote's costs (the inverse of the quote formula, exact but for the tick rounding), and the
row says so (`assumed_from = "derived"`).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field as SqlField
from sqlmodel import Session, SQLModel, col, select

from bot.core.domain import Side
from bot.kernel.sql_types import ROW_ID
from bot.kernel.store import Store

log = logging.getLogger("mmbot.xemm")

ALERT_REASON = "xemm_edge_below_threshold"


class EdgeAlertParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_s: float = Field(900.0, gt=0, description="rolling window of round trips, seconds")
    min_round_trips: int = Field(10, ge=1, description="no verdict on fewer round trips")
    alert_below_bps: float = Field(0.0, description="alert when the window's realised edge is below")


class XemmEdgeRow(SQLModel, table=True):
    __tablename__ = "xemm_edges"
    __table_args__ = (UniqueConstraint("instance_id", "round_trip_id", name="uq_xemm_edge_round_trip"),)
    id: int | None = SqlField(default=None, primary_key=True, sa_type=ROW_ID)
    round_trip_id: int = SqlField(sa_type=BigInteger)
    strategy: str = SqlField(index=True)
    maker_market: str
    maker_side: str
    size_base: str  # hedged
    maker_price: str
    assumed_hedge_price: str
    assumed_from: str  # "quote" (remembered when quoted) or "derived" (from the maker price)
    taker_at_fill_price: str  # the taker VWAP when the maker fill arrived
    realised_hedge_price: str
    shortfall_bps: float
    realised_edge_bps: float
    ts_ns: int = SqlField(index=True, sa_type=BigInteger)
    instance_id: str = SqlField(default="", index=True, sa_column_kwargs={"server_default": ""})


@dataclass(frozen=True, slots=True)
class AssumedHedge:
    price: Decimal  # per base unit, quote currency
    source: str  # "quote" | "derived"


@dataclass(frozen=True, slots=True)
class EdgeWindowStats:
    round_trips: int
    realised_edge_bps: float | None  # Σ edge / Σ maker notional; None without round trips
    shortfall_bps: float | None  # maker-notional-weighted mean


def derived_hedge_price(maker_side: Side, maker_price: Decimal, cost_fraction: Decimal) -> Decimal:
    """The hedge price a maker quote at `maker_price` stands for: bid = hedge · (1 − cost),
    ask = hedge · (1 + cost) (strategies.xvenue.xemm_quotes), solved for the hedge."""
    if maker_side is Side.BUY:
        return maker_price / (1 - cost_fraction)
    return maker_price / (1 + cost_fraction)


def shortfall_bps(maker_side: Side, assumed: Decimal, realised: Decimal) -> float:
    """How much worse than assumed the hedge traded, bps of the assumed price (negative: better)."""
    worse = assumed - realised if maker_side is Side.BUY else realised - assumed
    return float(worse / assumed * 10_000)


class EdgeWindow:
    """Round trips of the last `window_s`: (ts_ns, edge quote, maker notional, shortfall·notional)."""

    def __init__(self, window_s: float) -> None:
        self.window_ns = int(window_s * 1e9)
        self._trips: deque[tuple[int, Decimal, Decimal, Decimal]] = deque()

    def add(self, ts_ns: int, edge_quote: Decimal, notional: Decimal, shortfall: float) -> None:
        self._trips.append((ts_ns, edge_quote, notional, notional * Decimal(repr(shortfall))))

    def stats(self, now_ns: int) -> EdgeWindowStats:
        while self._trips and self._trips[0][0] <= now_ns - self.window_ns:
            self._trips.popleft()
        if not self._trips:
            return EdgeWindowStats(0, None, None)
        edge = sum((t[1] for t in self._trips), Decimal(0))
        notional = sum((t[2] for t in self._trips), Decimal(0))
        weighted = sum((t[3] for t in self._trips), Decimal(0))
        if notional <= 0:
            return EdgeWindowStats(len(self._trips), None, None)
        return EdgeWindowStats(len(self._trips), float(edge / notional * 10_000), float(weighted / notional))


@dataclass(frozen=True, slots=True)
class HedgedRoundTrip:
    """What `EdgeMonitor.record` needs of one closed round trip (hedged > 0)."""

    round_trip_id: int
    maker_market: str
    maker_side: Side
    maker_price: Decimal
    hedged_base: Decimal
    hedge_notional: Decimal  # quote, Σ price · size of the hedge fills
    edge_quote: Decimal  # realised: both legs, both fees
    taker_at_fill_price: str
    ts_ns: int


class EdgeMonitor:
    """One XEMM strategy's edge rows, rolling window and alert."""

    def __init__(self, strategy: str, params: EdgeAlertParams) -> None:
        self.strategy = strategy
        self.params = params
        self.window = EdgeWindow(params.window_s)
        self.alerting = False  # the window is below the threshold and the alert was raised

    def record(self, store: Store, trip: HedgedRoundTrip, assumed: AssumedHedge) -> XemmEdgeRow | None:
        """Store the round trip's edge row and check the window; never fails the hedge's close."""
        try:
            return self._record(store, trip, assumed)
        except Exception:
            log.exception("xemm %s: edge of round trip %d not recorded", self.strategy, trip.round_trip_id)
            return None

    def _record(self, store: Store, trip: HedgedRoundTrip, assumed: AssumedHedge) -> XemmEdgeRow:
        realised = trip.hedge_notional / trip.hedged_base
        notional = trip.maker_price * trip.hedged_base
        row = XemmEdgeRow(
            round_trip_id=trip.round_trip_id,
            strategy=self.strategy,
            maker_market=trip.maker_market,
            maker_side=trip.maker_side.value,
            size_base=str(trip.hedged_base),
            maker_price=str(trip.maker_price),
            assumed_hedge_price=str(assumed.price),
            assumed_from=assumed.source,
            taker_at_fill_price=f"{float(trip.taker_at_fill_price):.10g}",
            realised_hedge_price=str(realised),
            shortfall_bps=shortfall_bps(trip.maker_side, assumed.price, realised),
            realised_edge_bps=float(trip.edge_quote / notional * 10_000),
            ts_ns=trip.ts_ns,
            instance_id=store.writer_id,
        )
        with Session(store.engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
        self.window.add(trip.ts_ns, trip.edge_quote, notional, row.shortfall_bps)
        self._check(store, trip.ts_ns)
        return row

    def _check(self, store: Store, now_ns: int) -> None:
        p = self.params
        stats = self.window.stats(now_ns)
        if stats.realised_edge_bps is None or stats.round_trips < p.min_round_trips:
            return
        below = stats.realised_edge_bps < p.alert_below_bps
        if below and not self.alerting:
            self.alerting = True
            log.error(
                "ALERT xemm %s: realised edge %.2f bps over the last %d round trips (%.0f s) is below "
                "%.2f bps; the hedges traded %.2f bps worse than the quotes assumed",
                self.strategy, stats.realised_edge_bps, stats.round_trips, p.window_s,
                p.alert_below_bps, stats.shortfall_bps,
            )  # fmt: skip
            store.record_event(
                "alert",
                now_ns,
                strategy=self.strategy,
                reason=ALERT_REASON,
                realised_edge_bps=round(stats.realised_edge_bps, 4),
                shortfall_bps=round(stats.shortfall_bps or 0.0, 4),
                round_trips=stats.round_trips,
                window_s=p.window_s,
                threshold_bps=p.alert_below_bps,
            )
        elif not below and self.alerting:
            self.alerting = False
            edge_bps = stats.realised_edge_bps
            log.warning("xemm %s: realised edge back at %.2f bps over the window", self.strategy, edge_bps)

    def stats(self, now_ns: int) -> EdgeWindowStats:
        return self.window.stats(now_ns)


def edge_rows(store: Store, strategy: str | None = None) -> list[XemmEdgeRow]:
    query = store.mine(select(XemmEdgeRow), XemmEdgeRow.instance_id)
    if strategy is not None:
        query = query.where(XemmEdgeRow.strategy == strategy)
    with Session(store.engine) as session:
        return list(session.exec(query.order_by(col(XemmEdgeRow.id))))
