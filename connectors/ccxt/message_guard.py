"""Malformed websocket frames are logged and skipped instead of killing ccxt.pro's receive loop.

ccxt.pro decodes and parses each frame inside the callback of its receive task: bad JSON, a
missing field or a price like "abc" raises there, asyncio logs "Exception in callback" and that
connection reads nothing more while staying open (a silent stall of every stream on it). The
guard wraps each client's frame handler: a frame that raises is skipped with one WARNING naming
it, and the next frame is read as usual. Values that parse but are absurd (negative, NaN, a
crossed book) are the converters' and the stream runner's business (connectors/ccxt/sanity.py).

A skipped frame may still have left something behind in ccxt: a handler parses a frame in steps
and caches each result before the next step (Binance's executionReport: the trade goes into
`exchange.myTrades`, the ArrayCache every watch_my_trades answers from, and its future is
resolved, before the order part raises). That trade is "half-parsed": ccxt turned what it could
not read into None (a fee "abc" becomes `{"cost": None}`, indistinguishable from no fee). The
guard therefore remembers the decoded message of every skipped frame, and `from_skipped_frame`
tells the streams that a structure was parsed out of one (ccxt's `info` is the raw piece it came
from): such a trade is never stored from the stream, the venue's REST record of it is.

Some handlers catch their own error and reject the stream's future with it instead (Binance's
depth deltas: a price "abc" raises TypeError inside ccxt's order book, and watch_order_book
raises it): `ccxt_rejected` logs and counts that message the same way.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

log = logging.getLogger("mmbot.ccxt")

_SHOWN_CHARS = 200
# Decoded messages of the last skipped frames kept (with every dict and list in them), so that a
# structure ccxt parsed out of one is recognised for as long as ccxt can still deliver it.
KEPT_FRAMES = 64


class _GuardedHandler:
    """A client's frame handler wrapped by a MessageGuard (its type marks the client as guarded)."""

    __slots__ = ("_guard", "_handle")

    def __init__(self, guard: MessageGuard, handle: Callable[[Any], None]) -> None:
        self._guard = guard
        self._handle = handle

    def __call__(self, data: Any) -> None:
        try:
            self._handle(data)
        except Exception as exc:
            self._guard.skipped += 1
            text = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
            log.warning(
                "%s: malformed stream message skipped (%s): %s",
                self._guard.venue,
                _describe(exc),
                _shown(text),
            )
            if self._guard.on_skip is not None:
                self._guard.on_skip()


class _RecordingCallback:
    """ccxt's per-message callback (after JSON decoding): notes the message of a frame that raised."""

    __slots__ = ("_guard", "_handle")

    def __init__(self, guard: MessageGuard, handle: Callable[[Any, Any], None]) -> None:
        self._guard = guard
        self._handle = handle

    def __call__(self, client: Any, message: Any) -> None:
        try:
            self._handle(client, message)
        except Exception:
            self._guard.remember_skipped(message)
            raise  # the frame handler around this logs it once


class MessageGuard:
    def __init__(self, venue: str, on_skip: Callable[[], None] | None = None) -> None:
        self.venue = venue
        self.on_skip = on_skip
        """Called for each frame skipped (it may have carried a fill or an order change)."""
        self.skipped = 0
        """Frames skipped because ccxt could not decode, parse or apply them."""
        self._frames: deque[list[Any]] = deque()
        self._nodes: dict[int, Any] = {}
        """id -> every dict and list of a kept skipped message (held, so no id is reused)."""

    def install(self, exchange: Any) -> None:
        """Guard every websocket client the exchange opens from now on.

        Every ccxt >= 4.5 exchange makes its websocket clients in `client(url)`, and each client
        hands every frame to `handle_text_or_binary_message`, which decodes it and passes the
        message to `on_message_callback`: all three are ccxt's, the wrapping ours.
        """
        make_client = exchange.client

        def client(url: str) -> Any:
            ws_client = make_client(url)
            if not isinstance(ws_client.handle_text_or_binary_message, _GuardedHandler):
                ws_client.handle_text_or_binary_message = _GuardedHandler(
                    self, ws_client.handle_text_or_binary_message
                )
                ws_client.on_message_callback = _RecordingCallback(self, ws_client.on_message_callback)
            return ws_client

        exchange.client = client

    def remember_skipped(self, message: Any) -> None:
        nodes = list(_containers(message))
        for node in nodes:
            self._nodes[id(node)] = node
        self._frames.append(nodes)
        while len(self._frames) > KEPT_FRAMES:
            for node in self._frames.popleft():
                if self._nodes.get(id(node)) is node:
                    del self._nodes[id(node)]

    @property
    def held_containers(self) -> int:
        """Dicts and lists of skipped messages held (bounded by KEPT_FRAMES messages)."""
        return len(self._nodes)

    def from_skipped_frame(self, structure: Mapping[str, Any]) -> bool:
        """True when ccxt parsed this structure (a trade, an order) out of a frame that was skipped."""
        info = structure.get("info")
        return info is not None and self._nodes.get(id(info)) is info

    def ccxt_rejected(self, what: str, exc: Exception) -> None:
        """One WARNING for a message ccxt could not apply and rejected its stream with."""
        self.skipped += 1
        log.warning(
            "%s: malformed %s skipped, ccxt could not apply it (%s)", self.venue, what, _describe(exc)
        )


def _containers(message: Any) -> Iterator[Any]:
    """Every dict and list of a decoded message, itself included (what a parsed `info` can be)."""
    stack = [message]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            yield node
            stack.extend(node)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."
