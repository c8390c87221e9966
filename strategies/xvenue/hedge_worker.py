"""XEMM's hedging loop: obligations in, hedge orders out, until the books are flat.

One loop per strategy, woken by every maker or taker fill (and by a short timer, which also
catches fills another path stored). Each turn:

1. turns the maker fills stored since the cursor into obligations (`obligations.py`), whatever
   stored them: the user stream, a REST catch-up, the start-up reconciliation;
2. books the stored fills of our hedge orders to the obligations, at their real prices;
3. settles hedge orders whose outcome is unknown from the venue (one lookup each per turn,
   `settle.Settler`); while one is unknown nothing else is sent (its fill may still show up: a
   second order could hedge the same size twice);
4. sends one immediate-or-cancel order for the signed net left, in whole taker lots (a sub-lot
   rest stays open with its sign and joins the next fill), minus what hedges the venue reports
   filled but whose fills are not stored yet.

Retries follow a schedule: the limit widens by `step` per attempt from the first slippage up to
the bound, delays double (`bot.core.backoff`, a Retry-After wins). After `max_attempts`, or once
a lot or more has been naked for `escalate_after_s`, or at once on an authentication error, the
episode is escalated: an `alert` event (size and age), the maker markets paused by the strategy;
the loop keeps hedging (from the current taker book) until the position is flat. Nothing is ever
written off: the obligations stay until real hedge fills settle them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from bot.core.backoff import Backoff
from bot.core.domain import Market, Order, OrderState, Side
from bot.kernel.context import BotContext
from bot.kernel.new_order import NewOrder, TimeInForce
from connectors.base import AuthError, RateLimited
from strategies.xvenue.hedging import slippage_limit_ticks
from strategies.xvenue.obligation_ledger import ObligationLedger
from strategies.xvenue.obligation_store import OPEN_OUTCOMES, HedgeOrderRow
from strategies.xvenue.obligations import Obligation
from strategies.xvenue.settle import Settler

log = logging.getLogger("mmbot.xemm")

IDLE_S = 1.0  # with nothing to hedge: look for fills stored by other paths this often
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class HedgeSchedule:
    first_slippage_bps: float
    step_bps: float
    bound_bps: float
    max_attempts: int
    retry_delay_s: float
    max_retry_delay_s: float
    escalate_after_s: float
    fill_wait_s: float  # a fill the venue reported but no stream brought: fetched by REST after this

    def slippage_bps(self, attempt: int) -> float:
        return min(self.first_slippage_bps + attempt * self.step_bps, self.bound_bps)


@dataclass(slots=True)
class HedgeCounters:
    attempts: int = 0
    filled: int = 0
    rejected: int = 0
    risk_refused: int = 0
    rate_limited: int = 0
    auth_failed: int = 0
    unknown_outcome: int = 0
    escalations: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class HedgeWorker:
    def __init__(
        self,
        name: str,
        ctx: BotContext,
        makers: dict[tuple[str, str], Market],
        taker_slot: int,
        schedule: HedgeSchedule,
        taker_price: Callable[[Side, Decimal], float | None],
        on_escalate: Callable[[], None],
        on_busy: Callable[[], None],
        on_hedged: Callable[[Obligation, Decimal, int], None],
    ) -> None:
        self.name, self.ctx, self.makers = name, ctx, makers
        self.taker_slot = taker_slot
        self.taker = ctx.state.markets[taker_slot]
        self.schedule = schedule
        self.taker_price = taker_price  # executable VWAP of the taker book for a side and size
        self.on_escalate = on_escalate
        self.on_busy = on_busy  # `busy` or `escalated` changed
        self.obligations = ObligationLedger(
            name, ctx.store, ctx.clock, list(makers), self.taker, taker_price, on_hedged
        )
        self.book = self.obligations.book
        self.ostore = self.obligations.ostore
        self.counters = HedgeCounters()
        self.settler = Settler(ctx.orders, f"xemm {name}")  # also counts lookups and REST catch-ups
        # seeded: a simulated run retries on the same schedule every time
        self.backoff = Backoff(schedule.retry_delay_s, schedule.max_retry_delay_s, random.Random(name))
        self.wake = asyncio.Event()
        self.attempts = 0  # in a row that traded nothing (since the last fill, flat or resume)
        self.escalated = False
        self._busy = False
        self.sending = False  # a hedge order awaits the venue's answer (a reload waits for it)
        self._next_attempt = 0.0  # loop time
        self._tracked: dict[str, Order] = {}  # our hedge orders by client id, while unsettled
        # maker orders the venue says filled beyond the stored fills: client id -> (due, market key)
        self._ahead: dict[str, tuple[float, str]] = {}
        self._known_at: dict[int, float] = {}  # hedge row id -> loop time its outcome was learnt

    @property
    def busy(self) -> bool:
        """A lot or more to hedge, or a hedge whose outcome is unknown."""
        return self._busy

    @busy.setter
    def busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.on_busy()

    # ---- start ------------------------------------------------------------------------------

    def collect(self) -> None:
        """Oblige the maker fills stored since the last look (the stream's, a catch-up's)."""
        new = self.obligations.collect()
        for f in new:
            self._ahead.pop(f.client_order_id, None)
        if new:  # held at once, in the fill's own event: not one more quote on the naked side
            self.busy = self.busy or self.to_hedge()[1] > 0
            self.on_busy()
        if new and self.escalated:  # a maker market the operator resumed filled while still naked
            self.escalated = False
            self.escalate("a maker fill while the position is unhedged")

    def book_fills(self) -> None:
        self.obligations.book_fills()

    def to_hedge(self) -> tuple[Side, int]:
        return self.obligations.to_hedge()

    async def run(self) -> None:
        self.obligations.load()
        while True:
            self.wake.clear()
            self.collect()
            self.book_fills()
            wait = await self._step()
            self.on_busy()  # which makers hold their quotes follows the obligations left
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), wait)

    # ---- obligations from maker fills -----------------------------------------------------------

    def fill_ahead(self, order: Order) -> None:
        """The venue said (by REST or an order update) a maker order filled more than the fills we
        stored: fetch its fills now unless the stream brings them within `fill_wait_s`."""
        loop, req = asyncio.get_running_loop(), order.request
        due = loop.time() + self.schedule.fill_wait_s
        self._ahead.setdefault(order.client_order_id, (due, f"{req.venue}:{req.symbol}"))
        loop.call_later(self.schedule.fill_wait_s, self.wake.set)

    # ---- one turn -------------------------------------------------------------------------------

    async def _step(self) -> float:
        """Act once; returns how long to wait for a wake-up before the next turn."""
        loop = asyncio.get_running_loop()
        await self._catch_up(loop.time())
        if any(r.outcome in OPEN_OUTCOMES for r in self.obligations.hedges):
            self.busy = True
            if not await self._settle_outcomes():
                self._check_age()
                return self.backoff.delay_s(self.attempts)
        side, lots = self.to_hedge()
        if lots == 0:
            self.busy = False
            if abs(self.book.net_base()) < self.taker.lot_size:
                self.attempts, self.escalated = 0, False  # flat: the next fill starts a new episode
                self.on_busy()
            if any(r.filled_lots > r.booked_lots for r in self.obligations.hedges):
                return min(IDLE_S, self.schedule.fill_wait_s)  # then fetched by REST
            return IDLE_S
        self.busy = True
        self._check_age()
        wait = self._next_attempt - loop.time()
        if wait > 0:
            return wait
        await self._attempt(side, lots)
        return 0.0

    def _check_age(self) -> None:
        oldest = self.book.oldest_ns()
        if oldest is None or abs(self.book.net_base()) < self.taker.lot_size:
            return
        age_s = (self.ctx.clock.now_ns() - oldest) / NS
        if age_s > self.schedule.escalate_after_s:
            self.escalate(f"naked for {age_s:.1f} s")

    async def _catch_up(self, now: float) -> None:
        """Fetch by REST the fills a venue reported but no stream brought (maker or hedge)."""
        due: set[str] = set()
        for cid, (at, key) in list(self._ahead.items()):
            if at <= now:
                due.add(key)
                self._ahead.pop(cid)
        late = now - self.schedule.fill_wait_s
        for r in self.obligations.hedges:
            if r.filled_lots > r.booked_lots and self._known_at.get(int(r.id or 0), 0.0) <= late:
                due.add(self.taker.key)
                self._known_at[int(r.id or 0)] = now  # fetched again after another wait at most
        for key in due:
            venue, symbol = key.split(":", 1)
            await self.settler.fetch_fills(venue, symbol)
        if due:
            self.collect()
            self.book_fills()

    # ---- hedge orders ---------------------------------------------------------------------------

    async def _attempt(self, side: Side, lots: int) -> None:
        s, loop, now = self.schedule, asyncio.get_running_loop(), self.ctx.clock.now_ns()
        reference = self._reference(side, lots)
        limit = slippage_limit_ticks(
            side, reference / float(self.taker.tick_size), s.slippage_bps(self.attempts)
        )
        cid = self.ctx.orders.next_client_order_id()
        row = self.ostore.record_hedge(
            HedgeOrderRow(
                strategy=self.name,
                client_order_id=cid,
                taker_market=self.taker.key,
                side=side.value,
                size_lots=lots,
                limit_ticks=limit,
                attempt=self.attempts + 1,
                outcome="sent",
                created_ns=now,
            )
        )
        self.obligations.hedges.append(row)
        self.attempts += 1
        self.counters.attempts += 1
        for o in self.book.open:
            self.ostore.update_obligation(o.id, attempts=self.attempts)
        self.sending = True
        try:
            error, retry_after = await self._send(side, limit, lots)
        finally:
            self.sending = False
        order = self.ctx.orders.live.get(cid) or self._tracked.get(cid)
        self._record_outcome(row, order, error)
        if row.filled_lots > 0:  # progress: the rest goes at once, from the first limit again
            self.attempts, self._next_attempt = 0, loop.time()
            return
        self._next_attempt = loop.time() + self.backoff.delay_s(self.attempts - 1, retry_after)
        if self.attempts >= s.max_attempts:
            self.escalate(f"{self.attempts} attempts in a row traded nothing")

    async def _send(self, side: Side, limit: int, lots: int) -> tuple[str | None, float | None]:
        """Submit the IOC; returns (the venue's refusal or error, its Retry-After)."""
        ioc = NewOrder(side, limit, lots, TimeInForce.IOC, reduces_exposure=True)  # no gross limit refuses it
        try:
            sent = await self.ctx.orders.submit(self.taker_slot, [ioc])
        except RateLimited as exc:
            self.counters.rate_limited += 1
            return f"RateLimited: {exc}", exc.retry_after_s
        except AuthError as exc:
            self.counters.auth_failed += 1
            self.escalate(f"authentication refused: {exc}")
            return f"AuthError: {exc}", None
        except Exception as exc:  # an error class of its own: counted, the order settled from the venue
            kind = type(exc).__name__
            self.counters.errors[kind] = self.counters.errors.get(kind, 0) + 1
            log.warning("xemm %s: hedge order failed with %s: %s", self.name, kind, exc)
            return f"{kind}: {exc}", None
        for order in sent:
            self._tracked[order.client_order_id] = order
        return None, None

    def _record_outcome(self, row: HedgeOrderRow, order: Order | None, error: str | None) -> None:
        now = self.ctx.clock.now_ns()
        self._known_at[int(row.id or 0)] = asyncio.get_running_loop().time()
        if order is None:  # never sent (risk refused it) or refused by the venue and closed
            if self.ctx.store.get_order(row.client_order_id) is None:
                self.counters.risk_refused += error is None
                # the id was not used: the next order gets it, so this row must not name it
                self.ostore.update_hedge(row, client_order_id=f"-{row.id}")
            self.ostore.update_hedge(row, outcome="known", error=error or "refused by risk", settled_ns=now)
            return
        if order.state.is_terminal:
            self._tracked.pop(order.client_order_id, None)
            if order.state is OrderState.REJECTED:
                self.counters.rejected += 1
            self.counters.filled += order.filled_lots > 0
            self.attempts = 0 if order.filled_lots > 0 else self.attempts
            self.ostore.update_hedge(
                row, outcome="known", filled_lots=order.filled_lots, settled_ns=now,
                error=error or (order.reason if order.filled_lots < order.request.size_lots else None),
            )  # fmt: skip
            return
        self.counters.unknown_outcome += 1
        self._tracked[order.client_order_id] = order
        self.ostore.update_hedge(
            row, outcome="unknown", error=error or f"{order.state.value} after the answer"
        )

    async def _settle_outcomes(self) -> bool:
        """Ask the venue how unknown hedges ended; True once every outcome is known."""
        done = True
        for row in [r for r in self.obligations.hedges if r.outcome in OPEN_OUTCOMES]:
            order = self.ctx.orders.live.get(row.client_order_id) or self._tracked.get(row.client_order_id)
            if order is not None:
                if not await self.settler.outcome_known(order):
                    done = False
                    continue
                self._record_outcome(row, order, row.error)
                continue
            stored = self.ctx.store.get_order(row.client_order_id)
            if stored is not None and OrderState(stored.state).is_live:
                done = False  # a previous run's order the start-up reconciliation still tracks
                continue
            filled = 0 if stored is None else stored.filled_lots
            self.ostore.update_hedge(
                row, outcome="known", filled_lots=filled, settled_ns=self.ctx.clock.now_ns()
            )
            self.attempts = 0 if filled > 0 else self.attempts
        self.book_fills()
        return done

    def _reference(self, side: Side, lots: int) -> float:
        """What the limit widens from: the price the oldest open obligation expected, or after an
        escalation (the market moved away) the taker book now."""
        now = self.taker_price(side, self.taker.size(lots))
        expected = next((o.expected_price for o in self.book.open), None)
        first, second = (now, expected) if self.escalated else (expected, now)
        price = first if first is not None else second
        if price is None:
            return float(self.ctx.state.mid_price[self.taker_slot])
        return price

    # ---- escalation -------------------------------------------------------------------------------

    def escalate(self, why: str) -> None:
        if self.escalated:
            return
        self.escalated = True
        self.on_busy()
        self.counters.escalations += 1
        now, net = self.ctx.clock.now_ns(), self.book.net_base()
        oldest = self.book.oldest_ns()
        age_s = 0.0 if oldest is None else (now - oldest) / NS
        log.error(
            "ALERT xemm %s: %s %s unhedged for %.1f s on %s after %d attempts (%s); maker markets paused",
            self.name, net, self.taker.base, age_s, self.taker.key, self.attempts, why,
        )  # fmt: skip
        self.on_escalate()
        self.ctx.store.record_event(
            "alert", now, strategy=self.name, reason="xemm_hedge_escalated", why=why,
            taker_market=self.taker.key, unhedged_base=str(net), age_s=round(age_s, 3),
            attempts=self.attempts, open_obligations=len(self.book.open),
        )  # fmt: skip
