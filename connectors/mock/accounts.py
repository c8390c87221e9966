"""Balances of our accounts on the mock venue: exact Decimal free and locked amounts per asset.

Fees are charged in the quote asset for both sides (a negative maker fee is a rebate). A buy locks
its notional at the limit price plus the worst fee it could pay; a sell locks its base size. Each
order tracks what it still holds locked, so fills and the final release sum to the lock exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from bot.core.domain import Balance, Market, Side

_ZERO = Decimal(0)
_BPS = Decimal(10_000)


class InsufficientFunds(ValueError):
    """Free balance below what an order must lock; nothing was changed."""

    def __init__(self, asset: str, needed: Decimal, free: Decimal) -> None:
        super().__init__(f"insufficient {asset}: need {needed}, free {free}")
        self.asset = asset
        self.needed = needed
        self.free = free


def check_initial_balances(balances: dict[str, Decimal]) -> dict[str, Decimal]:
    """A config's initial balances, unchanged; ValueError naming the first negative one."""
    for asset, amount in balances.items():
        if amount < 0:
            raise ValueError(f"initial balance of {asset} must be >= 0, got {amount}")
    return balances


def lock_fee_rate(market: Market) -> Decimal:
    """Fraction of notional a buy locks on top for fees: the worst of maker and taker, never < 0."""
    return max(market.maker_fee_bps, market.taker_fee_bps, _ZERO) / _BPS


def lock_asset(market: Market, side: Side) -> str:
    return market.quote if side is Side.BUY else market.base


def lock_amount(market: Market, side: Side, price_ticks: int, size_lots: int) -> Decimal:
    """What an order at `price_ticks` (the worst price it may trade at) locks for `size_lots`."""
    if side is Side.SELL:
        return market.size(size_lots)
    return market.notional(price_ticks, size_lots) * (1 + lock_fee_rate(market))


class Account:
    """Free and locked balance per asset of one of our accounts."""

    __slots__ = ("account_id", "free", "locked")

    def __init__(self, account_id: str, balances: Mapping[str, Decimal], assets: Iterable[str] = ()) -> None:
        self.account_id = account_id
        self.free: dict[str, Decimal] = {asset: _ZERO for asset in assets}
        self.locked: dict[str, Decimal] = {asset: _ZERO for asset in assets}
        for asset, amount in balances.items():
            if amount < 0:
                raise ValueError(f"account {account_id}: balance of {asset} must be >= 0, got {amount}")
            self.free[asset] = Decimal(amount)
            self.locked.setdefault(asset, _ZERO)

    def balance(self, asset: str) -> Balance:
        return Balance(asset, self.free.get(asset, _ZERO), self.locked.get(asset, _ZERO))

    def balances(self) -> dict[str, Balance]:
        return {asset: self.balance(asset) for asset in self.free}

    def lock(self, asset: str, amount: Decimal) -> None:
        free = self.free.get(asset, _ZERO)
        if amount > free:
            raise InsufficientFunds(asset, amount, free)
        self.free[asset] = free - amount
        self.locked[asset] = self.locked.get(asset, _ZERO) + amount

    def release(self, asset: str, amount: Decimal) -> None:
        self.locked[asset] -= amount
        self.free[asset] += amount

    def settle_fill(
        self, market: Market, side: Side, price_ticks: int, size_lots: int, fee: Decimal, lock_used: Decimal
    ) -> None:
        """Book one fill: `lock_used` leaves the order's lock, the trade and its fee settle in free."""
        notional = market.notional(price_ticks, size_lots)
        base, quote = market.base, market.quote
        if side is Side.BUY:
            self.locked[quote] -= lock_used
            self.free[quote] += lock_used - notional - fee
            self.free[base] = self.free.get(base, _ZERO) + market.size(size_lots)
            self.locked.setdefault(base, _ZERO)
        else:
            self.locked[base] -= lock_used
            self.free[quote] = self.free.get(quote, _ZERO) + notional - fee
            self.locked.setdefault(quote, _ZERO)
