"""What every facade REST request passes before its handler runs, the way Binance does it.

The request count, the rate limits (the facade's own `request_limit_per_s` and injected 429s),
the API key, timestamp and signature of signed endpoints, and the injected failures of the fault
plan (503 before or after executing, an answer held back past the client's timeout). A handler
sees only the request's parameters (and a signed one the account its API key belongs to); its
BinanceError becomes Binance's JSON error answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from connectors.mock.facade import codec
from connectors.mock.facade.account import FacadeAccount
from connectors.mock.facade.auth import KeyRing, check_timestamp, split_signed
from connectors.mock.facade.codec import BinanceError
from connectors.mock.facade.core import FacadeCore

log = logging.getLogger("mmbot.facade")

PublicHandler = Callable[[dict[str, str]], Awaitable[Any]]
"""A public endpoint: the request's parameters in, the JSON answer out (or a BinanceError)."""
SignedHandler = Callable[[dict[str, str], FacadeAccount], Awaitable[Any]]
"""A signed endpoint: parameters and the account of the request's API key in, the answer out."""
Endpoint = Callable[[web.Request], Awaitable[web.Response]]


class RequestGate:
    def __init__(self, core: FacadeCore, keys: KeyRing, request_limit_per_s: float | None) -> None:
        self.core = core
        self.keys = keys
        self.request_limit_per_s = request_limit_per_s
        self._recent: deque[int] = deque()
        self._first_signed_s: float | None = None
        self.counts: Counter[tuple[str, str]] = Counter()
        """Requests served per (method, path), rejected ones included."""

    def public(self, fn: PublicHandler) -> Endpoint:
        async def run(params: dict[str, str], account: FacadeAccount | None) -> Any:
            return await fn(params)

        return self._wrap(run, signed=False)

    def signed(self, fn: SignedHandler) -> Endpoint:
        async def run(params: dict[str, str], account: FacadeAccount | None) -> Any:
            assert account is not None  # the gate found the account of the request's key
            return await fn(params, account)

        return self._wrap(run, signed=True)

    def _wrap(
        self, run: Callable[[dict[str, str], FacadeAccount | None], Awaitable[Any]], *, signed: bool
    ) -> Endpoint:
        async def handle(request: web.Request) -> web.Response:
            self.counts[(request.method, request.path)] += 1
            try:
                self._check_available(signed)
                self._throttle()
                body = _text(await request.read()) if request.can_read_body else ""
                # Raw (still percent-encoded): the signature is over the text as sent.
                total = "&".join(p for p in (request.rel_url.raw_query_string, body) if p)
                payload, signature, params = split_signed(total)
                account = None
                if signed:
                    credentials = self.keys.check_key(request.headers.get("X-MBX-APIKEY"))
                    check_timestamp(params, self.core.now_ns() // codec.NS_PER_MS)
                    credentials.check_signature(payload, signature)
                    account = self.core.accounts[credentials.account_id]
                fault = self._injected_failure(request)
                if fault is None and signed:
                    fault = self.core.faults.random_failure()
                if fault == "before":
                    raise internal_error()
                result = await run(params, account)
                if fault == "after":
                    raise internal_error()
                if fault == "delay":  # executed; the answer comes after the client gave up
                    await asyncio.sleep(self.core.faults.delay_ms / 1000)
            except BinanceError as exc:
                log.debug(
                    "%s %s -> %d %d %s", request.method, request.path, exc.http_status, exc.code, exc.msg
                )
                return web.json_response(exc.body(), status=exc.http_status, headers=exc.headers)
            return web.Response(
                text=json.dumps(result, separators=(",", ":")), content_type="application/json"
            )

        return handle

    def _injected_failure(self, request: web.Request) -> str | None:
        faults = self.core.faults
        if request.path != faults.fail_path or request.method != faults.fail_method:
            return None
        if faults.fail_before_next > 0:
            faults.fail_before_next -= 1
            return "before"
        if faults.fail_after_next > 0:
            faults.fail_after_next -= 1
            return "after"
        if faults.delay_after_next > 0:
            faults.delay_after_next -= 1
            faults.delayed += 1
            return "delay"
        return None

    def _check_available(self, signed: bool) -> None:
        faults = self.core.faults
        now = time.monotonic()
        if signed and self._first_signed_s is None:
            self._first_signed_s = now
        after, since = faults.unavailable_after_s, self._first_signed_s
        if faults.unavailable or (after is not None and since is not None and now - since >= after):
            faults.unavailable_answers += 1
            raise internal_error()

    def _throttle(self) -> None:
        faults = self.core.faults
        random_limit = faults.rate_limit_rate > 0 and faults.rng.random() < faults.rate_limit_rate
        if faults.reject_next > 0 or random_limit:
            faults.reject_next = max(0, faults.reject_next - 1)
            faults.rejected += 1
            raise BinanceError(
                faults.reject_status,
                -1003,
                "Too many requests; please use the websocket for live updates.",
                {"Retry-After": f"{faults.retry_after_s:g}"},
            )
        if self.request_limit_per_s is None:
            return
        now_ms = self.core.now_ns() // codec.NS_PER_MS
        while self._recent and self._recent[0] <= now_ms - 1000:
            self._recent.popleft()
        if len(self._recent) >= self.request_limit_per_s:
            raise BinanceError(
                429,
                -1003,
                f"Too many requests; current limit is {self.request_limit_per_s:g} requests per second.",
                {"Retry-After": "1"},
            )
        self._recent.append(now_ms)


def internal_error() -> BinanceError:
    return BinanceError(503, -1001, "Internal error; unable to process your request. Please try again.")


def _text(raw: bytes) -> str:
    """A request body as text; bytes that are not UTF-8 are a parameter error, not a 500."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BinanceError(400, -1100, "Illegal characters found in a parameter.") from None
