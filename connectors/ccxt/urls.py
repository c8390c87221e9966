"""Point a ccxt exchange at another host (a local facade, a proxy), keeping every API path."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit


def rewrite_api_urls(api: Any, base_url: str) -> Any:
    """A copy of `exchange.urls['api']` with every http(s)/ws(s) host replaced by `base_url`'s.

    `https://api.binance.com/api/v3` becomes `http://127.0.0.1:8765/api/v3` and
    `wss://stream.binance.com:9443/ws` becomes `ws://127.0.0.1:8765/ws`: websocket URLs get the
    ws flavour of the base scheme (http -> ws, https -> wss).
    """
    base = urlsplit(base_url)
    secure = base.scheme == "https"

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(value) for value in node]
        if not isinstance(node, str):
            return node
        parts = urlsplit(node)
        if parts.scheme in ("http", "https"):
            scheme = base.scheme
        elif parts.scheme in ("ws", "wss"):
            scheme = "wss" if secure else "ws"
        else:
            return node
        return urlunsplit((scheme, base.netloc, parts.path, parts.query, parts.fragment))

    return rewrite(api)
