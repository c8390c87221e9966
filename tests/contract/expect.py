"""What the contract expects, in numbers: order prices against the contract book, exact shapes."""

from __future__ import annotations

from decimal import Decimal

from bot.core.domain import Balance, Fill, OrderState, Side
from bot.core.events import OrderUpdate
from tests.contract.venues import ASKS, BIDS, INITIAL, SYMBOL, expected_market
from tests.kit import stubs

BEST_BID, BEST_ASK = BIDS[0][0], ASKS[0][0]
TOUCH_LOTS = ASKS[0][1]
INSIDE_BID, INSIDE_ASK = 599_800, 600_200
"""Improve the book: alone at the top of their side."""
DEEP_BID, DEEP_ASK = 590_000, 610_000
"""Far from the book: rest untouched."""
NEVER_PLACED = "t1-zz"


def request(seq: int, side: Side, price_ticks: int, size_lots: int, venue: str, *, ioc: bool = False):
    return stubs.request(
        stubs.cid(seq),
        side=side,
        price_ticks=price_ticks,
        size_lots=size_lots,
        venue=venue,
        symbol=SYMBOL,
        ioc=ioc,
    )


def shape(update: OrderUpdate) -> tuple[object, ...]:
    """Everything of an order update but its timestamp and free-text reason."""
    u = update
    return (u.venue, u.symbol, u.client_order_id, u.venue_order_id, u.state, u.side, u.price_ticks,
            u.size_lots, u.filled_lots)  # fmt: skip


def order_shape(
    venue: str, seq: int, venue_order_id: str | None, state: OrderState, side: Side, price_ticks: int,
    size_lots: int, filled_lots: int = 0,
) -> tuple[object, ...]:  # fmt: skip
    return (venue, SYMBOL, stubs.cid(seq), venue_order_id, state, side, price_ticks, size_lots, filled_lots)


def fill_shape(fill: Fill) -> tuple[object, ...]:
    """Everything of a fill but its trade id and timestamp (venues number and stamp their own)."""
    f = fill
    return (f.venue, f.symbol, f.client_order_id, f.venue_order_id, f.side, f.price_ticks, f.size_lots,
            f.fee, f.fee_asset, f.is_maker)  # fmt: skip


def expected_fill(
    venue: str, seq: int, venue_order_id: str | None, side: Side, price_ticks: int, size_lots: int, *,
    is_maker: bool,
) -> tuple[object, ...]:  # fmt: skip
    """A fill charged the market's rate in the quote asset."""
    fee = expected_market(venue).fee(price_ticks, size_lots, is_maker=is_maker)
    return (
        venue,
        SYMBOL,
        stubs.cid(seq),
        venue_order_id,
        side,
        price_ticks,
        size_lots,
        fee,
        "USDT",
        is_maker,
    )


def initial_balances() -> dict[str, Balance]:
    return {asset: Balance(asset, amount) for asset, amount in INITIAL.items()}


def after_trades(*trades: tuple[Side, int, int, Decimal]) -> dict[str, Balance]:
    """The initial balances after (side, price_ticks, size_lots, fee in USDT) trades, nothing locked."""
    market = expected_market("any")
    btc, usdt = INITIAL["BTC"], INITIAL["USDT"]
    for side, price_ticks, size_lots, fee in trades:
        btc += side.sign * market.size(size_lots)
        usdt -= side.sign * market.notional(price_ticks, size_lots) + fee
    return {"BTC": Balance("BTC", btc), "USDT": Balance("USDT", usdt)}


def fee(price_ticks: int, size_lots: int, *, is_maker: bool) -> Decimal:
    return expected_market("any").fee(price_ticks, size_lots, is_maker=is_maker)
