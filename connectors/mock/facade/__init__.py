"""Binance-compatible REST + websocket facade over the mock venue, so real ccxt can trade on it."""

from connectors.mock.facade.server import FacadeHandle, main, serve_facade

__all__ = ["FacadeHandle", "main", "serve_facade"]
