"""The paper account kept across restarts: balances, open and recently closed orders, fills.

A paper venue's orders exist nowhere but in the bot, so what a real exchange would remember is
written to the bot's store (its `control_state` table, one row per venue: `paper:<venue>`, and
`paper:<venue>:fills`) after every change, and read back at connect: a restart continues the same
account, with the same open orders, as a restart against a real exchange would.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from bot.core.domain import Fill, OrderState, Side
from bot.core.events import OrderUpdate
from connectors.mock.accounts import Account

STATE_PREFIX = "paper:"


class KeyedState(Protocol):
    """Small JSON values by name, kept by the bot (bot.kernel.control_store.ControlStore)."""

    def get(self, name: str) -> dict[str, Any] | None: ...

    def put(self, name: str, value: dict[str, Any], ts_ns: int) -> None: ...


@runtime_checkable
class UsesKeyedState(Protocol):
    """A venue whose own state must outlive the process (the bot hands it its store)."""

    def use_keyed_state(self, state: KeyedState) -> None: ...


def account_key(venue: str) -> str:
    return f"{STATE_PREFIX}{venue}"


def fills_key(venue: str) -> str:
    return f"{STATE_PREFIX}{venue}:fills"


def encode_update(u: OrderUpdate) -> dict[str, Any]:
    return {
        "symbol": u.symbol, "cid": u.client_order_id, "oid": u.venue_order_id, "state": u.state.value,
        "side": u.side.value, "price": u.price_ticks, "size": u.size_lots, "filled": u.filled_lots,
        "ts": u.exchange_ts_ns, "reason": u.reason,
    }  # fmt: skip


def decode_update(venue: str, d: dict[str, Any]) -> OrderUpdate:
    return OrderUpdate(
        venue, d["symbol"], d["cid"], d["oid"], OrderState(d["state"]), Side(d["side"]), int(d["price"]),
        int(d["size"]), int(d["filled"]), int(d["ts"]), d["reason"],
    )  # fmt: skip


def encode_fill(f: Fill) -> dict[str, Any]:
    return {
        "symbol": f.symbol, "tid": f.venue_trade_id, "oid": f.venue_order_id, "cid": f.client_order_id,
        "side": f.side.value, "price": f.price_ticks, "size": f.size_lots, "fee": str(f.fee),
        "fee_asset": f.fee_asset, "maker": f.is_maker, "ts": f.exchange_ts_ns,
    }  # fmt: skip


def put_fills(state: KeyedState, venue: str, fills: Iterable[Fill], now_ns: int) -> None:
    state.put(fills_key(venue), {"fills": [encode_fill(f) for f in fills]}, now_ns)


def decode_fill(venue: str, d: dict[str, Any]) -> Fill:
    return Fill(
        venue, d["symbol"], d["tid"], d["oid"], d["cid"], Side(d["side"]), int(d["price"]), int(d["size"]),
        Decimal(d["fee"]), d["fee_asset"], bool(d["maker"]), int(d["ts"]),
    )  # fmt: skip


def encode_account(
    account: Account,
    open_orders: Iterable[OrderUpdate],
    closed: Iterable[OrderUpdate],
    next_ids: dict[str, list[int]],
) -> dict[str, Any]:
    return {
        "balances": {a: [str(account.free[a]), str(account.locked.get(a, Decimal(0)))] for a in account.free},
        "open": [encode_update(u) for u in open_orders],
        "closed": [encode_update(u) for u in closed],
        "next_ids": next_ids,  # symbol -> [next order id, next trade id]
    }


def decode_account(value: dict[str, Any]) -> Account:
    account = Account("main", {})
    for asset, (free, locked) in value["balances"].items():
        account.free[asset] = Decimal(free)
        account.locked[asset] = Decimal(locked)
    return account
