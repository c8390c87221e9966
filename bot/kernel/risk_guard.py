"""Pause and resume for a running bot: the kill switch's checks, operator commands, cool-downs.

A pause keeps every piece of state (positions, PnL, tracked orders) and pulls the quotes: the
engine requotes every market to nothing and every open order of ours is cancelled, active
strategies included. Each pause and resume is logged with its numbers and stored as an event.

With a `ControlStore` attached (`restore`, at start before anything quotes) the pause, the kill
switch's trip and its loss baselines are kept in the store as they change and taken back at the
next start: a paused bot stays paused through crashes and restarts until it is resumed.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from decimal import Decimal

from bot.core.clock import Clock
from bot.kernel.control_store import KILL_SWITCH_TRIP, LOSS_BASELINES, OPERATOR_PAUSE, ControlStore
from bot.kernel.engine import Engine
from bot.kernel.kill_switch import (
    KillSwitch,
    LossBaselines,
    RiskSample,
    Trip,
    trip_from_dict,
    trip_to_dict,
)
from bot.kernel.order_manager import OrderManager
from bot.kernel.risk_config import RiskConfig
from bot.kernel.store import Store

log = logging.getLogger("mmbot.risk")

Alert = Callable[[str, str], None]  # (kind, text): notifications, metrics


class RiskGuard:
    def __init__(
        self, limits: RiskConfig, engine: Engine, orders: OrderManager, store: Store, clock: Clock
    ) -> None:
        self.kill_switch = KillSwitch(limits)
        self.engine = engine
        self.orders = orders
        self.store = store
        self.clock = clock
        self.paused_by: str | None = None  # "kill_switch" or "operator"
        self.pause_reason: str | None = None
        self.trips = 0
        self.alerts: list[Alert] = []
        self.controls: ControlStore | None = None  # where pauses, trips and baselines are kept
        self._last_mid: dict[int, Decimal] = {}
        # Inventory held at start (relative to each market's target) gains and loses too: it is
        # marked from the first mid seen, so a crash on start-up inventory counts.
        self._start: dict[int, tuple[Decimal, Decimal]] = {}  # slot -> (position, mid) at first mid
        # The baselines not yet written (deferred store): a backtest is never restarted, so they are
        # written once when the checks stop, not a control row per simulated check.
        self._held_baselines: tuple[LossBaselines, int] | None = None  # and the check's time

    @property
    def limits(self) -> RiskConfig:
        return self.kill_switch.limits

    def update_limits(self, limits: RiskConfig) -> None:
        self.kill_switch.update_limits(limits)

    def restore(self, controls: ControlStore) -> None:
        """Keep control state in `controls` from now on, and take back what it kept: the pause,
        the trip and the loss baselines. Called at start, before the engine quotes anything."""
        self.controls = controls
        trip = controls.get(KILL_SWITCH_TRIP)
        if trip is not None:
            self.kill_switch.restore_trip(trip_from_dict(trip))
        baselines = controls.get(LOSS_BASELINES)
        if baselines is not None:
            self.kill_switch.carry(LossBaselines.from_dict(baselines))
        pause = controls.get(OPERATOR_PAUSE)
        tripped = self.kill_switch.tripped
        if pause is None and tripped is not None:  # stopped between storing the trip and the pause
            pause = {"source": "kill_switch", "reason": f"kill switch {tripped.rule}: {tripped.message}"}
        if pause is not None:
            self.paused_by, self.pause_reason = str(pause["source"]), str(pause["reason"])
            log.warning("still paused from before the restart (%s): %s", self.paused_by, self.pause_reason)
            self.engine.set_paused(True, f"{self.pause_reason} (kept across the restart)")

    # ---- live numbers ----------------------------------------------------------------------

    def pnl_total(self) -> Decimal:
        """Mark-to-market PnL of every market since start, at the last known mid of each."""
        state = self.engine.state
        total = Decimal(0)
        for slot, pnl in enumerate(self.orders.pnl):
            mid = state.mid_decimal(slot)
            if mid is not None:
                self._last_mid[slot] = mid
            else:
                mid = self._last_mid.get(slot)
            if mid is None:
                continue
            if slot not in self._start:
                held = state.markets[slot].size(int(state.position_lots[slot])) - pnl.position_base
                self._start[slot] = (held, mid)
            held, first_mid = self._start[slot]
            total += pnl.pnl_at(mid) + held * (mid - first_mid)
        return total

    def sample(self) -> RiskSample:
        state = self.engine.state
        mids = {
            m.key: float(state.mid_price[slot])
            for slot, m in enumerate(state.markets)
            if math.isfinite(state.mid_price[slot])
        }
        counters = self.orders.counters
        return RiskSample(
            ts_ns=self.clock.now_ns(),
            pnl_quote=self.pnl_total(),
            inventory_notional=self.orders.total_position_notional(),
            orders_sent_total=counters.placed + counters.rejected,
            mids=mids,
        )

    # ---- checks ----------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.limits.check_interval_s)
                try:
                    await self.check_once()
                except Exception:
                    log.exception("risk check failed")
        finally:
            self._write_baselines()

    async def check_once(self) -> Trip | None:
        sample = self.sample()
        trip = self.kill_switch.check(sample)
        self._keep_baselines(sample)
        if trip is not None:
            self.trips += 1
            if self.controls is not None:
                self.controls.put(KILL_SWITCH_TRIP, trip_to_dict(trip), trip.ts_ns)
            self.store.record_event(
                "kill_switch",
                trip.ts_ns,
                rule=trip.rule,
                value=trip.value,
                limit=trip.limit,
                msg=trip.message,
            )
            self._alert("kill_switch", f"kill switch {trip.rule}: {trip.message}")
            if self.paused_by is None:
                await self.pause("kill_switch", f"kill switch {trip.rule}: {trip.message}")
            return trip
        if self.paused_by == "kill_switch" and self.kill_switch.auto_resume_due(sample.ts_ns):
            await self.resume("cool-down", sample)
        return None

    # ---- commands --------------------------------------------------------------------------

    async def pause(self, source: str, reason: str) -> None:
        """Pull every quote and keep the state; `source` is "kill_switch" or "operator"."""
        if self.paused_by is None or source == "operator":
            self.paused_by, self.pause_reason = source, reason
        if self.controls is not None:
            pause = {"source": self.paused_by, "reason": self.pause_reason}
            self.controls.put(OPERATOR_PAUSE, pause, self.clock.now_ns())
        self.engine.set_paused(True, reason)
        self.store.record_event("pause", self.clock.now_ns(), source=source, reason=reason)
        self._alert("pause", f"quoting paused ({source}): {reason}")
        await self.orders.cancel_all()

    async def resume(self, source: str, sample: RiskSample | None = None) -> bool:
        """Quote again; an operator's resume also clears a kill-switch trip and today's loss."""
        if self.paused_by is None:
            return False
        by_operator = source != "cool-down"
        sample = sample or self.sample()
        self.kill_switch.reset(sample, by_operator=by_operator)
        previous = self.pause_reason
        self.paused_by = self.pause_reason = None
        if self.controls is not None:
            self.controls.remove(KILL_SWITCH_TRIP)
            self.controls.remove(OPERATOR_PAUSE)
        self._keep_baselines(sample)
        self.engine.set_paused(False, f"resumed by {source}")
        self.store.record_event("resume", self.clock.now_ns(), source=source, paused_for=previous)
        self._alert("resume", f"quoting resumed ({source}) after: {previous}")
        return True

    def _keep_baselines(self, sample: RiskSample) -> None:
        baselines = self.kill_switch.baselines(sample)
        self._held_baselines = None if baselines is None else (baselines, sample.ts_ns)
        if not self.store.deferred:
            self._write_baselines()

    def _write_baselines(self) -> None:
        held, self._held_baselines = self._held_baselines, None
        if self.controls is not None and held is not None:
            self.controls.put(LOSS_BASELINES, held[0].to_dict(), held[1])

    def _alert(self, kind: str, text: str) -> None:
        for alert in self.alerts:
            try:
                alert(kind, text)
            except Exception:
                log.exception("alert hook failed")
