"""Malformed websocket frames are logged and skipped instead of killing ccxt.pro's receive loop.

ccxt.pro decodes and parses each frame inside the callback of its receive task: bad JSON, a
missing field or a price like "abc" raises there, asyncio logs "Exception in callback" and that
connection reads nothing more while staying open (a silent stall of every stream on it). The
guard wraps each client's frame handler: a frame that raises is skipped with one WARNING naming
it, and the next frame is read as usual. Values that parse but are absurd (negative, NaN, a
crossed book) are the converters' and the stream runner's business (connectors/ccxt/sanity.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("mmbot.ccxt")

_SHOWN_CHARS = 200


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
            shown = text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."
            log.warning(
                "%s: malformed stream message skipped (%s: %s): %s",
                self._guard.venue,
                type(exc).__name__,
                " ".join(str(exc).split())[:120],
                shown,
            )


class MessageGuard:
    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.skipped = 0
        """Frames skipped because ccxt could not decode or parse them."""

    def install(self, exchange: Any) -> None:
        """Guard every websocket client the exchange opens from now on.

        Every ccxt >= 4.5 exchange makes its websocket clients in `client(url)`, and each client
        hands every frame to `handle_text_or_binary_message`: both are ccxt's, the wrapping ours.
        """
        make_client = exchange.client

        def client(url: str) -> Any:
            ws_client = make_client(url)
            if not isinstance(ws_client.handle_text_or_binary_message, _GuardedHandler):
                ws_client.handle_text_or_binary_message = _GuardedHandler(
                    self, ws_client.handle_text_or_binary_message
                )
            return ws_client

        exchange.client = client
