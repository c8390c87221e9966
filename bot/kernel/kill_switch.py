"""Kill switch: limits on the bot's running totals that pause quoting when crossed.

A pure state machine: the bot feeds it one `RiskSample` per check and acts on the `Trip` it
returns (pause, cancel, log, store, notify). Rules, each off unless configured in [risk]:

- drawdown: PnL fell `max_drawdown_quote` below its peak (the peak restarts at each resume),
- daily loss: PnL fell `daily_loss_limit_quote` below its value at 00:00 UTC,
- inventory: sum of |position| · mid above `max_inventory_notional`,
- order rate: more than `max_orders_per_minute` orders sent in the last 60 s,
- price jump: a market's mid moved more than `max_price_jump_pct` since the previous check
  (a bad tick, a depeg or a flash crash: quoting into it is how market makers get run over).

After a trip the switch stays tripped until `reset` (an operator's resume, or `auto_resume_due`
after `pause_cooldown_s`). A daily-loss trip never auto-resumes before the next UTC day.

Across restarts (the risk guard stores both): a trip is put back with `restore_trip`, and the
references of drawdown and daily loss with `carry`. PnL restarts at 0 in each process, so the
stored references are shifted onto the new process's PnL at its first check: the loss since
00:00 UTC and the drawdown from the peak carry on where they were (price moves while the bot was
down are not seen; the first check of a day a bot was down at midnight is that day's reference).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from bot.core.clock import NS_PER_S
from bot.kernel.risk_config import RiskConfig

DAY_NS = 86_400 * NS_PER_S
RATE_WINDOW_NS = 60 * NS_PER_S


@dataclass(frozen=True, slots=True)
class RiskSample:
    ts_ns: int
    pnl_quote: Decimal
    inventory_notional: Decimal
    orders_sent_total: int  # monotonic count of order requests sent
    mids: dict[str, float]  # market key -> mid (markets without a mid left out)


@dataclass(frozen=True, slots=True)
class Trip:
    rule: str
    message: str
    value: float
    limit: float
    ts_ns: int
    resume_after_ns: int | None  # None: only an operator's resume


@dataclass(frozen=True, slots=True)
class LossBaselines:
    """The references of drawdown and daily loss at one check, with the PnL they relate to."""

    ts_ns: int
    pnl_quote: Decimal  # the PnL of that check, on its process's scale
    peak_pnl: Decimal
    day_start_pnl: Decimal  # the PnL at 00:00 UTC of ts_ns's day (its first check)

    def to_dict(self) -> dict[str, str | int]:
        return {
            "ts_ns": self.ts_ns,
            "pnl_quote": str(self.pnl_quote),
            "peak_pnl": str(self.peak_pnl),
            "day_start_pnl": str(self.day_start_pnl),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LossBaselines:
        return cls(
            int(d["ts_ns"]), Decimal(d["pnl_quote"]), Decimal(d["peak_pnl"]), Decimal(d["day_start_pnl"])
        )


def trip_to_dict(trip: Trip) -> dict[str, Any]:
    return asdict(trip)


def trip_from_dict(d: dict[str, Any]) -> Trip:
    after = d.get("resume_after_ns")
    return Trip(
        str(d["rule"]),
        str(d["message"]),
        float(d["value"]),
        float(d["limit"]),
        int(d["ts_ns"]),
        None if after is None else int(after),
    )


class KillSwitch:
    def __init__(self, limits: RiskConfig) -> None:
        self.limits = limits
        self.tripped: Trip | None = None
        self.peak_pnl: Decimal | None = None
        self._day: int | None = None
        self.day_start_pnl: Decimal = Decimal(0)
        self._last_mids: dict[str, float] = {}
        self._sent: deque[tuple[int, int]] = deque()  # (ts_ns, orders_sent_total)
        self._carried: LossBaselines | None = None  # from before a restart, applied at the next check

    def update_limits(self, limits: RiskConfig) -> None:
        """New limits apply from the next check (hot reload); a current trip stays."""
        self.limits = limits

    def restore_trip(self, trip: Trip) -> None:
        """The trip held before a restart: tripped again until `reset`, as if never stopped."""
        self.tripped = trip

    def carry(self, baselines: LossBaselines) -> None:
        """References stored before a restart; shifted onto this process's PnL at the next check."""
        self._carried = baselines

    def baselines(self, sample: RiskSample) -> LossBaselines | None:
        """The references after checking `sample` (None before the first check)."""
        if self.peak_pnl is None or self._carried is not None:
            return self._carried
        return LossBaselines(sample.ts_ns, sample.pnl_quote, self.peak_pnl, self.day_start_pnl)

    def check(self, sample: RiskSample) -> Trip | None:
        """Update the running references; return a new trip, or None (also while tripped)."""
        self._apply_carried(sample)
        self._roll_day(sample)
        if self.peak_pnl is None or sample.pnl_quote > self.peak_pnl:
            self.peak_pnl = sample.pnl_quote
        self._sent.append((sample.ts_ns, sample.orders_sent_total))
        while self._sent and self._sent[0][0] < sample.ts_ns - RATE_WINDOW_NS:
            self._sent.popleft()
        jumps = self._price_jumps(sample.mids)
        self._last_mids.update(sample.mids)
        if self.tripped is not None:
            return None
        trip = self._first_breach(sample, jumps)
        self.tripped = trip
        return trip

    def auto_resume_due(self, now_ns: int) -> bool:
        t = self.tripped
        return t is not None and t.resume_after_ns is not None and now_ns >= t.resume_after_ns

    def reset(self, sample: RiskSample, *, by_operator: bool) -> None:
        """Clear the trip; references restart from now (an operator also accepts today's loss)."""
        self._apply_carried(sample)  # a resume before the first check after a restart
        self.tripped = None
        self.peak_pnl = sample.pnl_quote
        self._sent.clear()
        self._sent.append((sample.ts_ns, sample.orders_sent_total))
        self._last_mids = dict(sample.mids)
        if by_operator:
            self.day_start_pnl = sample.pnl_quote
            self._day = sample.ts_ns // DAY_NS

    # ---- rules -----------------------------------------------------------------------------

    def _apply_carried(self, sample: RiskSample) -> None:
        carried, self._carried = self._carried, None
        if carried is None:
            return
        offset = sample.pnl_quote - carried.pnl_quote  # this process's PnL scale minus the old one
        self.peak_pnl = carried.peak_pnl + offset
        if carried.ts_ns // DAY_NS == sample.ts_ns // DAY_NS:
            self._day = sample.ts_ns // DAY_NS
            self.day_start_pnl = carried.day_start_pnl + offset

    def _roll_day(self, sample: RiskSample) -> None:
        day = sample.ts_ns // DAY_NS
        if self._day != day:
            self._day = day
            self.day_start_pnl = sample.pnl_quote

    def _price_jumps(self, mids: dict[str, float]) -> list[tuple[str, float]]:
        out = []
        for key, mid in mids.items():
            before = self._last_mids.get(key)
            if before and before > 0 and math.isfinite(mid):
                out.append((key, abs(mid / before - 1.0) * 100.0))
        return out

    def _first_breach(self, s: RiskSample, jumps: list[tuple[str, float]]) -> Trip | None:
        lim = self.limits
        if lim.max_drawdown_quote is not None and self.peak_pnl is not None:
            drawdown = self.peak_pnl - s.pnl_quote
            if drawdown > lim.max_drawdown_quote:
                return self._trip(
                    s,
                    "drawdown",
                    f"PnL {s.pnl_quote:.4f} is {drawdown:.4f} below its peak {self.peak_pnl:.4f} "
                    f"(max_drawdown_quote {lim.max_drawdown_quote})",
                    drawdown,
                    lim.max_drawdown_quote,
                )
        if lim.daily_loss_limit_quote is not None:
            loss = self.day_start_pnl - s.pnl_quote
            if loss > lim.daily_loss_limit_quote:
                next_day_ns = (s.ts_ns // DAY_NS + 1) * DAY_NS
                return self._trip(
                    s,
                    "daily_loss",
                    f"lost {loss:.4f} since 00:00 UTC (PnL {self.day_start_pnl:.4f} -> {s.pnl_quote:.4f}; "
                    f"daily_loss_limit_quote {lim.daily_loss_limit_quote})",
                    loss,
                    lim.daily_loss_limit_quote,
                    not_before_ns=next_day_ns,
                )
        if lim.max_inventory_notional is not None and s.inventory_notional > lim.max_inventory_notional:
            return self._trip(
                s,
                "inventory",
                f"inventory value {s.inventory_notional:.4f} > max_inventory_notional "
                f"{lim.max_inventory_notional}",
                s.inventory_notional,
                lim.max_inventory_notional,
            )
        if lim.max_orders_per_minute is not None and self._sent:
            sent = s.orders_sent_total - self._sent[0][1]
            if sent > lim.max_orders_per_minute:
                return self._trip(
                    s,
                    "order_rate",
                    f"{sent} orders sent in the last minute > max_orders_per_minute "
                    f"{lim.max_orders_per_minute}",
                    sent,
                    lim.max_orders_per_minute,
                )
        if lim.max_price_jump_pct is not None:
            for key, pct in jumps:
                if pct > lim.max_price_jump_pct:
                    return self._trip(
                        s,
                        "price_jump",
                        f"{key} mid moved {pct:.3f}% since the previous check "
                        f"(max_price_jump_pct {lim.max_price_jump_pct})",
                        pct,
                        lim.max_price_jump_pct,
                    )
        return None

    def _trip(
        self,
        s: RiskSample,
        rule: str,
        message: str,
        value: Decimal | float | int,
        limit: Decimal | float | int,
        not_before_ns: int = 0,
    ) -> Trip:
        cooldown = self.limits.pause_cooldown_s
        resume_after = None if cooldown is None else max(s.ts_ns + int(cooldown * NS_PER_S), not_before_ns)
        return Trip(rule, message, float(value), float(limit), s.ts_ns, resume_after)
