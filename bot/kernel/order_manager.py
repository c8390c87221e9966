"""Tracks our orders through their state machine; every order is placed through `submit`.

Only live orders are held in memory (closed ones leave as soon as they are stored), so memory does
not grow with history. Every order row is written before the order is sent; every fill is stored
once before it moves the position.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal

from bot.core.clock import Clock
from bot.core.domain import Balance, Fill, Market, Order, OrderRequest, OrderState, Side
from bot.core.events import OrderUpdate
from bot.core.ids import client_order_seq, make_client_order_id
from bot.kernel.market_state import MarketState
from bot.kernel.mid_series import prices_at_fill
from bot.kernel.new_order import NewOrder, TimeInForce
from bot.kernel.order_counters import OrderCounters
from bot.kernel.pnl import MarketPnl
from bot.kernel.risk import Exposure, Refusal, RiskLimits, refuse_reason
from bot.kernel.risk_log import RefusalLog
from bot.kernel.self_trade import SelfTradeGuard
from bot.kernel.store import Store
from connectors.base import OrderNotFound, OrderRejected, Venue, VenueError, VenueUnavailable

log = logging.getLogger("mmbot.orders")


class OrderManager:
    def __init__(
        self,
        instance_id: str,
        venues: dict[str, Venue],
        state: MarketState,
        store: Store,
        clock: Clock,
        limits: RiskLimits,
        next_seq: int,
        on_fill: Callable[[Fill, Market], None] | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.venues = venues
        self.state = state
        self.store = store
        self.clock = clock
        self.limits = limits
        self._next_seq = next_seq
        self._on_fill = on_fill
        self.live: dict[str, Order] = {}
        self._stored_fill_lots: dict[str, int] = {}
        self._slot_orders: list[dict[str, Order]] = [{} for _ in range(len(state))]
        self.balances: dict[str, dict[str, Balance]] = {name: {} for name in venues}
        self.pnl: list[MarketPnl] = [MarketPnl(m.base, m.quote) for m in state.markets]
        self.counters = OrderCounters()
        self.refusals = RefusalLog()  # each refusal at WARNING, the limit named (repeats at DEBUG)
        self.self_trade = SelfTradeGuard(state.markets, self._slot_orders)  # our orders never trade
        # (market, "place" | "cancel", sent_ns, answered_ns) of every venue round trip: metrics.
        self.on_round_trip: Callable[[Market, str, int, int], None] | None = None
        self.fill_ahead_listeners: list[Callable[[Order], None]] = []  # filled beyond stored fills

    def add_market(self, market: Market) -> None:
        """Track a market appended to the state (hot reload)."""
        self._slot_orders.append({})
        self.pnl.append(MarketPnl(market.base, market.quote))

    # ---- views -----------------------------------------------------------------------------

    def orders_of(self, slot: int) -> list[Order]:
        return list(self._slot_orders[slot].values())

    def _slot_of(self, venue: str, symbol: str) -> int:
        slot = self.state.slot(venue, symbol)
        if slot is None:
            raise KeyError(f"{venue}:{symbol} is not a traded market")
        return slot

    def total_position_notional(self) -> Decimal:
        total = Decimal(0)
        for slot, market in enumerate(self.state.markets):
            mid = self.state.mid_decimal(slot)
            if mid is not None:
                total += abs(market.size(int(self.state.position_lots[slot]))) * mid
        return total

    def next_client_order_id(self) -> str:  # the next order's id, for a strategy to store first
        return make_client_order_id(self.instance_id, self._next_seq)

    # ---- placing: the one way an order reaches a venue ----------------------------------------

    async def submit(
        self, slot: int, new_orders: Sequence[NewOrder], *, cancel: Sequence[Order] = ()
    ) -> list[Order]:
        """Place `new_orders` on one market, cancelling `cancel` concurrently (a requote).

        Every order is checked the same way first (`bot.kernel.self_trade`): a taker (IOC, plain
        limit) has our resting orders in its way on this market cancelled, its limit capped short
        of any left; an order that can rest and would cross ours on this market or another venue
        of its self-trade group is held back (requoted when that order closes); risk may refuse
        it. The rest are stored and tracked before the next await, so a sync that runs meanwhile
        sees them. Returns the orders sent, each in its state after the venue's answer (an IOC is
        usually filled or expired: the ack carries the filled lots, the fills arrive as events; a
        venue rejection leaves it REJECTED). Held-back and risk-refused orders are not listed.
        """
        market = self.state.markets[slot]
        quoting = not new_orders or any(o.rests for o in new_orders)  # a requote settles holds, a hedge not
        if any(o.takes for o in new_orders):
            new_orders = await self.self_trade.make_way(slot, new_orders, lambda o: self._cancel(market, o))
        if quoting:
            allowed, held = self.self_trade.split(slot, [o for o in new_orders if o.rests])
            if held:
                self.counters.self_trade_held += len(held)
                log.debug("self-trade guard held %s: %s", market.key, held)
                new_orders = [o for o in new_orders if not o.rests] + allowed
        requests = [r for r in (self._vet(slot, market, o) for o in new_orders) if r is not None]
        tracked = [self._track(slot, market, r) for r in requests]
        jobs = [self._cancel(market, o) for o in cancel] + [self._send(market, o) for o in tracked]
        if jobs:
            await asyncio.gather(*jobs)
        return tracked

    def check(self, slot: int, new: NewOrder) -> Refusal | None:
        """What risk says of `new` on market `slot` now (None: it would be admitted); no side effect."""
        market = self.state.markets[slot]
        orders = self._slot_orders[slot].values()
        exposure = Exposure(
            position_lots=int(self.state.position_lots[slot]),
            open_buy_lots=sum(o.remaining_lots for o in orders if o.request.side is Side.BUY),
            open_sell_lots=sum(o.remaining_lots for o in orders if o.request.side is Side.SELL),
            max_position_lots=int(self.state.max_position_lots[slot]),
        )
        balances = self.balances[market.venue]
        locked_here = self._pending_locks(market)
        zero = Balance("", Decimal(0))
        return refuse_reason(
            market,
            new.side,
            new.price_ticks,
            new.size_lots,
            exposure,
            self.limits,
            open_orders=len(self.live),
            total_position_notional=self.total_position_notional(),
            free_quote=balances.get(market.quote, zero).free - locked_here[0],
            free_base=balances.get(market.base, zero).free - locked_here[1],
            reduces_exposure=new.reduces_exposure,
        )

    def _vet(self, slot: int, market: Market, new: NewOrder) -> OrderRequest | None:
        refusal = self.check(slot, new)
        if refusal is not None:
            self.counters.risk_refused += 1
            self.refusals.note(market.key, new, refusal)
            return None
        self.refusals.admitted(market.key, new.side)
        seq = self._next_seq
        self._next_seq += 1
        return OrderRequest(
            client_order_id=make_client_order_id(self.instance_id, seq),
            venue=market.venue,
            symbol=market.symbol,
            side=new.side,
            price_ticks=new.price_ticks,
            size_lots=new.size_lots,
            post_only=new.time_in_force is TimeInForce.POST_ONLY,
            immediate_or_cancel=new.time_in_force is TimeInForce.IOC,
        )

    def _pending_locks(self, market: Market) -> tuple[Decimal, Decimal]:
        """Quote and base our not-yet-acknowledged orders will lock (the balance view lags them)."""
        quote = base = Decimal(0)
        for order in self.live.values():
            if order.state is not OrderState.PENDING_NEW or order.request.venue != market.venue:
                continue
            m = self.state.markets[self._slot_of(order.request.venue, order.request.symbol)]
            if order.request.side is Side.BUY and m.quote == market.quote:
                quote += m.notional(order.request.price_ticks, order.request.size_lots)
            elif order.request.side is Side.SELL and m.base == market.base:
                base += m.size(order.request.size_lots)
        return quote, base

    def _track(self, slot: int, market: Market, request: OrderRequest) -> Order:
        """Store and track a new order (pending new) before it is sent."""
        now = self.clock.now_ns()
        order = Order(request, created_ns=now, updated_ns=now)
        seq = client_order_seq(self.instance_id, request.client_order_id)
        assert seq is not None  # our own id
        self.store.record_new_order(order, market, seq)  # written before it can exist on the venue
        self.live[request.client_order_id] = order
        self._slot_orders[slot][request.client_order_id] = order
        return order

    async def _send(self, market: Market, order: Order) -> Order:
        request = order.request
        now = self.clock.now_ns()
        venue = self.venues[market.venue]
        try:
            ack = await venue.place_order(request)
        except VenueUnavailable as exc:
            log.warning("place %s outcome unknown (%s); asking the venue", request.client_order_id, exc)
            await self._resolve_unknown(venue, order)
            return order
        except VenueError as exc:  # refused, 429 and auth included: nothing rests, nothing pending
            self.counters.rejected += 1
            log.debug("rejected %s: %s", request.client_order_id, exc)
            self._set_state(order, OrderState.REJECTED, reason=str(exc))
            if not isinstance(exc, OrderRejected):
                raise  # the caller learns of a 429 or an auth error
            return order
        self.counters.placed += 1
        if self.on_round_trip is not None:
            self.on_round_trip(market, "place", now, self.clock.now_ns())
        self.apply_update(ack)
        return order

    async def _resolve_unknown(self, venue: Venue, order: Order) -> None:
        """An unknown-outcome create is looked up by client id; it is never re-sent blindly."""
        try:
            update = await venue.fetch_order(order.request.symbol, order.client_order_id)
        except OrderNotFound:
            self._set_state(order, OrderState.REJECTED, reason="never reached the venue")
            return
        except VenueError as exc:
            log.warning("cannot resolve %s yet (%s); reconciliation will", order.client_order_id, exc)
            return
        self.apply_update(update)

    async def _cancel(self, market: Market, order: Order) -> None:
        previous = order.state
        if order.state is OrderState.PENDING_NEW:
            return  # cancel once acknowledged: the venue may not know it yet
        if order.state.is_terminal:
            return  # filled (or closed) by an event that ran between the diff and this task
        self._set_state(order, OrderState.PENDING_CANCEL)
        venue = self.venues[market.venue]
        sent_ns = self.clock.now_ns()
        try:
            update = await venue.cancel_order(market.symbol, order.client_order_id)
        except OrderNotFound:
            await self._settle_missing(venue, order)
            return
        except VenueError as exc:
            log.warning("cancel %s failed: %s", order.client_order_id, exc)
            if order.state is OrderState.PENDING_CANCEL:
                self._set_state(order, previous, reason=f"cancel failed: {exc}")
            return
        self.counters.cancelled += 1
        if self.on_round_trip is not None:
            self.on_round_trip(market, "cancel", sent_ns, self.clock.now_ns())
        self.apply_update(update)

    async def settle(self, order: Order) -> None:
        """Ask the venue how a tracked order the venue no longer lists as open ended."""
        await self._settle_missing(self.venues[order.request.venue], order)

    async def _settle_missing(self, venue: Venue, order: Order) -> None:
        """The venue no longer has the order: learn how it ended (filled or cancelled)."""
        try:
            update = await venue.fetch_order(order.request.symbol, order.client_order_id)
        except OrderNotFound:
            if order.state.is_live:
                self._set_state(order, OrderState.CANCELLED, reason="unknown to the venue")
            return
        except VenueError as exc:
            log.warning("cannot settle %s yet: %s", order.client_order_id, exc)
            return
        self.apply_update(update)

    # ---- events from venues ----------------------------------------------------------------

    def apply_update(self, update: OrderUpdate) -> None:
        order = self.live.get(update.client_order_id)
        if order is None:
            return  # closed already, or not ours
        if update.venue_order_id and order.venue_order_id is None:
            order.venue_order_id = update.venue_order_id
        order.filled_lots = max(order.filled_lots, update.filled_lots)
        if order.filled_lots > self._stored_fill_lots.get(order.client_order_id, 0):
            for listener in self.fill_ahead_listeners:
                listener(order)
        target = update.state
        if target is OrderState.OPEN and order.filled_lots > 0:
            target = OrderState.PARTIALLY_FILLED
        if target is order.state and target is not OrderState.PARTIALLY_FILLED:
            return
        if order.state is OrderState.PENDING_CANCEL and target in (
            OrderState.OPEN,
            OrderState.PARTIALLY_FILLED,
        ):
            return  # a stale ack overtaken by our cancel request
        if not order.can_transition(target):
            log.debug("ignored stale update %s: %s -> %s", order.client_order_id, order.state, target)
            return
        self._set_state(order, target, reason=update.reason)

    def apply_fill(self, fill: Fill) -> bool:
        """Store and count a fill once; returns False for a duplicate."""
        slot = self.state.slot(fill.venue, fill.symbol)
        if slot is None:
            return False
        market = self.state.markets[slot]
        late_ns = self.clock.now_ns() - fill.exchange_ts_ns
        fair, mid = prices_at_fill(self.fair_price(slot), self.state.mid_decimal(slot), late_ns)
        if not self.store.record_fill(fill, market, fair, mid):
            self.counters.duplicate_fills += 1
            return False
        self.counters.fills += 1
        self.state.position_lots[slot] += fill.size_lots * fill.side.sign
        self.state.mark_dirty(slot)
        self.pnl[slot].apply_fill(
            fill.side, market.price(fill.price_ticks), market.size(fill.size_lots), fill.fee, fill.fee_asset
        )
        order = self.live.get(fill.client_order_id)
        if order is not None:
            # The venue's cumulative count and the sum of stored fills can arrive in either order.
            stored = self._stored_fill_lots.get(order.client_order_id, 0) + fill.size_lots
            self._stored_fill_lots[order.client_order_id] = stored
            order.filled_lots = min(max(order.filled_lots, stored), order.request.size_lots)
            done = order.filled_lots >= order.request.size_lots
            target = OrderState.FILLED if done else OrderState.PARTIALLY_FILLED
            if order.can_transition(target) and not (
                order.state is OrderState.PENDING_CANCEL and target is OrderState.PARTIALLY_FILLED
            ):
                self._set_state(order, target)
            else:
                self.store.record_order_state(order)
        log.debug(
            "fill %s %s %s @ %s fee %s %s (%s)", market.key, fill.side.value, market.size(fill.size_lots),
            market.price(fill.price_ticks), fill.fee, fill.fee_asset, "maker" if fill.is_maker else "taker",
        )  # fmt: skip
        if self._on_fill is not None:
            self._on_fill(fill, market)
        return True

    def fair_price(self, slot: int) -> float:
        """The price fills are attributed against (stored with each fill and in the mid series):
        the other participants' mid, our own resting orders taken out (the quoting strategies'
        default fair); the venue's mid while only we quote a side of the book."""
        fair = float(self.state.mid_ex_own[slot])
        return fair if fair > 0 else float(self.state.mid_price[slot])  # NaN > 0 is False

    def apply_balances(self, venue: str, balances: dict[str, Balance]) -> None:
        held = self.balances[venue]
        held.update(balances)
        for slot, market in enumerate(self.state.markets):
            if market.venue == venue:
                base, quote = held.get(market.base), held.get(market.quote)
                self.state.base_balance[slot] = float(base.total) if base is not None else 0.0
                self.state.quote_balance[slot] = float(quote.total) if quote is not None else 0.0

    # ---- bookkeeping -----------------------------------------------------------------------

    def _set_state(self, order: Order, new_state: OrderState, reason: str | None = None) -> None:
        order.transition(new_state, self.clock.now_ns(), reason)
        self.store.record_order_state(order)
        slot = self.state.slot(order.request.venue, order.request.symbol)
        if new_state.is_terminal:
            self.live.pop(order.client_order_id, None)
            self._stored_fill_lots.pop(order.client_order_id, None)
            if slot is not None:
                self._slot_orders[slot].pop(order.client_order_id, None)
                self.state.mark_dirty(slot)
                self.self_trade.order_closed(slot)
        elif slot is not None:
            self.self_trade.order_moved(slot)  # a taker waiting for it may go on

    def adopt(self, order: Order) -> None:
        """Track an order found open on the venue at start (reconciliation)."""
        slot = self._slot_of(order.request.venue, order.request.symbol)
        self.live[order.client_order_id] = order
        self._slot_orders[slot][order.client_order_id] = order

    async def cancel_order(self, client_order_id: str) -> None:
        order = self.live.get(client_order_id)
        if order is None or order.state is OrderState.PENDING_CANCEL:
            return
        await self._cancel(
            self.state.markets[self._slot_of(order.request.venue, order.request.symbol)], order
        )

    async def cancel_all(self, venue_name: str | None = None) -> None:
        jobs = []
        for order in list(self.live.values()):
            if venue_name is not None and order.request.venue != venue_name:
                continue
            if order.state is OrderState.PENDING_CANCEL:
                continue
            slot = self._slot_of(order.request.venue, order.request.symbol)
            jobs.append(self._cancel(self.state.markets[slot], order))
        if jobs:
            await asyncio.gather(*jobs)
