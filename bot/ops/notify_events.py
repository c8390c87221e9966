"""What a running bot tells its operator, through `bot.ops.notify.Notifier`.

- pauses, resumes and kill-switch trips: the risk guard's alert hooks,
- strategy alerts (an XEMM hedge or an arbitrage leg that failed) and operator resumes of a
  strategy's market: the stored events of those kinds,
- a venue disconnected for longer than `venue_disconnect_alert_s`, and its reconnection,
- a supervised task that died of an unexpected error (not a dropped connection: the venue alert
  covers those) and its recovery; a strategy (or any task) given up after repeated deaths,
- a config reload rejected (the bot runs on with the previous config),
- a periodic fills summary: fills, volume per quote asset and PnL change since the previous one.

Every hook only files a message; the notifier's own task sends it. The hooks watch a started bot
(`NotificationHooks`, attached to its `Runtime`); the notifier itself lives from the bot's creation
to its stop.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

from bot.core.clock import NS_PER_S
from bot.core.events import VenueEvent, VenueStatus
from bot.core.supervision import Supervisor, TaskChange, TaskState
from bot.kernel.runtime import Runtime
from bot.ops.metrics import BotMetrics
from bot.ops.notify import Notifier, sinks_from_env
from bot.ops.settings import NotifyConfig

log = logging.getLogger("mmbot.notify")

STORED_KINDS = frozenset({"alert", "market_resume", "reload_rejected"})


class BotNotifications:
    """The bot's notifier, and the hooks on its runtime once it started (none while disabled)."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.hooks: NotificationHooks | None = None

    @classmethod
    def from_config(cls, config: NotifyConfig, instance_id: str, metrics: BotMetrics) -> BotNotifications:
        return cls(Notifier(config, instance_id, sinks_from_env(config), metrics))

    @property
    def enabled(self) -> bool:
        return self.notifier.enabled

    def attach(self, rt: Runtime, supervisor: Supervisor | None = None) -> NotificationHooks | None:
        """Hook into a started bot (and the supervisor of its tasks); None when notifications are off."""
        if not self.enabled:
            return None
        self.hooks = NotificationHooks(self.notifier, rt)
        if supervisor is not None:
            supervisor.listeners.append(self.hooks.on_task_change)
        log.info("notifications on: %s", ", ".join(s.name for s in self.notifier.sinks))
        return self.hooks

    def start(self) -> None:
        self.notifier.start()

    async def stop(self) -> None:
        if self.hooks is not None:
            self.hooks.cancel_timers()
        await self.notifier.stop()


class NotificationHooks:
    """Files a message for each notifiable thing that happens to one started bot."""

    def __init__(self, notifier: Notifier, rt: Runtime) -> None:
        self.notifier = notifier
        self.config: NotifyConfig = notifier.config
        self.rt = rt
        self._down: dict[str, tuple[int, str, bool]] = {}  # venue -> (since_ns, detail, alerted)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        rt.risk_guard.alerts.append(self.on_risk_alert)
        rt.store.event_listeners.append(self.on_stored_event)
        rt.engine.listeners.append(self.on_venue_event)
        self._last_totals = self._totals()
        self._last_summary_ns = rt.clock.now_ns()

    def cancel_timers(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _now_ns(self) -> int:
        return self.rt.clock.now_ns()

    # ---- hooks ---------------------------------------------------------------------------------

    def on_risk_alert(self, kind: str, text: str) -> None:
        self.notifier.notify(kind, text, self._now_ns())

    def on_stored_event(self, kind: str, ts_ns: int, detail: dict[str, Any]) -> None:
        if kind not in STORED_KINDS:
            return
        fields = {k: v for k, v in detail.items() if k not in ("strategy", "reason")}
        who = detail.get("strategy", "?")
        if kind == "alert":
            text = f"ALERT {who}: {detail.get('reason', 'alert')} " + " ".join(
                f"{k}={v}" for k, v in fields.items()
            )
            key = f"alert:{who}:{detail.get('reason')}:{detail.get('maker_market', '')}"
        elif kind == "reload_rejected":  # the bot runs on with the previous config
            problems = detail.get("problems") or []
            text = f"config reload rejected, still running the previous config: {'; '.join(problems)}"
            key = None
        else:
            text = f"{who}: {detail.get('market')} resumed by the operator"
            key = None
        self.notifier.notify(kind, text.strip(), ts_ns, key=key, **{k: str(v) for k, v in detail.items()})

    def on_task_change(self, change: TaskChange) -> None:
        """The first death of a streak (unexpected errors only), the recovery the task reported
        after it, and a task given up."""
        name, state, previous = change.name, change.state, change.previous
        if state is TaskState.FAILED:
            kind = "strategy_failed" if name.startswith("strategy:") else "task_failed"
            text = f"{name} given up: {change.reason}"
        elif change.expected:
            return
        elif state is TaskState.RESTARTING and change.deaths_in_a_row == 1:
            kind, text = "task_died", f"task {name} died ({change.reason}); restarting"
        elif state is TaskState.UP and previous is TaskState.RESTARTING and change.deaths_in_a_row == 0:
            kind, text = "task_recovered", f"task {name} recovered ({change.reason})"
        else:
            return
        self.notifier.notify(
            kind, text, self._now_ns(), key=f"{kind}:{name}", task=name, reason=change.reason
        )

    def on_venue_event(self, event: VenueEvent) -> None:
        if not isinstance(event, VenueStatus):
            return
        venue, now = event.venue, self._now_ns()
        down = self._down.get(venue)
        if not event.connected:
            if down is None:
                self._down[venue] = (now, event.detail, False)
                loop = asyncio.get_running_loop()
                self._timers[venue] = loop.call_later(
                    self.config.venue_disconnect_alert_s, self._still_down, venue, now
                )
            return
        if down is None:
            return
        self._down.pop(venue)
        timer = self._timers.pop(venue, None)
        if timer is not None:
            timer.cancel()
        since_ns, _, alerted = down
        if alerted:
            down_s = (now - since_ns) / NS_PER_S
            self.notifier.notify(
                "venue_reconnected", f"venue {venue} reconnected after {down_s:.0f}s", now, venue=venue
            )

    def _still_down(self, venue: str, since_ns: int) -> None:
        self._timers.pop(venue, None)
        down = self._down.get(venue)
        if down is None or down[0] != since_ns:
            return
        now = self._now_ns()
        self._down[venue] = (since_ns, down[1], True)
        down_s = (now - since_ns) / NS_PER_S
        self.notifier.notify(
            "venue_disconnected",
            f"venue {venue} disconnected for {down_s:.0f}s ({down[1]}); its markets are not quoted",
            now,
            venue=venue,
            down_s=round(down_s, 3),
        )

    # ---- fills summary -------------------------------------------------------------------------

    def _totals(self) -> tuple[int, dict[str, Decimal], Decimal]:
        fills, volume = 0, dict[str, Decimal]()
        for pnl in self.rt.orders.pnl:
            fills += pnl.fills
            volume[pnl.quote] = volume.get(pnl.quote, Decimal(0)) + pnl.volume_quote
        return fills, volume, self.rt.risk_guard.pnl_total()

    async def fills_summary(self) -> None:
        """Scheduled job: fills, volume and PnL change since the previous summary."""
        fills, volume, pnl = self._totals()
        last_fills, last_volume, last_pnl = self._last_totals
        self._last_totals = (fills, volume, pnl)
        now = self._now_ns()
        period_s = (now - self._last_summary_ns) / NS_PER_S
        self._last_summary_ns = now
        traded = {q: v - last_volume.get(q, Decimal(0)) for q, v in volume.items()}
        traded = {q: v for q, v in traded.items() if v}
        volume_text = ", ".join(f"{v:.2f} {q}" for q, v in sorted(traded.items())) or "0"
        change = pnl - last_pnl
        self.notifier.notify(
            "fills_summary",
            f"last {period_s:.0f}s: {fills - last_fills} fills, volume {volume_text}, "
            f"PnL {change:+.4f} (since start {pnl:+.4f})",
            now,
            fills=fills - last_fills,
            volume={q: str(v) for q, v in traded.items()},
            pnl_change_quote=str(change),
            pnl_total_quote=str(pnl),
            period_s=round(period_s, 3),
        )
