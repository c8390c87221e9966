"""Immediate hedges with bounded slippage: IOC orders retried until done or out of attempts.

Shared by XEMM (hedge a maker fill on the taker venue) and CEX↔AMM arbitrage (the CEX leg). The
limit of every attempt is the reference price pushed by `max_slippage_bps` against us, fixed at
the first attempt: a retry may take a worse price than the first try, never a worse one than the
bound. Each attempt's fills are read back from the store (stored once, whatever the order of
the venue's ack and fill events), never priced at the limit. XEMM hedges through its own loop
(`strategies.xvenue.hedge_worker`), which shares `slippage_limit_ticks` and the settle step
(`strategies.xvenue.settle`: outcome lookups, REST fetches of fills no stream brought).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass
from decimal import Decimal

from bot.core.domain import Order, Side
from bot.kernel.new_order import NewOrder, TimeInForce
from bot.kernel.order_manager import OrderManager
from connectors.base import RateLimited, VenueError
from strategies.xvenue.settle import Settler
from strategies.xvenue.store import XvenueLedger

log = logging.getLogger("mmbot.xvenue")

FILL_WAIT_S = 2.0  # the ack says how much traded; the fill events follow within the feed latency
SETTLE_RETRY_S = 0.5  # between two lookups of an order whose outcome is unknown


@dataclass(frozen=True, slots=True)
class HedgeResult:
    requested_lots: int
    filled_lots: int
    notional: Decimal  # quote units, Σ price · size
    fees: Decimal  # quote units
    attempts: int

    @property
    def complete(self) -> bool:
        return self.filled_lots >= self.requested_lots


def slippage_limit_ticks(side: Side, reference_ticks: float, max_slippage_bps: float) -> int:
    """The worst price an immediate order may trade at, on the tick grid (rounded toward safety)."""
    if side is Side.BUY:
        return math.floor(reference_ticks * (1 + max_slippage_bps / 1e4) + 1e-9)
    return max(math.ceil(reference_ticks * (1 - max_slippage_bps / 1e4) - 1e-9), 1)


class HedgeExecutor:
    """The arbitrage's immediate legs (and their unwinds): IOC orders retried until done, out of
    attempts or past the deadline. An order whose outcome is unknown after the venue's answer is
    settled from the venue before anything else is sent (never a second order for the same size);
    a venue error of any class ends the attempt (a Retry-After is waited out) and is counted; the
    result books only stored fills, at their real prices (late ones are fetched by REST)."""

    def __init__(self, orders: OrderManager, ledger: XvenueLedger) -> None:
        self.orders = orders
        self.ledger = ledger
        self.settler = Settler(orders, "immediate orders")
        self._fill_seen = asyncio.Event()
        self.errors: dict[str, int] = {}  # venue error class -> how many attempts it ended

    def fill_arrived(self) -> None:
        """Call on every fill event of a market this executor trades."""
        self._fill_seen.set()

    async def execute(
        self,
        slot: int,
        side: Side,
        size_lots: int,
        reference_ticks: float,
        *,
        max_slippage_bps: float,
        max_attempts: int,
        retry_delay_s: float,
        deadline_s: float | None = None,
        reduces_exposure: bool = False,
    ) -> HedgeResult:
        """`reduces_exposure`: the orders close a position held elsewhere (a hedge, an unwind), so
        no gross or shared risk limit refuses them (bot.kernel.risk); an opening leg says False."""
        limit = slippage_limit_ticks(side, reference_ticks, max_slippage_bps)
        loop = asyncio.get_running_loop()
        stop_at = None if deadline_s is None else loop.time() + deadline_s
        filled, notional, fees, attempts, wait_s = 0, Decimal(0), Decimal(0), 0, 0.0
        while filled < size_lots and attempts < max_attempts:
            if attempts and stop_at is not None and loop.time() + retry_delay_s > stop_at:
                break
            if attempts:
                await asyncio.sleep(max(retry_delay_s, wait_s))
            attempts += 1
            order, wait_s = await self._send(
                slot, NewOrder(side, limit, size_lots - filled, TimeInForce.IOC, reduces_exposure)
            )
            if order is not None and order.state.is_live:
                await self._settle(order, stop_at)
            if order is None or order.filled_lots == 0:
                continue
            _, part_notional, part_fees = await self._stored_fills(order, order.filled_lots)
            filled += order.filled_lots
            notional += part_notional
            fees += part_fees
            if order.state.is_live:
                break  # still unknown at the deadline: sending again could trade the size twice
        return HedgeResult(size_lots, filled, notional, fees, attempts)

    async def _send(self, slot: int, ioc: NewOrder) -> tuple[Order | None, float]:
        """(the order, or None when refused; how long the venue asked us to wait)."""
        cid = self.orders.next_client_order_id()
        try:
            sent = await self.orders.submit(slot, [ioc])
        except VenueError as exc:
            kind = type(exc).__name__
            self.errors[kind] = self.errors.get(kind, 0) + 1
            log.warning("immediate order %s failed: %s", cid, exc)
            retry_after = exc.retry_after_s if isinstance(exc, RateLimited) else None
            return self.orders.live.get(cid), retry_after or 0.0
        return (sent[0] if sent else None), 0.0

    async def _settle(self, order: Order, stop_at: float | None) -> None:
        """Ask the venue how an order with an unknown outcome ended, until it says or the deadline."""
        loop = asyncio.get_running_loop()
        while not await self.settler.outcome_known(order):
            if stop_at is not None and loop.time() >= stop_at:
                return
            await asyncio.sleep(SETTLE_RETRY_S)

    async def _stored_fills(self, order: Order, expected_lots: int) -> tuple[int, Decimal, Decimal]:
        """The order's stored fills, waited for (the ack tells how much traded, the fills follow)
        and fetched by REST when no stream brought them in time: booked only at real prices."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + FILL_WAIT_S
        cid, fetched = order.client_order_id, False
        while True:
            lots, notional, fees = self.ledger.order_fills(cid)
            if lots >= expected_lots:
                return lots, notional, fees
            if loop.time() >= give_up:
                if fetched:
                    log.warning(
                        "%s: %d of %d lots have no stored fill yet", cid, expected_lots - lots, expected_lots
                    )
                    return lots, notional, fees
                fetched, give_up = True, loop.time() + FILL_WAIT_S
                await self.settler.fetch_fills(order.request.venue, order.request.symbol)
                continue
            self._fill_seen.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._fill_seen.wait(), timeout=max(give_up - loop.time(), 1e-3))
