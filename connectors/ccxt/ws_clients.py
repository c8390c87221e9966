"""ccxt.pro's websocket clients, handled from outside: orphan futures, and dropping connections.

No "Future exception was never retrieved": some ccxt.pro futures have no awaiter by design.
Binance's `authenticate:signature:spot`, created by the first private watch for concurrent ones to
wait on, is rejected with the connection error when a dial fails and nobody else asked (asyncio
then logged one ERROR per failed reconnect, eight in a 30 s outage). Every future a client hands
out gets a done callback that retrieves its exception: a watcher awaiting it still gets the error
raised; an orphan is no longer reported.

Dropping a connection (a stale book, a private stream that must subscribe afresh) marks the client
failed, removes it from the exchange (the next watch makes a new one) and rejects its futures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class _RetrievingFutures:
    """A client's `future(message_hash)` whose futures retrieve their own exception when done."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[str], asyncio.Future[Any]]) -> None:
        self._make = make

    def __call__(self, message_hash: str) -> asyncio.Future[Any]:
        future = self._make(message_hash)
        future.remove_done_callback(_retrieve)  # ccxt hands the same future out many times
        future.add_done_callback(_retrieve)
        return future


def retrieve_orphan_errors(exchange: Any) -> None:
    """Wrap every websocket client the exchange opens from now on (ccxt makes them in
    `client(url)`; each hands out its futures through `client.future`)."""
    make_client = exchange.client

    def client(url: str) -> Any:
        ws_client = make_client(url)
        if not isinstance(ws_client.future, _RetrievingFutures):
            ws_client.future = _RetrievingFutures(ws_client.future)
        return ws_client

    exchange.client = client


def _is_book_hash(subscription_hash: object, symbol: str) -> bool:
    text = str(subscription_hash).lower()
    return symbol.lower() in text and ("book" in text or "depth" in text)


def book_connections(exchange: Any, symbol: str) -> list[tuple[str, Any]]:
    """(url, client) of the connections carrying `symbol`'s book (else any carrying `symbol`)."""
    clients = exchange.clients  # every ccxt >= 4.5 exchange has it: url -> ws client
    carrying = [
        (url, client)
        for url, client in clients.items()
        if any(symbol in str(h) for h in client.subscriptions)
    ]
    # Prefer the connection whose subscription is the book (hash names like orderbook::SYM).
    books = [(u, c) for u, c in carrying if any(_is_book_hash(h, symbol) for h in c.subscriptions)]
    return books or carrying


def connections_without(exchange: Any, symbols: Iterable[str]) -> list[tuple[str, Any]]:
    """(url, client) of the connections whose subscriptions name none of `symbols` (private ones)."""
    wanted = list(symbols)
    return [
        (url, client)
        for url, client in list(exchange.clients.items())
        if not any(sym in str(h) for h in client.subscriptions for sym in wanted)
    ]


def drop(exchange: Any, url: str, client: Any, error: Exception) -> None:
    """Fail the client with `error` and forget it; the caller closes it."""
    clients = exchange.clients
    # Marked failed first so ccxt's on_close does not drop a newer client on the same URL.
    client.error = error
    if clients.get(url) is client:
        del clients[url]
    client.reset(error)


def forget_dial_backoff(exchange: Any) -> None:
    """Let ccxt dial at once: our supervisor already paces reconnects (jittered, capped at the
    venue's backoff_max_s). ccxt (4.5.x) also delays re-dials of a URL that failed to connect, up
    to 30 s and after the subscribe message was built; stacked on ours it held books down for
    tens of seconds after an outage and sent signed subscribes stale (Binance -1021)."""
    # ccxt's own bookkeeping, url -> {attempts, until}; older 4.5 releases have none
    dial_backoff = getattr(exchange, "ws_dial_backoff", None)
    if dial_backoff:
        dial_backoff.clear()


def close_later(client: Any) -> None:
    """Close a dropped client in the background (nothing to wait for, nothing to report)."""
    asyncio.ensure_future(client.close()).add_done_callback(_retrieve)
