"""Own orders and fills into domain events: from the streams, and the REST catch-up that closes gaps.

Every fill goes through `emit_fill`, whichever path found it (user stream, REST catch-up after a
reconnect, polling), and is pushed once: the tracker claims its id first. The user stream's
trades pass `emit_stream_fills` first: one that does not fully validate is left to REST.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bot.core.domain import Market
from bot.core.events import BalanceUpdate, FillEvent, OrderUpdate
from connectors.base import OrderNotFound, VenueError
from connectors.ccxt import convert, queries, sanity
from connectors.ccxt.session import CcxtSession

log = logging.getLogger("mmbot.ccxt")

# REST catch-up of fills starts this far before the newest fill already emitted.
FILL_LOOKBACK_MS = 60_000


class AccountSync:
    def __init__(self, session: CcxtSession) -> None:
        self.session = session
        self.tracker = session.tracker

    def emit_order(self, market: Market, order: dict[str, Any], now_ns: int) -> OrderUpdate:
        update = convert.to_order_update(market, order, now_ns)
        if not update.client_order_id and update.venue_order_id:
            cid = self.tracker.cid_for(update.venue_order_id)
            if cid:
                update = replace(update, client_order_id=cid)
        self.tracker.on_update(update)
        if self.session.sink is not None:
            self.session.sink(update)
        return update

    async def emit_stream_fills(self, trades: Sequence[dict[str, Any]]) -> int:
        """Push the user stream's trades; returns how many were held back for the venue's REST record.

        A trade from the stream is stored only when all of it validates, its fee included, and
        it was not parsed out of a frame the message guard skipped (ccxt may have cached it
        before the rest of the frame failed). A held-back trade is not claimed, and the REST
        catch-up is woken: it reads the venue's record of it and stores that.
        """
        session = self.session
        held = 0
        for trade in trades:
            market = session.markets.get(trade.get("symbol") or "")
            if market is not None:
                if session.message_guard.from_skipped_frame(trade):
                    problem: str | None = "parsed from a frame that was skipped"
                else:
                    tick, lot = float(market.tick_size), float(market.lot_size)
                    problem = sanity.trade_problem(trade, tick, lot) or sanity.fee_problem(trade)
                if problem is not None:
                    session.skip_message(f"{market.symbol} fill {trade.get('id')}", problem, trade)
                    held += 1
                    continue
            await self.emit_fill(trade)
        if held:
            session.catch_up_wanted.set()
        return held

    async def emit_fill(self, trade: dict[str, Any]) -> bool:
        """Push one of our trades as a FillEvent unless it was already pushed; True if pushed."""
        session = self.session
        market = session.markets.get(trade.get("symbol") or "")
        trade_id = trade.get("id")
        if market is None or trade_id is None or session.sink is None:
            return False
        problem = sanity.trade_problem(trade, float(market.tick_size), float(market.lot_size))
        if problem is not None:  # not claimed: the venue's REST answer for this trade id still counts
            session.skip_message(f"{market.symbol} fill {trade_id}", problem, trade)
            return False
        # Trade ids are unique per market on most exchanges (Binance): key them by symbol too.
        fill_key = f"{market.symbol}:{trade_id}"
        if not self.tracker.claim_fill(fill_key):
            return False
        try:
            cid = await self.trade_client_order_id(market, trade)
        except VenueError as exc:
            self.tracker.release_fill(fill_key)  # the next catch-up emits it
            log.warning("%s: fill %s held back, its order is unknown yet: %s", session.name, trade_id, exc)
            return False
        now = session.clock.now_ns()
        session.sink(FillEvent(convert.to_fill(market, trade, cid, now), now))
        self.tracker.fill_emitted(market.symbol, trade.get("timestamp"))
        return True

    async def trade_client_order_id(self, market: Market, trade: dict[str, Any]) -> str:
        """Our client id of a trade's order: in the trade, remembered, or asked of the venue."""
        cid = convert.trade_client_order_id(trade)
        if cid:
            return cid
        order_id = trade.get("order")
        if order_id is None:
            return ""
        order_id = str(order_id)
        cid = self.tracker.cid_for(order_id)
        if cid is None:
            exchange, rest = self.session.connected()
            order = await rest.call(
                f"fetch_order {order_id} {market.symbol}",
                lambda: exchange.fetch_order(order_id, market.symbol),
            )
            cid = order.get("clientOrderId") or ""
            self.tracker.remember(cid, order_id)
        return cid

    async def catch_up(self, symbols: Sequence[str], since_floor_ms: int) -> None:
        """REST pass that closes any gap the streams left (reconnects, missed events).

        Fills older than `since_floor_ms` (the streams' start) minus FILL_LOOKBACK_MS are left to
        the start-up reconciliation, which owns history.
        """
        session = self.session
        sink = session.sink
        if sink is None:
            return
        now = session.clock.now_ns()
        open_cids: set[str] = set()
        for update in await queries.fetch_open_orders(session):
            open_cids.add(update.client_order_id)
            if self.tracker.changed(update):
                self.tracker.on_update(update)
                sink(update)
        self.tracker.prune_seen(open_cids)
        for cid, symbol in list(self.tracker.live.items()):
            if cid in open_cids or symbol not in symbols:
                continue
            try:
                update = await queries.fetch_order(session, symbol, cid)
            except OrderNotFound:
                continue  # the order manager settles orders the venue never saw
            self.tracker.on_update(update)
            sink(update)
        for symbol in symbols:
            since_ms = max(self.tracker.last_fill_ms.get(symbol, 0), since_floor_ms) - FILL_LOOKBACK_MS
            for trade in await queries.fetch_trades_raw(session, symbol, since_ms):
                if (trade.get("timestamp") or 0) >= since_ms:
                    await self.emit_fill(trade)
        sink(BalanceUpdate(session.name, await queries.fetch_balances(session), now))
