"""One account of the facade: what Binance reports about its orders, and its user data stream.

Accounts share the matching engine and its books, as the users of one venue do. Each API key acts
on its own account; each account's user data stream carries only that account's
`executionReport` / `outboundAccountPosition` events. An order of one account that trades against
another account's order is a normal trade: each side gets its own report with the trade's id
(one id per trade, the same on both sides, as on Binance).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from bot.core.clock import Clock
from bot.core.domain import Balance, Fill, Market, OrderState
from bot.core.events import BalanceUpdate, FillEvent, OrderUpdate, VenueEvent
from connectors.mock.exchange import MockExchange
from connectors.mock.facade import codec
from connectors.mock.facade.faults import BalanceHistory, Faults, UserStreamShaper

UserFanOut = Callable[[str, dict[str, Any]], None]
"""Sends one user data event to the streams subscribed for an account: (account_id, event)."""


@dataclass(slots=True)
class OrderMeta:
    """What Binance reports about an order and the engine does not keep."""

    symbol: str
    client_order_id: str
    order_type: str
    time_in_force: str
    created_ns: int
    cum_quote: Decimal = Decimal(0)


class FacadeAccount:
    """The facade's view of one account on the engine (`account_id`), as one API key sees it."""

    def __init__(
        self,
        account_id: str,
        uid: int,
        exchange: MockExchange,
        clock: Clock,
        faults: Callable[[], Faults],
        fan_out: UserFanOut,
    ) -> None:
        self.account_id = account_id
        self.uid = uid
        """Binance's account number, reported by /api/v3/account."""
        self.exchange = exchange
        self.markets: dict[str, Market] = exchange.markets
        self._clock = clock
        self._faults = faults
        self._user_out = UserStreamShaper(faults, lambda event: fan_out(account_id, event))
        self.balance_history = BalanceHistory()
        self.acking: set[str] = set()
        """Client ids of new orders whose REST answer is being held back (ack_delay_ms)."""
        self._meta: OrderedDict[tuple[str, str], OrderMeta] = OrderedDict()
        self._cid_by_order_id: OrderedDict[int, tuple[str, str]] = OrderedDict()
        self._placing: OrderMeta | None = None
        self.cancel_client_order_id: str | None = None
        """Client id of the cancel request in progress (reported in `c`, the order's own in `C`)."""
        self.capture: list[Fill] | None = None
        """Fills of this account's REST call in progress (for the FULL order response)."""

    def balances(self) -> dict[str, Balance]:
        """What /api/v3/account answers: the balances now, or as of `balance_lag_ms` ago."""
        balances = self.exchange.balances(self.account_id)
        lag_ms = self._faults().balance_lag_ms
        if lag_ms > 0:
            return self.balance_history.as_of(self._clock.now_ns() - int(lag_ms * 1_000_000), balances)
        return balances

    # ---- orders --------------------------------------------------------------------------------

    def begin_order(self, meta: OrderMeta) -> None:
        self._placing = meta
        self.capture = []

    def end_order(self) -> list[Fill]:
        fills = self.capture or []
        self._placing = None
        self.capture = None
        return fills

    def meta(self, symbol: str, client_order_id: str) -> OrderMeta:
        meta = self._meta.get((symbol, client_order_id))
        if meta is None:  # an order placed before the facade watched (none today): plain limit
            meta = OrderMeta(symbol, client_order_id, "LIMIT", "GTC", self._clock.now_ns())
        return meta

    def client_order_id(self, order_id: int) -> tuple[str, str] | None:
        """(symbol, client id) of this account's order `order_id`; None for anyone else's."""
        return self._cid_by_order_id.get(order_id)

    def order_json(self, update: OrderUpdate) -> dict[str, Any]:
        meta = self.meta(update.symbol, update.client_order_id)
        return codec.order_json(
            self.markets[update.symbol],
            update,
            order_type=meta.order_type,
            time_in_force=meta.time_in_force,
            created_ns=meta.created_ns,
            cum_quote=meta.cum_quote,
        )

    def _remember(self, update: OrderUpdate) -> OrderMeta:
        key = (update.symbol, update.client_order_id)
        meta = self._meta.get(key)
        if meta is None:
            placing = self._placing
            if placing is not None and (placing.symbol, placing.client_order_id) == key:
                meta = placing
            else:
                meta = OrderMeta(update.symbol, update.client_order_id, "LIMIT", "GTC", update.exchange_ts_ns)
            self._meta[key] = meta
            if update.venue_order_id:
                self._cid_by_order_id[int(update.venue_order_id)] = key
            limit = self.exchange.history_size + 1_000  # as long as the engine remembers closed ones
            while len(self._meta) > limit:
                self._meta.popitem(last=False)
            while len(self._cid_by_order_id) > limit:
                self._cid_by_order_id.popitem(last=False)
        return meta

    # ---- this account's events from the engine -------------------------------------------------

    def on_event(self, event: VenueEvent) -> None:
        if isinstance(event, OrderUpdate):
            self._on_order_update(event)
        elif isinstance(event, FillEvent):
            self._on_fill(event.fill)
        elif isinstance(event, BalanceUpdate):
            self._on_balances(event)

    def _report(self, update: OrderUpdate, execution_type: str, fill: Fill | None = None) -> None:
        meta = self._remember(update)
        report = codec.execution_report(
            self.markets[update.symbol],
            update,
            execution_type=execution_type,
            order_type=meta.order_type,
            time_in_force=meta.time_in_force,
            created_ns=meta.created_ns,
            cum_quote=meta.cum_quote,
            fill=fill,
            cancel_client_order_id=self.cancel_client_order_id if execution_type == "CANCELED" else None,
        )
        faults = self._faults()
        if fill is not None and faults.corrupt_trade_reports > 0:
            faults.corrupt_trade_reports -= 1
            faults.trade_reports_corrupted += 1
            faults.corrupted_trades.append((fill.symbol, fill.venue_trade_id))
            report.update(faults.trade_report_overrides)
        self._user_out(report)

    def _on_order_update(self, update: OrderUpdate) -> None:
        # Fills were already reported as TRADE executions (the engine emits the fill first).
        kind = {
            "open": "NEW",
            "cancelled": "CANCELED",
            "expired": "EXPIRED",
            "rejected": "REJECTED",
        }.get(update.state.value)
        if kind is None:
            self._remember(update)
            return
        self._report(update, kind)

    def _on_fill(self, fill: Fill) -> None:
        if self.capture is not None:
            self.capture.append(fill)
        if fill.client_order_id in self.acking:
            self._faults().fills_before_ack += 1
        market = self.markets[fill.symbol]
        meta = self._meta.get((fill.symbol, fill.client_order_id))
        if meta is not None:
            meta.cum_quote += market.notional(fill.price_ticks, fill.size_lots)
        # The engine reports a fill before it moves the order on: the state after it is ours to set.
        update = self.exchange.fetch_order(self.account_id, fill.symbol, fill.client_order_id)
        done = update.filled_lots >= update.size_lots
        update = replace(update, state=OrderState.FILLED if done else OrderState.PARTIALLY_FILLED)
        self._report(update, "TRADE", fill)

    def _on_balances(self, event: BalanceUpdate) -> None:
        self.balance_history.record(self._clock.now_ns(), self.exchange.balances(self.account_id))
        ts = codec.ms(event.exchange_ts_ns)
        self._user_out(
            {
                "e": "outboundAccountPosition",
                "E": ts,
                "u": ts,
                "B": [
                    {"a": b.asset, "f": codec.decimal_str(b.free), "l": codec.decimal_str(b.locked)}
                    for b in event.balances.values()
                ],
            }
        )
