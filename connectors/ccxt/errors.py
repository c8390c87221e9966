"""ccxt exceptions to the venue errors of connectors.base, and what each means for a retry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import ccxt

from connectors.base import (
    AuthError,
    InsufficientBalance,
    OrderNotFound,
    OrderRejected,
    PostOnlyWouldCross,
    RateLimited,
    VenueError,
    VenueUnavailable,
)


@dataclass(frozen=True, slots=True)
class MappedError:
    error: VenueError
    retryable: bool
    """Worth another try after a pause (rate limit, network, 5xx)."""
    not_executed: bool
    """The venue certainly did not act on the request, so even a create may be re-sent."""


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None when absent or bad."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def map_ccxt_error(
    venue: str,
    exc: Exception,
    what: str,
    *,
    is_create: bool = False,
    headers: Mapping[str, str] | None = None,
    http_status: int | None = None,
) -> MappedError:
    """Our error for a ccxt exception raised by the call described by `what`.

    `http_status` (when known) wins over ccxt's class: a 5xx means the request may or may not
    have been executed whatever code the body carried, and 429/418 mean it was not.
    Order of the checks matters: ccxt's hierarchy nests RateLimitExceeded and InvalidNonce under
    NetworkError, and OrderNotFound / OrderImmediatelyFillable under InvalidOrder.
    """
    msg = f"{what}: {type(exc).__name__}: {_short(exc)}"
    if http_status is not None and http_status >= 500:
        return MappedError(
            VenueUnavailable(venue, f"HTTP {http_status}: {msg}"), retryable=True, not_executed=False
        )
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection) or http_status in (418, 429):
        after = retry_after_s(headers)
        return MappedError(RateLimited(venue, msg, after), retryable=True, not_executed=True)
    if isinstance(exc, ccxt.InvalidNonce) and not isinstance(exc, ccxt.ChecksumError):
        # Timestamp outside recvWindow: refused before matching; a fresh timestamp may pass.
        return MappedError(VenueUnavailable(venue, msg), retryable=True, not_executed=True)
    if isinstance(exc, ccxt.OperationFailed):  # NetworkError, BadResponse, "internal error" codes
        return MappedError(VenueUnavailable(venue, msg), retryable=True, not_executed=False)
    if isinstance(exc, ccxt.AuthenticationError):
        return MappedError(AuthError(venue, msg), retryable=False, not_executed=True)
    if isinstance(exc, ccxt.InsufficientFunds):
        return MappedError(InsufficientBalance(venue, msg), retryable=False, not_executed=True)
    if isinstance(exc, ccxt.OrderImmediatelyFillable):
        return MappedError(PostOnlyWouldCross(venue, msg), retryable=False, not_executed=True)
    if isinstance(exc, ccxt.OrderNotFound):
        return MappedError(OrderNotFound(venue, msg), retryable=False, not_executed=True)
    if isinstance(exc, ccxt.InvalidOrder) or (is_create and isinstance(exc, ccxt.ExchangeError)):
        return MappedError(OrderRejected(venue, msg), retryable=False, not_executed=True)
    if isinstance(exc, ccxt.BaseError):
        return MappedError(VenueError(venue, msg), retryable=False, not_executed=True)
    # Anything else escaping ccxt (a bug, an aiohttp error it did not wrap): outcome unknown.
    return MappedError(VenueUnavailable(venue, msg), retryable=False, not_executed=False)


def _short(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
