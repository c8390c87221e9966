"""Staleness per market, and markets removed by hot reload, in the whole bot through real ccxt.

Before (issue #16): with the default stale_book_s of 1 s one quiet book pulled every market's
quotes on its venue (6 to 9 pulls in 45 s with the README's mock-exchange setup), and a market
removed by reload kept streaming and kept pulling the venue's quotes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import tomli_w

from bot.app.config import load_config
from bot.app.lifecycle import Bot
from bot.core.events import BookSnapshot, BookStatus, VenueEvent, VenueStatus
from connectors.ccxt.venue import CcxtVenue
from connectors.mock.facade import FacadeHandle, serve_facade
from connectors.mock.params import MockVenueParams
from connectors.mock.venue import DEFAULT_ACCOUNT
from tests.reliability.faultkit import assert_nothing_lost, errors_logged, run_bot_under
from tests.reliability.procs import KEY, SECRET, bot_config, facade_config

BTC, ETH = "BTC/USDT", "ETH/USDT"
QUIET = {  # no flow at all: the book changes only when our own quotes do
    "liquidity_refresh_rate_per_s": 0.0,
    "noise_taker_rate_per_s": 0.0,
    "informed_taker_rate_per_s": 0.0,
}


async def _facade(quiet: str | None = None) -> FacadeHandle:
    table = facade_config()["venues"]["fx"]
    for market in table["markets"]:
        if market["symbol"] == quiet:
            market.update(QUIET)
    return await serve_facade("127.0.0.1", 0, MockVenueParams.model_validate(table), KEY, SECRET)


def _write_config(path: Path, url: str, markets: tuple[str, ...] = (BTC, ETH)) -> None:
    data = bot_config(url, reconcile_interval_s=1.0)
    data["bot"]["database_url"] = f"sqlite:///{path.parent}/bot.sqlite"
    data["bot"]["log_format"] = "text"
    data["bot"]["config_poll_interval_s"] = 0  # reloads only when the test asks
    data["markets"] = [m for m in data["markets"] if m["symbol"] in markets]
    data["strategies"]["mm"]["markets"] = [f"fx:{s}" for s in markets]
    path.write_text(tomli_w.dumps(data))


def _bot(tmp_path: Path, facade: FacadeHandle) -> Bot:
    path = tmp_path / "bot.toml"
    _write_config(path, facade.url)
    return Bot(load_config(path), tmp_path, config_path=path)


def _ours_open(facade: FacadeHandle, symbol: str) -> set[str]:
    return {
        u.client_order_id
        for u in facade.exchange.open_orders(DEFAULT_ACCOUNT)
        if u.client_order_id.startswith("crash-") and u.symbol == symbol
    }


def _pulls(events: list[VenueEvent]) -> list[tuple[str, str]]:
    """(what, detail) of every event that pulled quotes: a market's book or the whole venue down."""
    out = [(f"book {e.symbol}", e.detail) for e in events if isinstance(e, BookStatus) and not e.live]
    return out + [("venue", e.detail) for e in events if isinstance(e, VenueStatus) and not e.connected]


async def test_quiet_book_is_not_pulled_while_the_other_market_keeps_quoting(tmp_path, caplog, credentials):
    facade = await _facade(quiet=ETH)
    quiet_s = 12.0  # six times the default stale_book_s

    async def script(bot: Bot, facade: FacadeHandle) -> dict[str, Any]:
        events: list[VenueEvent] = []
        bot.runtime.engine.listeners.append(events.append)
        while not _ours_open(facade, ETH) or not _ours_open(facade, BTC):
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # ETH's first quotes settled: from here on its book is still
        venue = bot.venues["fx"]
        assert isinstance(venue, CcxtVenue) and venue.streams is not None
        watch = venue.streams.watch
        eth_before, btc_placed = _ours_open(facade, ETH), bot.runtime.orders.counters.placed
        confirmed_before = watch.confirmed_quiet[ETH]
        events.clear()
        await asyncio.sleep(quiet_s)
        return {
            "pulls": _pulls(events),
            "eth_kept": eth_before <= _ours_open(facade, ETH),
            "eth_books": sum(1 for e in events if isinstance(e, BookSnapshot) and e.symbol == ETH),
            "confirmed": watch.confirmed_quiet[ETH] - confirmed_before,
            "btc_books": sum(1 for e in events if isinstance(e, BookSnapshot) and e.symbol == BTC),
            "placed": bot.runtime.orders.counters.placed - btc_placed,
            "stale_book_s": venue.params.stale_book_s,
        }

    try:
        bot = _bot(tmp_path, facade)
        out = await run_bot_under(bot, facade, script)
        assert_nothing_lost(tmp_path, facade)
        assert errors_logged(caplog) == []
    finally:
        await facade.stop()
    print(f"\nquiet {quiet_s:.0f}s: {out}")
    assert out["stale_book_s"] == 2.0  # the default
    assert out["pulls"] == []  # neither ETH's book nor the venue was ever pulled
    assert out["eth_kept"]  # every ETH quote live at the start of the quiet spell still is
    # ETH was really silent past stale_book_s, several times, and each time the REST book
    # confirmed it unchanged (the confirmations are the only ETH books of the spell)
    assert out["confirmed"] >= 3 and out["eth_books"] == out["confirmed"], out
    # meanwhile BTC streamed and was requoted as usual
    assert out["btc_books"] > 50 and out["placed"] > 0, out


async def test_market_removed_by_reload_stops_streaming_and_pulls_nothing(tmp_path, caplog, credentials):
    facade = await _facade()

    def subscribed(symbol: str) -> set[str]:
        stream = symbol.replace("/", "").lower()
        return {s for sub in facade.core.subscribers for s in sub.streams if s.startswith(stream)}

    async def script(bot: Bot, facade: FacadeHandle) -> dict[str, Any]:
        events: list[VenueEvent] = []
        bot.runtime.engine.listeners.append(events.append)
        while not _ours_open(facade, ETH):
            await asyncio.sleep(0.05)
        before = subscribed(ETH)
        _write_config(tmp_path / "bot.toml", facade.url, markets=(BTC,))
        assert await bot.reload_config()
        removed_at = len(events)
        await asyncio.sleep(8.0)  # four times stale_book_s: a streamed-but-unwatched book would go stale
        after = events[removed_at:]
        venue = bot.venues["fx"]
        assert isinstance(venue, CcxtVenue) and venue.streams is not None
        out = {
            "before": before,
            "after": subscribed(ETH),
            "eth_books_after": sum(1 for e in after if isinstance(e, BookSnapshot) and e.symbol == ETH),
            "btc_books_after": sum(1 for e in after if isinstance(e, BookSnapshot) and e.symbol == BTC),
            "pulls": _pulls(after),
            "eth_open": _ours_open(facade, ETH),
            "streamed": list(venue.streams.symbols),
            "ccxt_books": set(venue.session.exchange.orderbooks),
        }
        # added back by a later reload: it streams and is quoted again
        _write_config(tmp_path / "bot.toml", facade.url)
        assert await bot.reload_config()
        while not _ours_open(facade, ETH):
            await asyncio.sleep(0.05)
        out["back"] = subscribed(ETH)
        return out

    try:
        bot = _bot(tmp_path, facade)
        out = await run_bot_under(bot, facade, script)
        assert_nothing_lost(tmp_path, facade)
        assert errors_logged(caplog) == []
    finally:
        await facade.stop()
    print(f"\nafter removal: {out}")
    assert out["before"] == {"ethusdt@depth", "ethusdt@trade"}
    assert out["after"] == set()  # the venue was told: no subscription of ETH left on any socket
    assert ETH not in out["ccxt_books"] and out["streamed"] == [BTC]
    assert out["eth_books_after"] == 0 and out["btc_books_after"] > 50
    assert out["pulls"] == []
    assert out["eth_open"] == set()  # its quotes were cancelled by the reload
    assert out["back"] == {"ethusdt@depth", "ethusdt@trade"}
