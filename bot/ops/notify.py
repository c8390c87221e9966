"""Operator notifications: a bounded, coalescing outbox drained by one background sender.

Nothing on the trading path waits for a notification: `Notifier.notify` only files the message in
the outbox (synchronous, no I/O). A message whose key is already waiting joins it (its text
becomes the newest, its repeat count grows, it moves to the back so the last word is the latest
state); when the outbox holds `max_queue` distinct messages new ones are dropped, counted, and
the next message sent says how many were lost. The sender spends one token per message (a token
bucket of `burst` tokens refilled at `rate_per_minute`) and gives every sink `send_timeout_s`, so a
slow or dead endpoint only costs the sender's own time. Each problem (a full outbox, a failing
sink) is logged once until it clears.

Secrets (the webhook URL, the bot token) come from environment variables and are never logged:
a failure names the sink and the error's type or HTTP status only, never the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.clock import NS_PER_S
from bot.ops.settings import NotifyConfig

if TYPE_CHECKING:
    import aiohttp  # imported when a sink sends: a bot without sinks (a backtest) never needs it

    from bot.ops.metrics import BotMetrics

log = logging.getLogger("mmbot.notify")


@dataclass(slots=True)
class Message:
    kind: str
    text: str
    ts_ns: int
    detail: dict[str, Any] = field(default_factory=dict)
    repeats: int = 1
    dropped_before: int = 0  # messages lost to a full outbox since the previous one sent

    def line(self, instance_id: str) -> str:
        out = f"[{instance_id}] {self.text}"
        if self.repeats > 1:
            out += f" (x{self.repeats})"
        if self.dropped_before:
            out += f" ({self.dropped_before} earlier notifications dropped)"
        return out

    def payload(self, instance_id: str) -> dict[str, Any]:
        return {
            "instance_id": instance_id,
            "kind": self.kind,
            "text": self.line(instance_id),
            "ts": datetime.fromtimestamp(self.ts_ns / NS_PER_S, UTC).isoformat(timespec="milliseconds"),
            "ts_ns": self.ts_ns,
            "repeats": self.repeats,
            "dropped_before": self.dropped_before,
            "detail": self.detail,
        }


class TokenBucket:
    """`capacity` tokens, refilled continuously at `rate_per_s`; times are the caller's seconds."""

    def __init__(self, capacity: int, rate_per_s: float, now_s: float) -> None:
        self.capacity = capacity
        self.rate_per_s = rate_per_s
        self.tokens = float(capacity)
        self._last_s = now_s

    def take(self, now_s: float) -> float:
        """Spend one token and return 0, or return the seconds until one is there (nothing spent)."""
        self.tokens = min(self.capacity, self.tokens + (now_s - self._last_s) * self.rate_per_s)
        self._last_s = now_s
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate_per_s


class Outbox:
    """Messages waiting to be sent, at most `max_len` distinct keys, oldest first."""

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len
        self._pending: dict[str, Message] = {}
        self.dropped = 0  # since the last message taken out

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, key: str, message: Message) -> str:
        """File `message`; returns "queued", "coalesced" or "dropped"."""
        waiting = self._pending.pop(key, None)
        if waiting is not None:
            message.repeats += waiting.repeats
            self._pending[key] = message
            return "coalesced"
        if len(self._pending) >= self.max_len:
            self.dropped += 1
            return "dropped"
        self._pending[key] = message
        return "queued"

    def pop(self) -> Message | None:
        if not self._pending:
            return None
        message = self._pending.pop(next(iter(self._pending)))
        message.dropped_before, self.dropped = self.dropped, 0
        return message


class SinkError(Exception):
    """A failed send, described without the endpoint's URL (it may hold a secret)."""


class Sink(Protocol):
    name: str

    async def send(self, http: aiohttp.ClientSession, message: Message, instance_id: str) -> None: ...


async def _post_json(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any] | None:
    import aiohttp

    try:
        async with http.post(url, json=body) as response:
            if response.status >= 300:
                raise SinkError(f"HTTP {response.status}")
            if response.content_type == "application/json":
                return await response.json()
            return None
    except aiohttp.ClientError as exc:
        raise SinkError(type(exc).__name__) from None


class WebhookSink:
    """POSTs the message as JSON (`text` holds the readable line, as chat webhooks expect)."""

    name = "webhook"

    def __init__(self, url: str) -> None:
        self._url = url

    def __repr__(self) -> str:
        return "WebhookSink(url=***)"

    async def send(self, http: aiohttp.ClientSession, message: Message, instance_id: str) -> None:
        await _post_json(http, self._url, message.payload(instance_id))


class TelegramSink:
    """Bot API `sendMessage` to one chat."""

    name = "telegram"

    def __init__(self, api_url: str, token: str, chat_id: str) -> None:
        self._url = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self._chat_id = chat_id

    def __repr__(self) -> str:
        return "TelegramSink(token=***)"

    async def send(self, http: aiohttp.ClientSession, message: Message, instance_id: str) -> None:
        body = {"chat_id": self._chat_id, "text": message.line(instance_id), "disable_web_page_preview": True}
        answer = await _post_json(http, self._url, body)
        if answer is not None and answer.get("ok") is False:
            raise SinkError(f"Telegram refused: error_code {answer.get('error_code')}")


def sinks_from_env(config: NotifyConfig) -> list[Sink]:
    """The sinks whose environment variables are set (none: notifications are off)."""

    def env(name: str | None) -> str | None:
        return os.environ.get(name) or None if name else None

    sinks: list[Sink] = []
    url = env(config.webhook_url_env)
    if url is not None:
        sinks.append(WebhookSink(url))
    token, chat_id = env(config.telegram_token_env), env(config.telegram_chat_id_env)
    if token is not None and chat_id is not None:
        sinks.append(TelegramSink(config.telegram_api_url, token, chat_id))
    elif token is not None or chat_id is not None:
        log.warning(
            "Telegram notifications off: set both %s and %s",
            config.telegram_token_env,
            config.telegram_chat_id_env,
        )
    return sinks


class Notifier:
    def __init__(
        self,
        config: NotifyConfig,
        instance_id: str,
        sinks: list[Sink],
        metrics: BotMetrics | None = None,
    ) -> None:
        self.config = config
        self.instance_id = instance_id
        self.sinks = sinks
        self.metrics = metrics
        self.outbox = Outbox(config.max_queue)
        self.outcomes: dict[str, int] = {}  # queued, coalesced, dropped, sent, failed
        self.delivered: list[Message] = []  # the last few sent messages (status, tests)
        self._bucket: TokenBucket | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._full_logged = False
        self._failing: set[str] = set()

    @property
    def enabled(self) -> bool:
        return bool(self.sinks)

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if self.metrics is not None:
            self.metrics.notifications.labels(outcome).inc()

    # ---- the trading side: file and return ---------------------------------------------------

    def notify(self, kind: str, text: str, ts_ns: int, key: str | None = None, **detail: Any) -> None:
        """File a message for the sender; never waits. Same `key` (default: kind and text) coalesces."""
        if not self.sinks:
            return
        outcome = self.outbox.put(key or f"{kind}:{text}", Message(kind, text, ts_ns, detail))
        self._count(outcome)
        if outcome == "dropped":
            if not self._full_logged:
                self._full_logged = True
                log.warning(
                    "notification outbox full (%d messages waiting): dropping new ones until it drains",
                    len(self.outbox),
                )
            return
        self._idle.clear()
        self._wake.set()

    # ---- the sender --------------------------------------------------------------------------

    def start(self) -> None:
        if not self.sinks or self._task is not None:
            return
        import aiohttp

        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.send_timeout_s))
        self._task = asyncio.create_task(self._run(self._http), name="notifier")

    async def stop(self, flush_timeout_s: float | None = None) -> None:
        """Give waiting messages up to `flush_timeout_s` (default: send_timeout_s), then stop."""
        if self._task is None:
            return
        timeout = self.config.send_timeout_s if flush_timeout_s is None else flush_timeout_s
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self.outbox:
            log.warning("stopping with %d notifications unsent", len(self.outbox))
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _run(self, http: aiohttp.ClientSession) -> None:
        loop = asyncio.get_running_loop()
        c = self.config
        self._bucket = TokenBucket(c.burst, c.rate_per_minute / 60, loop.time())
        while True:
            if not self.outbox:
                self._full_logged = False
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            wait_s = self._bucket.take(loop.time())
            if wait_s > 0:
                await asyncio.sleep(wait_s)  # repeats filed meanwhile coalesce
                continue
            message = self.outbox.pop()
            if message is not None:
                await asyncio.gather(*(self._send(http, sink, message) for sink in self.sinks))
                self.delivered = [*self.delivered[-19:], message]

    async def _send(self, http: aiohttp.ClientSession, sink: Sink, message: Message) -> None:
        try:
            await asyncio.wait_for(sink.send(http, message, self.instance_id), self.config.send_timeout_s)
        except (SinkError, TimeoutError) as exc:
            self._count("failed")
            if sink.name not in self._failing:
                self._failing.add(sink.name)
                why = (
                    str(exc) if isinstance(exc, SinkError) else f"no answer in {self.config.send_timeout_s}s"
                )
                log.warning(
                    "notifications via %s failing (%s); not logged again until one is sent", sink.name, why
                )
            return
        except Exception as exc:  # a bug here must not stop the sender; the text may hold a URL
            self._count("failed")
            log.error("notification via %s failed: %s", sink.name, type(exc).__name__)
            return
        self._count("sent")
        if sink.name in self._failing:
            self._failing.discard(sink.name)
            log.info("notifications via %s are being sent again", sink.name)
