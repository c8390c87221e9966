"""`mmbot status`: what the store says, readable while the bot runs or after it stopped."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from bot.domain import Side
from bot.store import Store


def collect_status(store: Store) -> dict[str, Any]:
    markets: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "open_orders": 0, "fills": 0, "bought": Decimal(0), "sold": Decimal(0),
        "fees": Decimal(0), "volume_quote": Decimal(0),
    })  # fmt: skip
    open_orders = []
    for row in store.open_orders():
        key = f"{row.venue}:{row.symbol}"
        markets[key]["open_orders"] += 1
        open_orders.append(
            {
                "client_order_id": row.client_order_id,
                "market": key,
                "side": row.side,
                "price": row.price,
                "size": row.size,
                "state": row.state,
            }
        )
    for fill in store.fills():
        m = markets[f"{fill.venue}:{fill.symbol}"]
        m["fills"] += 1
        size = Decimal(fill.size)
        m["bought" if fill.side == Side.BUY.value else "sold"] += size
        m["fees"] += Decimal(fill.fee)
        m["volume_quote"] += Decimal(fill.price) * size
    for key, snap in store.latest_pnl().items():
        m = markets[key]
        m["position_base"] = snap.position_base
        m["mid"] = snap.mid
        m["pnl_quote"] = snap.pnl_quote
    venues = sorted({k.split(":", 1)[0] for k in markets})
    balances = {v: {a: str(b.total) for a, b in store.balance_snapshot(v).items()} for v in venues}
    return {
        "markets": {k: {f: str(v) for f, v in m.items()} for k, m in sorted(markets.items())},
        "open_orders": open_orders,
        "balances": balances,
    }


def format_status(status: dict[str, Any]) -> str:
    lines = [f"{'market':<24}{'open':>6}{'fills':>7}{'bought':>14}{'sold':>14}{'fees':>14}{'pnl':>14}"]
    for key, m in status["markets"].items():
        lines.append(
            f"{key:<24}{m['open_orders']:>6}{m['fills']:>7}{m['bought']:>14}{m['sold']:>14}"
            f"{m['fees']:>14}{m.get('pnl_quote', '-'):>14}"
        )
    for venue, assets in status["balances"].items():
        lines.append(f"balances {venue}: " + ", ".join(f"{a} {v}" for a, v in sorted(assets.items())))
    if status["open_orders"]:
        lines.append("open orders:")
        lines += [
            f"  {o['client_order_id']} {o['market']} {o['side']} {o['size']} @ {o['price']} ({o['state']})"
            for o in status["open_orders"]
        ]
    return "\n".join(lines)
