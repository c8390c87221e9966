"""Domain objects and venue events with sensible defaults: a test states only what matters to it.

Defaults describe one BTC/USDT market on venue "va" (tick 0.1, lot 0.001, no fees) around a
60 000 USDT price, and order ids of bot instance "t1" (`cid(1)` is "t1-1"). Numbers given as
strings or ints become Decimals where the domain type holds money.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from bot.core.domain import Balance, Fill, Market, Order, OrderRequest, OrderState, Side
from bot.core.events import BookSnapshot, FillEvent, OrderUpdate, PublicTrade
from bot.core.ids import make_client_order_id

VENUE = "va"
SYMBOL = "BTC/USDT"
INSTANCE = "t1"
PRICE_TICKS = 600_000
"""60 000 USDT at the default tick."""

Amount = Decimal | str | int
Levels = Sequence[tuple[int, int]]


def cid(seq: int = 1, instance: str = INSTANCE) -> str:
    """Our client order id number `seq` (bot/core/ids.py rules)."""
    return make_client_order_id(instance, seq)


def market(
    symbol: str = SYMBOL,
    venue: str = VENUE,
    *,
    tick_size: Amount = "0.1",
    lot_size: Amount = "0.001",
    min_notional: Amount = 0,
    maker_fee_bps: Amount = 0,
    taker_fee_bps: Amount = 0,
) -> Market:
    base, quote = symbol.split("/")
    return Market(
        venue, symbol, base, quote, Decimal(tick_size), Decimal(lot_size), Decimal(min_notional),
        Decimal(maker_fee_bps), Decimal(taker_fee_bps),
    )  # fmt: skip


def request(
    client_order_id: str | None = None,
    *,
    side: Side = Side.BUY,
    price_ticks: int = PRICE_TICKS,
    size_lots: int = 1,
    venue: str = VENUE,
    symbol: str = SYMBOL,
    post_only: bool | None = None,
    ioc: bool = False,
) -> OrderRequest:
    """A post-only limit order unless `ioc` (immediate-or-cancel) or `post_only=False` (plain limit)."""
    return OrderRequest(
        client_order_id or cid(),
        venue,
        symbol,
        side,
        price_ticks,
        size_lots,
        post_only=not ioc if post_only is None else post_only,
        immediate_or_cancel=ioc,
    )


def _path_to(state: OrderState) -> list[OrderState]:
    """Legal transitions from PENDING_NEW to `state`: through OPEN, except a rejection."""
    if state is OrderState.PENDING_NEW:
        return []
    if state is OrderState.REJECTED:
        return [state]
    return [OrderState.OPEN] if state is OrderState.OPEN else [OrderState.OPEN, state]


def order(
    of: OrderRequest | None = None,
    *,
    state: OrderState = OrderState.OPEN,
    ts_ns: int = 0,
    filled_lots: int = 0,
    venue_order_id: str | None = None,
) -> Order:
    """Our order for request `of` (default `request()`) in `state`, reached through the state
    machine at `ts_ns`, so its history shows the path."""
    out = Order(of or request(), created_ns=ts_ns)
    for step in _path_to(state):
        out.transition(step, ts_ns)
    out.filled_lots = filled_lots
    out.venue_order_id = venue_order_id
    return out


def fill(
    client_order_id: str | None = None,
    *,
    side: Side = Side.BUY,
    price_ticks: int = PRICE_TICKS,
    size_lots: int = 1,
    fee: Amount = 0,
    fee_asset: str = "USDT",
    is_maker: bool = True,
    ts_ns: int = 0,
    trade_id: str = "1",
    venue_order_id: str = "1",
    venue: str = VENUE,
    symbol: str = SYMBOL,
) -> Fill:
    return Fill(
        venue, symbol, trade_id, venue_order_id, client_order_id or cid(), side, price_ticks, size_lots,
        Decimal(fee), fee_asset, is_maker, ts_ns,
    )  # fmt: skip


def balance(asset: str, free: Amount, locked: Amount = 0) -> Balance:
    return Balance(asset, Decimal(free), Decimal(locked))


def balances(**free: Amount) -> dict[str, Balance]:
    """Free balances by asset, nothing locked: `balances(USDT="1000", BTC=1)`."""
    return {asset: balance(asset, amount) for asset, amount in free.items()}


def book_snapshot(
    bids: Levels = ((PRICE_TICKS - 10, 10),),
    asks: Levels = ((PRICE_TICKS + 10, 10),),
    *,
    venue: str = VENUE,
    symbol: str = SYMBOL,
    ts_ns: int = 0,
    local_ts_ns: int | None = None,
) -> BookSnapshot:
    """Levels as (price_ticks, size_lots), best first; received when made unless `local_ts_ns`."""
    return BookSnapshot(
        venue, symbol, tuple(bids), tuple(asks), ts_ns, ts_ns if local_ts_ns is None else local_ts_ns
    )


def top_of_book(
    bid_ticks: int, ask_ticks: int, size_lots: int = 1, *, venue: str = VENUE, symbol: str = SYMBOL
) -> BookSnapshot:
    """A one-level book: `size_lots` at the bid and at the ask."""
    return book_snapshot(((bid_ticks, size_lots),), ((ask_ticks, size_lots),), venue=venue, symbol=symbol)


def order_update(
    client_order_id: str | None = None,
    state: OrderState = OrderState.OPEN,
    *,
    side: Side = Side.BUY,
    price_ticks: int = PRICE_TICKS,
    size_lots: int = 1,
    filled_lots: int = 0,
    venue_order_id: str | None = "1",
    ts_ns: int = 0,
    reason: str | None = None,
    venue: str = VENUE,
    symbol: str = SYMBOL,
) -> OrderUpdate:
    return OrderUpdate(
        venue, symbol, client_order_id or cid(), venue_order_id, state, side, price_ticks, size_lots,
        filled_lots, ts_ns, reason,
    )  # fmt: skip


def fill_event(the_fill: Fill | None = None, local_ts_ns: int | None = None) -> FillEvent:
    """A fill as the stream delivers it; received when made unless `local_ts_ns`."""
    f = the_fill or fill()
    return FillEvent(f, f.exchange_ts_ns if local_ts_ns is None else local_ts_ns)


def public_trade(
    aggressor: Side = Side.BUY,
    price_ticks: int = PRICE_TICKS,
    size_lots: int = 1,
    *,
    ts_ns: int = 0,
    venue: str = VENUE,
    symbol: str = SYMBOL,
) -> PublicTrade:
    return PublicTrade(venue, symbol, aggressor, price_ticks, size_lots, ts_ns, ts_ns)
