"""Immediate hedges with bounded slippage: IOC orders retried until done or out of attempts.

Shared by XEMM (hedge a maker fill on the taker venue) and CEX↔AMM arbitrage (the CEX leg). The
limit of every attempt is the reference price pushed by `max_slippage_bps` against us, fixed at
the first attempt: a retry may take a worse price than the first try, never a worse one than the
bound. Each attempt's fills are read back from the store (stored once, whatever the order of
the venue's ack and fill events).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass
from decimal import Decimal

from bot.core.domain import OrderState, Side
from bot.kernel.new_order import NewOrder, TimeInForce
from bot.kernel.order_manager import OrderManager
from strategies.xvenue.store import XvenueLedger

FILL_WAIT_S = 2.0  # the ack says how much traded; the fill events follow within the feed latency


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
    def __init__(self, orders: OrderManager, ledger: XvenueLedger) -> None:
        self.orders = orders
        self.ledger = ledger
        self._fill_seen = asyncio.Event()

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
        filled, notional, fees, attempts = 0, Decimal(0), Decimal(0), 0
        while filled < size_lots and attempts < max_attempts:
            if attempts and stop_at is not None and loop.time() + retry_delay_s > stop_at:
                break
            if attempts:
                await asyncio.sleep(retry_delay_s)
            attempts += 1
            ioc = NewOrder(side, limit, size_lots - filled, TimeInForce.IOC, reduces_exposure)
            sent = await self.orders.submit(slot, [ioc])
            order = sent[0] if sent else None
            if order is None or order.state is OrderState.REJECTED or order.filled_lots == 0:
                continue
            lots, part_notional, part_fees = await self._stored_fills(
                order.client_order_id, order.filled_lots
            )
            missing = order.filled_lots - lots
            if missing > 0:  # the venue said it traded; price what is not stored yet at the limit
                market = self.orders.state.markets[slot]
                part_notional += market.notional(limit, missing)
                part_fees += market.fee(limit, missing, is_maker=False)
            filled += order.filled_lots
            notional += part_notional
            fees += part_fees
        return HedgeResult(size_lots, filled, notional, fees, attempts)

    async def _stored_fills(self, client_order_id: str, expected_lots: int) -> tuple[int, Decimal, Decimal]:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + FILL_WAIT_S
        while True:
            lots, notional, fees = self.ledger.order_fills(client_order_id)
            if lots >= expected_lots or loop.time() >= give_up:
                return lots, notional, fees
            self._fill_seen.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._fill_seen.wait(), timeout=give_up - loop.time())
