"""Fault injection for the Binance facade: a plan tests script at run time, or set from a config
(`FaultParams`, connectors/mock/params.py).

Each field is one kind of misbehaviour a real exchange shows. Counters say how often a fault
actually fired, so a test can assert that it exercised what it claims to.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.core.domain import Balance
from connectors.mock.params import FaultParams


@dataclass
class Faults:
    """The facade's fault plan; tests flip fields while a client runs."""

    reject_next: int = 0
    """REST requests still to be answered with `reject_status` (429 by default)."""
    reject_status: int = 429
    retry_after_s: float = 1.0
    fail_before_next: int = 0
    """Requests matching `fail_path`/`fail_method` answered 503 without being executed."""
    fail_after_next: int = 0
    """Requests matching `fail_path`/`fail_method` executed, then answered 503 (outcome unknown)."""
    delay_after_next: int = 0
    """Requests matching `fail_path`/`fail_method` executed, then answered `delay_ms` later (a
    client timeout shorter than that sees an unknown outcome)."""
    delay_ms: float = 0.0
    fail_path: str = "/api/v3/order"
    fail_method: str = "POST"
    error_rate: float = 0.0
    """Share of signed REST requests answered 503: half before, half after executing them."""
    rate_limit_rate: float = 0.0
    """Share of REST requests answered 429 with Retry-After `retry_after_s`."""
    ack_delay_ms: float = 0.0
    """Every new-order answer is held back this long (fills can reach the stream before the ack)."""
    freeze_depth: bool = False
    """Depth diffs are lost (the stream goes quiet but stays connected) while the book moves on:
    REST `/depth` serves the moved book, as a real venue's would during a stall."""
    freeze_user: bool = False
    """User data events are lost (the private stream goes quiet but stays connected)."""
    duplicate_user_events: bool = False
    reorder_user_events: bool = False
    """Each user event is held back and sent after the next one (pairs swapped)."""
    balance_lag_ms: float = 0.0
    """/api/v3/account answers balances as they were this long ago."""
    corrupt_trade_reports: int = 0
    """The next real trade reports (executionReport, x=TRADE) still to go out with
    `trade_report_overrides` written over their fields (a fee "abc": the venue garbled a real trade)."""
    trade_report_overrides: dict[str, Any] = field(default_factory=dict)
    unavailable: bool = False
    """Every REST request answered 503 without being executed (the venue down for maintenance)."""
    unavailable_after_s: float | None = None
    """`unavailable` from this many seconds after the first signed request (a config's plan: an
    outage that far into a client's session, whenever the client started)."""
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    # what fired
    rejected: int = 0
    errors_injected: int = 0
    delayed: int = 0
    fills_before_ack: int = 0
    user_events_lost: int = 0
    user_events_duplicated: int = 0
    user_events_reordered: int = 0
    trade_reports_corrupted: int = 0
    corrupted_trades: list[tuple[str, str]] = field(default_factory=list)
    """(symbol, trade id) of the real trades whose reports went out corrupted, in order."""
    unavailable_answers: int = 0
    raw_frames_sent: int = 0
    """Frames injected as given (FacadeCore.send_raw): malformed JSON, missing fields, bad prices."""

    @classmethod
    def from_params(cls, params: FaultParams | None) -> Faults:
        if params is None:
            return cls()
        return cls(
            error_rate=params.error_rate,
            rate_limit_rate=params.rate_limit_rate,
            retry_after_s=params.retry_after_s,
            ack_delay_ms=params.ack_delay_ms,
            duplicate_user_events=params.duplicate_user_events,
            reorder_user_events=params.reorder_user_events,
            balance_lag_ms=params.balance_lag_ms,
            unavailable_after_s=params.unavailable_after_s,
            rng=random.Random(params.seed),
        )

    def random_failure(self) -> str | None:
        """'before' / 'after' (executed) for an injected 503, else None."""
        if self.error_rate > 0 and self.rng.random() < self.error_rate:
            self.errors_injected += 1
            return "before" if self.rng.random() < 0.5 else "after"
        return None


# Held user event released after this long when no successor comes to swap with.
_REORDER_FLUSH_S = 0.2


class UserStreamShaper:
    """Applies the user-stream faults (loss, duplicates, swapped pairs) to outgoing events."""

    def __init__(self, faults: Callable[[], Faults], send: Callable[[Any], None]) -> None:
        self._faults = faults
        self._send = send
        self._held: Any = None
        self._flush: asyncio.TimerHandle | None = None

    def __call__(self, event: Any) -> None:
        faults = self._faults()
        if faults.freeze_user:
            faults.user_events_lost += 1
            return
        copies = 2 if faults.duplicate_user_events else 1
        faults.user_events_duplicated += copies - 1
        if faults.reorder_user_events:
            if self._held is None:
                self._held = event
                self._flush = asyncio.get_running_loop().call_later(_REORDER_FLUSH_S, self._release)
                return
            faults.user_events_reordered += 1
            for _ in range(copies):
                self._send(event)
            self._release()
            return
        self._release()
        for _ in range(copies):
            self._send(event)

    def _release(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        held, self._held = self._held, None
        if held is not None:
            self._send(held)


class BalanceHistory:
    """Recent balance views of the account, for a /account that lags behind fills."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._views: deque[tuple[int, dict[str, Balance]]] = deque(maxlen=capacity)

    def record(self, ts_ns: int, balances: dict[str, Balance]) -> None:
        self._views.append((ts_ns, dict(balances)))

    def as_of(self, ts_ns: int, current: dict[str, Balance]) -> dict[str, Balance]:
        """The newest view not newer than `ts_ns` (the oldest kept one if all are newer)."""
        found = None
        for view_ts, view in reversed(self._views):
            found = view
            if view_ts <= ts_ns:
                return view
        return found if found is not None else current
