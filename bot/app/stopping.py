"""The stop's time budget: every step of a stop ends within `stop_timeout_s`, whatever the venues do.

A venue that answers 503 to everything makes each request retry with backoff until the adapter
gives up; a stop that waited for each in turn took twice its timeout and ended in a traceback.
Each step now gets what is left of the budget minus what the steps after it keep for themselves
(`keep_s`), and a step that fails or runs out of time is one log line (its traceback at DEBUG) and
skipped: what it would have done is done by the next start's reconciliation (orders still open
are cancelled or adopted, fills stored, balances snapshotted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

from connectors.base import VenueError

log = logging.getLogger("mmbot")

T = TypeVar("T")


class StopBudget:
    """Seconds left until the stop's deadline on the running loop's clock."""

    def __init__(self, total_s: float, deadline: float | None = None) -> None:
        """`deadline`: when the stop was asked for plus the timeout (default: from now)."""
        self.total_s = total_s
        self.deadline = asyncio.get_running_loop().time() + total_s if deadline is None else deadline
        self.skipped: list[str] = []

    def left(self, keep_s: float = 0.0) -> float:
        return max(0.0, self.deadline - asyncio.get_running_loop().time() - keep_s)

    async def step(self, what: str, work: Awaitable[T], keep_s: float) -> T | None:
        """Run `work` for what is left minus `keep_s`; None (logged, recorded) if it fails or times out."""
        timeout = self.left(keep_s)
        try:
            return await asyncio.wait_for(work, timeout)
        except TimeoutError:
            log.warning("stop: %s did not finish in its %.1f s of stop_timeout_s; left to the next start",
                        what, timeout)  # fmt: skip
        except VenueError as exc:
            log.warning("stop: %s failed (left to the next start): %s", what, exc)
        except Exception as exc:
            log.error("stop: %s failed: %s: %s", what, type(exc).__name__, exc)
            log.debug("stop: %s failed", what, exc_info=True)
        self.skipped.append(what)
        return None
