"""`mmbot status`: what the store says, readable while the bot runs or after it stopped."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from bot.core.domain import MarketKey, Side
from bot.kernel.store import Store
from bot.reports.lp_status import collect_lp_status, format_lp_status


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
    venues = sorted({MarketKey.parse(k).venue for k in markets})
    balances = {v: {a: str(b.total) for a, b in store.balance_snapshot(v).items()} for v in venues}
    return {
        "markets": {k: {f: str(v) for f, v in m.items()} for k, m in sorted(markets.items())},
        "open_orders": open_orders,
        "balances": balances,
        "lp": collect_lp_status(store),
    }


def format_status(status: dict[str, Any]) -> str:
    def q(value: str | None) -> str:
        return "-" if value is None else f"{Decimal(value):.4f}"

    header = ("market", "open", "fills", "bought", "sold", "position", "fees", "pnl")
    lines = ["{:<24}{:>5}{:>7}{:>12}{:>12}{:>12}{:>12}{:>12}".format(*header)]
    for key, m in status["markets"].items():
        row = (
            key,
            m["open_orders"],
            m["fills"],
            m["bought"],
            m["sold"],
            m.get("position_base", "-"),
            q(m["fees"]),
            q(m.get("pnl_quote")),
        )
        lines.append("{:<24}{:>5}{:>7}{:>12}{:>12}{:>12}{:>12}{:>12}".format(*row))
    for venue, assets in status["balances"].items():
        lines.append(f"balances {venue}: " + ", ".join(f"{a} {v}" for a, v in sorted(assets.items())))
    lines += format_lp_status(status["lp"])
    if status["open_orders"]:
        lines.append("open orders:")
        lines += [
            f"  {o['client_order_id']} {o['market']} {o['side']} {o['size']} @ {o['price']} ({o['state']})"
            for o in status["open_orders"]
        ]
    return "\n".join(lines)
