"""`mmbot status`: what the store says, readable while the bot runs or after it stopped."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from bot.core.domain import MarketKey, Side
from bot.kernel.pnl import MarketPnl
from bot.kernel.store import Store
from bot.reports.lp_status import collect_lp_status, format_lp_status
from strategies.xvenue.store import XvenueLedger


def collect_status(store: Store) -> dict[str, Any]:
    """Per market: open orders, and position and PnL from every stored fill of every run.

    The position is the sum of all fills (base fees included), so it equals the venue's base
    balance change since the first run whatever the restarts; PnL is the cash flow of all fills
    marked at the newest stored mid (none before the first snapshot).
    """
    markets: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "open_orders": 0, "fills": 0, "bought": Decimal(0), "sold": Decimal(0),
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
    pnl: dict[str, MarketPnl] = {}
    for fill in store.fills():
        key = f"{fill.venue}:{fill.symbol}"
        m = markets[key]
        m["fills"] += 1
        size = Decimal(fill.size)
        m["bought" if fill.side == Side.BUY.value else "sold"] += size
        if key not in pnl:
            base, _, quote = fill.symbol.partition("/")
            pnl[key] = MarketPnl(base, quote)
        pnl[key].apply_fill(Side(fill.side), Decimal(fill.price), size, Decimal(fill.fee), fill.fee_asset)
    mids = {key: Decimal(snap.mid) for key, snap in store.latest_pnl().items()}
    for key, m in markets.items():
        p = pnl.get(key)
        mid = mids.get(key)
        m["position_base"] = p.position_base if p else Decimal(0)
        m["cash_quote"] = p.cash_quote if p else Decimal(0)
        m["fees"] = p.fees_quote if p else Decimal(0)
        m["volume_quote"] = p.volume_quote if p else Decimal(0)
        m["mid"] = mid
        m["pnl_quote"] = None if mid is None or mid <= 0 else (p.pnl_at(mid) if p else Decimal(0))
    venues = sorted({MarketKey.parse(k).venue for k in markets})
    balances = {v: {a: str(b.total) for a, b in store.balance_snapshot(v).items()} for v in venues}
    return {
        "markets": {
            k: {f: None if v is None else str(v) for f, v in m.items()} for k, m in sorted(markets.items())
        },
        "open_orders": open_orders,
        "balances": balances,
        "lp": collect_lp_status(store),
        "xemm_obligations": [
            {
                "strategy": r.strategy,
                "maker_market": f"{r.maker_venue}:{r.maker_symbol}",
                "side": r.maker_side,
                "size": r.size_base,
                "attempts": r.attempts,
                "open": str(Decimal(r.size_base) - Decimal(r.hedged_base) - Decimal(r.netted_base)),
            }
            for r in XvenueLedger(store).round_trips(status="pending")
        ],
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
            m["position_base"],
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
    if status.get("xemm_obligations"):
        lines.append("open XEMM hedge obligations (maker fills not hedged yet):")
        lines += [
            f"  {o['strategy']} {o['maker_market']} {o['side']} {o['open']} of {o['size']}"
            f" ({o['attempts']} attempts)"
            for o in status["xemm_obligations"]
        ]
    return "\n".join(lines)
