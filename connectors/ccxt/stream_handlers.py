"""What the streams do with one message: check it (connectors.ccxt.sanity), convert it, emit it.

Own orders, own fills, balances and public trades, pushed (watch_*) or polled (fetch_*). A message
that does not check out is skipped with one WARNING (CcxtSession.skip_message); for own orders and
fills the REST catch-up then reads the venue's real record.
"""

from __future__ import annotations

from typing import Any

from bot.core.domain import Market
from bot.core.events import BalanceUpdate
from connectors.base import EventSink
from connectors.ccxt import convert, queries, sanity
from connectors.ccxt.account_sync import AccountSync
from connectors.ccxt.session import CcxtSession


class StreamHandlers:
    def __init__(self, session: CcxtSession, sync: AccountSync, sink: EventSink) -> None:
        self.session = session
        self.sync = sync
        self.sink = sink
        self.exchange, self.rest = session.connected()
        self.name = session.name
        self.clock = session.clock
        self._seen_public: dict[str, set[str]] = {}

    # ---- public trades -----------------------------------------------------------------------

    def emit_public_trade(self, market: Market, trade: dict[str, Any], now: int) -> None:
        problem = sanity.trade_problem(trade, float(market.tick_size), float(market.lot_size))
        if problem is not None:
            self.session.skip_message(f"{market.symbol} trade", problem, trade)
            return
        self.sink(convert.to_public_trade(market, trade, now))

    async def poll_trades(self, symbol: str) -> None:
        market = self.session.markets[symbol]
        trades = await self.rest.call(f"fetch_trades {symbol}", lambda: self.exchange.fetch_trades(symbol))
        seen = self._seen_public.setdefault(symbol, set())
        first_poll = not seen
        ids = set()
        now = self.clock.now_ns()
        for trade in trades:
            trade_id = str(trade.get("id"))
            ids.add(trade_id)
            if not first_poll and trade_id not in seen:
                self.emit_public_trade(market, trade, now)
        self._seen_public[symbol] = ids  # only the last page: bounded

    # ---- own orders, fills, balances -----------------------------------------------------------

    async def on_orders(self, orders: list[dict[str, Any]]) -> None:
        now = self.clock.now_ns()
        for order in orders:
            market = self.session.markets.get(order.get("symbol") or "")
            if market is None:
                continue
            problem = sanity.order_problem(order, float(market.tick_size), float(market.lot_size))
            if self.session.message_guard.from_skipped_frame(order):
                problem = "parsed from a frame that was skipped"
            if problem is not None:  # the REST catch-up reads the order's real state
                self.session.skip_message(f"{market.symbol} order update", problem, order)
                continue
            self.sync.emit_order(market, order, now)

    async def on_my_trades(self, trades: list[dict[str, Any]]) -> None:
        await self.sync.emit_stream_fills(trades)  # one held back wakes the REST catch-up

    async def on_balance(self, balance: dict[str, Any]) -> None:
        problem = sanity.balance_problem(balance)
        if problem is not None:
            self.session.skip_message("balance update", problem, balance)
            return
        self.sink(BalanceUpdate(self.name, convert.to_balances(balance), self.clock.now_ns()))

    async def poll_balance(self) -> None:
        balances = await queries.fetch_balances(self.session)
        self.sink(BalanceUpdate(self.name, balances, self.clock.now_ns()))
