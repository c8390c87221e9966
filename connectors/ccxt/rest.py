"""REST calls through ccxt with our retry policy and error mapping.

Reads and cancels are idempotent: retried on network errors, 5xx, 429/418. A create is re-sent
only when the venue certainly did not act on it (429/418, timestamp refusal); every other failure
of a create is the caller's to resolve by client order id (see CcxtVenue.place_order).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

import ccxt

from bot.core.backoff import Backoff
from connectors.base import RateLimited
from connectors.ccxt.errors import MappedError, map_ccxt_error

log = logging.getLogger("mmbot.ccxt")

T = TypeVar("T")

# Status and headers of the last HTTP answer ccxt got in this task. A ContextVar, not an attribute
# of the exchange: concurrent calls from other tasks cannot overwrite what this call saw.
_LAST_RESPONSE: ContextVar[tuple[int, Mapping[str, str]] | None] = ContextVar(
    "ccxt_last_response", default=None
)


def install_response_hook(exchange: Any) -> None:
    """Record each REST answer's status and headers (ccxt's on_rest_response hook)."""
    original = exchange.on_rest_response

    def on_rest_response(
        code: Any, reason: Any, url: Any, method: Any, headers: Any, body: Any, *rest: Any
    ) -> Any:
        _LAST_RESPONSE.set((int(code), headers or {}))
        return original(code, reason, url, method, headers, body, *rest)

    exchange.on_rest_response = on_rest_response


class RestCaller:
    def __init__(self, venue: str, exchange: Any, backoff: Backoff, max_retries: int) -> None:
        self.venue = venue
        self.exchange = exchange
        self.backoff = backoff
        self.max_retries = max_retries
        self.retries = 0
        """Retries made so far (all calls): a figure for tests and the status page."""
        self.last_delay_s = 0.0

    def map(self, exc: Exception, what: str, *, is_create: bool = False) -> MappedError:
        last = _LAST_RESPONSE.get()
        status, headers = last if last is not None else (None, None)
        return map_ccxt_error(self.venue, exc, what, is_create=is_create, headers=headers, http_status=status)

    @staticmethod
    def forget_response() -> None:
        """Call before a request so an error without an HTTP answer is not read as the last one's."""
        _LAST_RESPONSE.set(None)

    async def pause(self, attempt: int, mapped: MappedError, what: str) -> None:
        retry_after = mapped.error.retry_after_s if isinstance(mapped.error, RateLimited) else None
        delay = self.backoff.delay_s(attempt, retry_after)
        self.retries += 1
        self.last_delay_s = delay
        log.warning(
            "%s; retry %d/%d in %.2fs%s",
            mapped.error,  # already names the venue
            attempt + 1,
            self.max_retries,
            delay,
            f" (venue asked {retry_after:.2f}s)" if retry_after is not None else "",
        )
        await asyncio.sleep(delay)

    async def call(
        self,
        what: str,
        fn: Callable[[], Awaitable[T]],
        *,
        idempotent: bool = True,
        is_create: bool = False,
    ) -> T:
        """`await fn()`, retried as the policy allows; raises our VenueError subclasses."""
        attempt = 0
        while True:
            self.forget_response()
            try:
                return await fn()
            except ccxt.BaseError as exc:
                mapped = self.map(exc, what, is_create=is_create)
                may_retry = mapped.retryable and (idempotent or mapped.not_executed)
                if not may_retry or attempt >= self.max_retries:
                    if mapped.retryable:
                        log.warning("giving up after %d attempts: %s", attempt + 1, mapped.error)
                    raise mapped.error from exc
                await self.pause(attempt, mapped, what)
                attempt += 1
